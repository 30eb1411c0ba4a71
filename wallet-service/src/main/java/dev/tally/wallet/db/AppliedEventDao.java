package dev.tally.wallet.db;

import static dev.tally.wallet.db.jooq.Tables.APPLIED_EVENTS;

import java.util.Arrays;
import org.jooq.DSLContext;

/** Keys of Kafka events already applied, written in the same transaction as their effects. */
public final class AppliedEventDao {

  /** Outcome of claiming an event key. */
  public enum Claim { NEW, DUPLICATE, CONFLICT }

  /**
   * Claims {@code key} in the caller's transaction: NEW the first time, DUPLICATE for the same payload
   * again, CONFLICT for the same key with another payload (never applied).
   */
  public Claim claim(DSLContext tx, String source, String key, byte[] payloadHash) {
    int inserted = tx.insertInto(APPLIED_EVENTS).set(APPLIED_EVENTS.SOURCE, source)
        .set(APPLIED_EVENTS.EVENT_KEY, key).set(APPLIED_EVENTS.PAYLOAD_HASH, payloadHash)
        .onConflictDoNothing().execute();
    if (inserted == 1) {
      return Claim.NEW;
    }
    byte[] existing = tx.select(APPLIED_EVENTS.PAYLOAD_HASH).from(APPLIED_EVENTS)
        .where(APPLIED_EVENTS.SOURCE.eq(source), APPLIED_EVENTS.EVENT_KEY.eq(key)).fetchOne(APPLIED_EVENTS.PAYLOAD_HASH);
    return Arrays.equals(existing, payloadHash) ? Claim.DUPLICATE : Claim.CONFLICT;
  }
}
