package dev.tally.metering.discounts;

import static dev.tally.metering.db.jooq.Tables.DISCOUNTS;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.tally.common.db.Database;
import dev.tally.common.kafka.TransactionalConsumer;
import dev.tally.proto.events.v1.WalletEvent;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.jooq.DSLContext;

/**
 * Team discounts as the wallet publishes them (its state events on wallet.v1 carry the discount and a
 * version per wallet), so usage is priced net once, when it is recorded: the event carries the discount,
 * the wallet debits exactly that and the rollups count exactly that. A change applies to usage recorded
 * after it reaches metering (the consumer's lag, typically well under a second; on the other replicas at most
 * {@link #SHARED_STALENESS} later).
 */
public final class Discounts {
  /** How long a replica prices with a discount it read when another replica's consumer changed it. */
  public static final Duration SHARED_STALENESS = Duration.ofSeconds(1);

  /** A cached discount: an account's basis points as read in a generation of this replica's changes. */
  private record Cached(String account, long generation) {}

  /**
   * Discounts for pricing, read at most {@link #SHARED_STALENESS} ago and keyed by the generation of this
   * replica's discount changes, so a change this replica's consumer commits applies to the next call and a
   * read begun before it is never served after it. (A query per RecordUsage was a twentieth of its time.)
   */
  private final Cache<Cached, Integer> recent = Caffeine.newBuilder().maximumSize(100_000)
      .expireAfterWrite(SHARED_STALENESS).build();
  private final AtomicLong generation = new AtomicLong();

  /** Starts a generation after each commit of {@code db} that changed a discount. */
  public Discounts newGenerationOnChanges(Database db) {
    db.afterCommitOf(this, generation::incrementAndGet);
    return this;
  }

  /** Keeps the newest discount of each wallet in a batch of wallet.v1 events (older versions lose). */
  public void apply(DSLContext tx, List<ConsumerRecord<String, byte[]>> records) {
    Map<String, WalletEvent> newest = new TreeMap<>();
    for (ConsumerRecord<String, byte[]> r : records) {
      WalletEvent e = TransactionalConsumer.parse(r, WalletEvent.parser(), "wallet");
      if (!e.hasStateChanged()) {
        continue;
      }
      WalletEvent held = newest.get(e.getWallet());
      if (held == null || held.getStateChanged().getVersion() < e.getStateChanged().getVersion()) {
        newest.put(e.getWallet(), e);
      }
    }
    if (newest.isEmpty()) {
      return;
    }
    Map<String, Integer> before = of(tx, newest.keySet());
    for (WalletEvent e : newest.values()) {
      if (before.getOrDefault(e.getWallet(), 0) != e.getStateChanged().getDiscountBasisPoints()) {
        // Now and after the commit: a call in between caches what it read under this generation, not the next.
        generation.incrementAndGet();
        Database.mark(this);
      }
      tx.insertInto(DISCOUNTS).set(DISCOUNTS.BILLING_ACCOUNT, e.getWallet())
          .set(DISCOUNTS.BASIS_POINTS, e.getStateChanged().getDiscountBasisPoints())
          .set(DISCOUNTS.VERSION, e.getStateChanged().getVersion())
          .onConflict(DISCOUNTS.BILLING_ACCOUNT).doUpdate()
          .set(DISCOUNTS.BASIS_POINTS, e.getStateChanged().getDiscountBasisPoints())
          .set(DISCOUNTS.VERSION, e.getStateChanged().getVersion())
          .where(DISCOUNTS.VERSION.lt(e.getStateChanged().getVersion()))
          .execute();
    }
  }

  /** The discounts (basis points, 0 for none) of {@code accounts} for pricing, from the cache where it has them. */
  public Map<String, Integer> recent(DSLContext dsl, Collection<String> accounts) {
    long g = generation.get();
    Map<String, Integer> out = new HashMap<>();
    List<String> missing = new java.util.ArrayList<>();
    for (String a : accounts) {
      Integer bps = recent.getIfPresent(new Cached(a, g));
      if (bps == null) {
        missing.add(a);
      } else {
        out.put(a, bps);
      }
    }
    if (!missing.isEmpty()) {
      Map<String, Integer> read = of(dsl, missing);
      for (String a : missing) {
        int bps = read.getOrDefault(a, 0);
        recent.put(new Cached(a, g), bps);
        out.put(a, bps);
      }
    }
    return out;
  }

  /** The discounts (basis points) of {@code accounts} that have one, in one read. */
  public Map<String, Integer> of(DSLContext tx, Collection<String> accounts) {
    Map<String, Integer> out = new HashMap<>();
    tx.select(DISCOUNTS.BILLING_ACCOUNT, DISCOUNTS.BASIS_POINTS).from(DISCOUNTS)
        .where(DISCOUNTS.BILLING_ACCOUNT.in(accounts)).forEach(r -> out.put(r.value1(), r.value2()));
    return out;
  }
}
