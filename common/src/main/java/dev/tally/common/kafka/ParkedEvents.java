package dev.tally.common.kafka;

import static dev.tally.common.db.jooq.Tables.PARKED_EVENTS;

import dev.tally.common.db.jooq.tables.records.ParkedEventsRecord;
import dev.tally.common.error.ErrorMapper;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Optional;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.jooq.DSLContext;

/** Storage of parked records (see {@code V0_4__parked_events.sql}); shared by every service's consumers. */
public final class ParkedEvents {
  private static final int MAX_ERROR_CHARS = 2_000;

  private ParkedEvents() {}

  static void park(DSLContext tx, String group, ConsumerRecord<String, byte[]> r, String error) {
    tx.insertInto(PARKED_EVENTS)
        .set(PARKED_EVENTS.CONSUMER_GROUP, group).set(PARKED_EVENTS.TOPIC, r.topic())
        .set(PARKED_EVENTS.PARTITION_ID, r.partition()).set(PARKED_EVENTS.RECORD_OFFSET, r.offset())
        .set(PARKED_EVENTS.RECORD_KEY, storable(r.key() == null ? "" : r.key(), 500))
        .set(PARKED_EVENTS.PAYLOAD, r.value() == null ? new byte[0] : r.value())
        .set(PARKED_EVENTS.ERROR, storable(error, MAX_ERROR_CHARS))
        .onConflict(PARKED_EVENTS.CONSUMER_GROUP, PARKED_EVENTS.TOPIC, PARKED_EVENTS.PARTITION_ID,
            PARKED_EVENTS.RECORD_OFFSET)
        .doUpdate().set(PARKED_EVENTS.ATTEMPTS, PARKED_EVENTS.ATTEMPTS.plus(1))
        .set(PARKED_EVENTS.ERROR, storable(error, MAX_ERROR_CHARS)).set(PARKED_EVENTS.STATE, "parked")
        .execute();
  }

  /** Parked records of {@code group} after id {@code afterId}, oldest first; {@code openOnly} hides replayed. */
  public static List<ParkedEventsRecord> list(DSLContext tx, String group, boolean openOnly, long afterId, int limit) {
    var where = PARKED_EVENTS.CONSUMER_GROUP.eq(group).and(PARKED_EVENTS.ID.gt(afterId));
    if (openOnly) {
      where = where.and(PARKED_EVENTS.STATE.eq("parked"));
    }
    return tx.selectFrom(PARKED_EVENTS).where(where).orderBy(PARKED_EVENTS.ID).limit(limit).fetch();
  }

  /** Open parked records of {@code group} keyed by {@code key}. */
  public static List<ParkedEventsRecord> openByKey(DSLContext tx, String group, String key) {
    return tx.selectFrom(PARKED_EVENTS).where(PARKED_EVENTS.CONSUMER_GROUP.eq(group),
        PARKED_EVENTS.RECORD_KEY.eq(key), PARKED_EVENTS.STATE.eq("parked")).orderBy(PARKED_EVENTS.ID).fetch();
  }

  static Optional<ParkedEventsRecord> lockOpen(DSLContext tx, String group, long id) {
    return tx.selectFrom(PARKED_EVENTS).where(PARKED_EVENTS.ID.eq(id), PARKED_EVENTS.CONSUMER_GROUP.eq(group),
        PARKED_EVENTS.STATE.eq("parked")).forUpdate().fetchOptional();
  }

  static void markReplayed(DSLContext tx, long id) {
    tx.update(PARKED_EVENTS).set(PARKED_EVENTS.STATE, "replayed")
        .set(PARKED_EVENTS.REPLAY_TIME, OffsetDateTime.now()).where(PARKED_EVENTS.ID.eq(id)).execute();
  }

  static void recordFailedReplay(DSLContext tx, long id, String error) {
    tx.update(PARKED_EVENTS).set(PARKED_EVENTS.ATTEMPTS, PARKED_EVENTS.ATTEMPTS.plus(1))
        .set(PARKED_EVENTS.ERROR, storable(error, MAX_ERROR_CHARS)).where(PARKED_EVENTS.ID.eq(id)).execute();
  }

  static ConsumerRecord<String, byte[]> toRecord(ParkedEventsRecord p) {
    return new ConsumerRecord<>(p.getTopic(), p.getPartitionId(), p.getRecordOffset(), p.getRecordKey(),
        p.getPayload());
  }

  /** PostgreSQL text holds no NUL: replaced, and the length bounded. */
  private static String storable(String s, int max) {
    return ErrorMapper.clip(s.replace('\0', '\uFFFD'), max);
  }
}
