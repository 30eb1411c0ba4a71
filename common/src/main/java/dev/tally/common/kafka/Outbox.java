package dev.tally.common.kafka;

import static dev.tally.common.db.jooq.Tables.OUTBOX;

import com.google.protobuf.Message;
import org.jooq.DSLContext;

/** Appends events to the transactional outbox of the current transaction; {@link OutboxRelay} ships them. */
public final class Outbox {
  private Outbox() {}

  public static void append(DSLContext tx, String topic, String key, Message event) {
    tx.insertInto(OUTBOX)
        .set(OUTBOX.TOPIC, topic)
        .set(OUTBOX.RECORD_KEY, key)
        .set(OUTBOX.PAYLOAD, event.toByteArray())
        .execute();
  }
}
