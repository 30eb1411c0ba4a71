package dev.tally.identity.audit;

import dev.tally.common.grpc.ProtoTime;
import dev.tally.common.kafka.TransactionalConsumer;
import dev.tally.proto.events.v1.AuditEvent;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import dev.tally.identity.db.AuditDao;
import dev.tally.identity.db.jooq.tables.records.AuditEventsRecord;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.jooq.DSLContext;
import org.jooq.JSONB;

/**
 * Keeps the other services' administrative actions ({@code audit.v1}) in the one audit log, once per event
 * id however often a record is delivered, so ListAuditEvents answers for the whole suite.
 */
public final class AuditIntake implements TransactionalConsumer.BatchHandler {
  private final AuditDao dao;

  public AuditIntake(AuditDao dao) {
    this.dao = dao;
  }

  @Override
  public void apply(DSLContext tx, List<ConsumerRecord<String, byte[]>> records) {
    List<AuditEventsRecord> rows = new ArrayList<>(records.size());
    for (ConsumerRecord<String, byte[]> r : records) {
      AuditEvent e = TransactionalConsumer.parse(r, AuditEvent.parser(), "audit");
      AuditEventsRecord row = new AuditEventsRecord();
      row.setId(e.getEventId());
      row.setScope(e.getScope());
      row.setActorUser(e.getActorUser());
      row.setActorTeam(e.getActorTeam());
      row.setActorKey(e.getActorKey());
      row.setAction(e.getAction());
      row.setTarget(e.getTarget());
      row.setRequestId(e.getRequestId());
      row.setDetails(JSONB.valueOf(AuditLog.toJson(e.getDetailsMap())));
      row.setCreateTime(OffsetDateTime.ofInstant(ProtoTime.instant(e.getOccurTime()), ZoneOffset.UTC));
      rows.add(row);
    }
    dao.insertIfAbsent(tx, rows);
  }
}
