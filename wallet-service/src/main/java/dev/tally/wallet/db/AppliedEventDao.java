package dev.tally.wallet.db;

import static dev.tally.wallet.db.jooq.Tables.APPLIED_EVENTS;

import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
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

  /**
   * Claims many keys with one insert (and one read for those already there). A key repeated within
   * {@code hashes} cannot occur: the map holds each once.
   */
  public Map<String, Claim> claimAll(DSLContext tx, String source, Map<String, byte[]> hashes) {
    Map<String, Claim> out = new LinkedHashMap<>();
    if (hashes.isEmpty()) {
      return out;
    }
    // One statement from arrays whatever the batch size (no per-row SQL rendering).
    Set<String> inserted = new java.util.HashSet<>();
    tx.connection(c -> {
      try (var ps = c.prepareStatement("insert into applied_events (source, event_key, payload_hash) "
          + "select ?, k, h from unnest(?::text[], ?::bytea[]) as u(k, h) on conflict do nothing returning event_key")) {
        ps.setString(1, source);
        ps.setArray(2, c.createArrayOf("text", hashes.keySet().toArray()));
        ps.setArray(3, c.createArrayOf("bytea", hashes.values().toArray(new byte[0][])));
        try (var rs = ps.executeQuery()) {
          while (rs.next()) {
            inserted.add(rs.getString(1));
          }
        }
      }
    });
    Map<String, byte[]> existing = new HashMap<>();
    if (inserted.size() < hashes.size()) {
      tx.select(APPLIED_EVENTS.EVENT_KEY, APPLIED_EVENTS.PAYLOAD_HASH).from(APPLIED_EVENTS)
          .where(APPLIED_EVENTS.SOURCE.eq(source), APPLIED_EVENTS.EVENT_KEY.in(hashes.keySet()))
          .forEach(r -> existing.put(r.value1(), r.value2()));
    }
    hashes.forEach((k, h) -> out.put(k, inserted.contains(k) ? Claim.NEW
        : Arrays.equals(existing.get(k), h) ? Claim.DUPLICATE : Claim.CONFLICT));
    return out;
  }
}
