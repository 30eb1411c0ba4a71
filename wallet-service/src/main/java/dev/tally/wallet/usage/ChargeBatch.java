package dev.tally.wallet.usage;

import dev.tally.wallet.db.WalletDao;
import dev.tally.wallet.db.jooq.tables.records.GrantsRecord;
import dev.tally.wallet.db.jooq.tables.records.LimitsRecord;
import dev.tally.wallet.db.jooq.tables.records.SpendRecord;
import dev.tally.wallet.events.WalletEvents;
import dev.tally.wallet.periods.Periods;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;
import org.jooq.DSLContext;

/**
 * What a batch of charges changes besides the ledger, kept in memory and written once per batch: spend
 * increments summed per (wallet, subject, period, window), with each limit or quota whose spend crossed 50,
 * 80 or 100 % notified once per window (spend counts in the window of the usage's occurred_at); and the
 * remaining amounts of the credit grants the charges drew from (each wallet's live grants read once).
 */
public final class ChargeBatch {
  private static final int[] THRESHOLDS = {100, 80, 50};

  private record Key(String wallet, String subject, String period, OffsetDateTime windowStart)
      implements Comparable<Key> {
    @Override
    public int compareTo(Key o) {
      int c = wallet.compareTo(o.wallet);
      if (c == 0) c = subject.compareTo(o.subject);
      if (c == 0) c = period.compareTo(o.period);
      if (c == 0) c = windowStart.compareTo(o.windowStart);
      return c;
    }
  }

  private final Map<Key, Long> increments = new TreeMap<>();
  private final Map<String, List<GrantsRecord>> grants = new HashMap<>();
  private final Map<String, GrantsRecord> drawn = new TreeMap<>();

  /** The wallet's live grants in spending order, read once per batch; update through {@link #draw}. */
  public List<GrantsRecord> grants(String wallet, Supplier<List<GrantsRecord>> load) {
    return grants.computeIfAbsent(wallet, w -> load.get());
  }

  /** Takes {@code amount} from a grant of this batch's cache. */
  public void draw(GrantsRecord grant, long amount) {
    grant.setRemaining(grant.getRemaining() - amount);
    drawn.put(grant.getId(), grant);
  }

  /** Adds {@code amount} for each subject of the charge in every period. */
  public void add(String wallet, List<String> subjects, Instant occurredAt, long amount) {
    if (amount == 0) {
      return;
    }
    for (String subject : subjects) {
      for (String period : Periods.ALL) {
        increments.merge(new Key(wallet, subject, period, Periods.windowStart(period, occurredAt)), amount,
            Long::sum);
      }
    }
  }

  public void flush(DSLContext tx, WalletDao wallets, WalletEvents events) {
    for (GrantsRecord g : drawn.values()) {
      wallets.setRemaining(tx, g.getId(), g.getRemaining());
    }
    drawn.clear();
    grants.clear();
    Map<String, Map<String, Long>> limitsByWallet = new HashMap<>();
    for (Map.Entry<Key, Long> e : increments.entrySet()) {
      Key k = e.getKey();
      SpendRecord row = wallets.addSpend(tx, k.wallet(), k.subject(), k.period(), k.windowStart(), e.getValue());
      Long limit = limitsByWallet.computeIfAbsent(k.wallet(), w -> limits(tx, wallets, w))
          .get(k.subject() + "|" + k.period());
      if (limit == null || limit <= 0) {
        continue;
      }
      long pct = row.getSpent() * 100 / limit;
      for (int t : THRESHOLDS) {
        if (pct >= t) {
          if (row.getNotifiedPct() < t) {
            events.thresholdCrossed(tx, k.wallet(), k.subject(), k.period(), t, limit, row.getSpent());
            wallets.setNotifiedPct(tx, row, t);
          }
          break;
        }
      }
    }
    increments.clear();
  }

  private static Map<String, Long> limits(DSLContext tx, WalletDao wallets, String wallet) {
    Map<String, Long> m = new HashMap<>();
    for (LimitsRecord l : wallets.limits(tx, wallet)) {
      m.put(l.getSubject() + "|" + l.getPeriod(), l.getLimitNanos());
    }
    return m;
  }
}
