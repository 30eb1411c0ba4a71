package dev.tally.common.kafka;

import static dev.tally.common.db.jooq.Tables.OUTBOX;

import com.google.protobuf.Message;
import dev.tally.common.db.Database;
import org.jooq.DSLContext;

/** Appends events to the transactional outbox of the current transaction; {@link OutboxRelay} ships them. */
public final class Outbox {
  private Outbox() {}

  /** One event to append. */
  public record Entry(String topic, String key, Message event) {}

  /** Appends many events with one statement, in order. */
  public static void appendAll(DSLContext tx, java.util.List<Entry> entries) {
    if (entries.isEmpty()) {
      return;
    }
    var insert = tx.insertInto(OUTBOX, OUTBOX.TOPIC, OUTBOX.RECORD_KEY, OUTBOX.PAYLOAD);
    for (Entry e : entries) {
      insert = insert.values(e.topic(), e.key(), e.event().toByteArray());
    }
    insert.execute();
    Database.mark(Outbox.class); // its commit wakes the relay (see OutboxRelay#wakeOnAppends)
  }

  public static void append(DSLContext tx, String topic, String key, Message event) {
    tx.insertInto(OUTBOX)
        .set(OUTBOX.TOPIC, topic)
        .set(OUTBOX.RECORD_KEY, key)
        .set(OUTBOX.PAYLOAD, event.toByteArray())
        .execute();
    Database.mark(Outbox.class); // its commit wakes the relay (see OutboxRelay#wakeOnAppends)
  }
}
