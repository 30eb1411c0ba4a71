package dev.tally.identity.db;

import static dev.tally.identity.db.jooq.Tables.AUDIT_EVENTS;

import dev.tally.identity.db.jooq.tables.records.AuditEventsRecord;
import java.time.OffsetDateTime;
import java.util.Collection;
import java.util.List;
import org.jooq.Condition;
import org.jooq.DSLContext;
import org.jooq.impl.DSL;

/** The append-only audit log. */
public final class AuditDao {

  public void insert(DSLContext tx, AuditEventsRecord event) {
    tx.insertInto(AUDIT_EVENTS).set(event).execute();
  }

  /** Inserts the events whose id is new (a redelivered event changes nothing). */
  public void insertIfAbsent(DSLContext tx, java.util.List<AuditEventsRecord> events) {
    if (events.isEmpty()) {
      return;
    }
    var insert = tx.insertInto(AUDIT_EVENTS).set(events.getFirst());
    for (AuditEventsRecord e : events.subList(1, events.size())) {
      insert = insert.newRecord().set(e);
    }
    insert.onConflictDoNothing().execute();
  }

  /** A scope's events, oldest first, read as they are consumed (for exports of any size). */
  public org.jooq.Cursor<AuditEventsRecord> oldestFirst(DSLContext tx, String scope, Collection<String> actions,
      OffsetDateTime start, OffsetDateTime end) {
    return tx.selectFrom(AUDIT_EVENTS).where(filter(scope, actions, start, end)).orderBy(AUDIT_EVENTS.ID)
        .fetchSize(500).fetchLazy();
  }

  public List<AuditEventsRecord> list(DSLContext tx, String scope, Collection<String> actions,
      OffsetDateTime start, OffsetDateTime end, String beforeId, int limit) {
    Condition c = filter(scope, actions, start, end);
    Condition before = beforeId == null ? DSL.noCondition() : AUDIT_EVENTS.ID.lt(beforeId);
    return tx.selectFrom(AUDIT_EVENTS).where(c, before).orderBy(AUDIT_EVENTS.ID.desc()).limit(limit).fetch();
  }

  private static Condition filter(String scope, Collection<String> actions, OffsetDateTime start,
      OffsetDateTime end) {
    Condition c = AUDIT_EVENTS.SCOPE.eq(scope);
    if (!actions.isEmpty()) {
      c = c.and(AUDIT_EVENTS.ACTION.in(actions));
    }
    if (start != null) {
      c = c.and(AUDIT_EVENTS.CREATE_TIME.ge(start));
    }
    if (end != null) {
      c = c.and(AUDIT_EVENTS.CREATE_TIME.lt(end));
    }
    return c;
  }
}
