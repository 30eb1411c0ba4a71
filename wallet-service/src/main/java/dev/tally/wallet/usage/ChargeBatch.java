package dev.tally.wallet.usage;

import dev.tally.common.admission.AdmissionRules;
import dev.tally.wallet.db.GrantDao;
import dev.tally.wallet.db.LimitDao;
import dev.tally.wallet.db.jooq.tables.records.GrantsRecord;
import dev.tally.wallet.db.jooq.tables.records.LimitsRecord;
import dev.tally.wallet.db.jooq.tables.records.SpendRecord;
import dev.tally.wallet.events.WalletEvents;
import dev.tally.wallet.periods.Periods;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.Collection;
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
  /** The alert percentages of a limit set without its own. */
  public static final List<Integer> DEFAULT_ALERTS = List.of(50, 80, 100);

  private record Key(String wallet, String subject, String period, OffsetDateTime windowStart,
      OffsetDateTime windowEnd) implements Comparable<Key> {
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
  private final GrantDao grantRows = new GrantDao();
  private final LimitDao limitRows = new LimitDao();

  /**
   * The highest of a limit's alert percentages that {@code spent} reaches of {@code limit}, or 0: the one
   * home of the rule, for crossing (here) and resolving (a raised or cleared limit).
   */
  public static int highestCrossed(long spent, long limit, List<Integer> alertPercents) {
    if (limit <= 0) {
      return 0;
    }
    long pct = java.math.BigInteger.valueOf(spent).multiply(java.math.BigInteger.valueOf(100))
        .divide(java.math.BigInteger.valueOf(limit)).min(java.math.BigInteger.valueOf(1_000)).longValue();
    int highest = 0;
    for (int t : alertPercents) {
      if (pct >= t && t > highest) {
        highest = t;
      }
    }
    return highest;
  }

  /** Seeds the grants of many wallets from one read (in spending order per wallet). */
  public void preloadGrants(Collection<String> wallets, List<GrantsRecord> live) {
    wallets.forEach(w -> grants.put(w, new java.util.ArrayList<>()));
    live.forEach(g -> grants.get(g.getWallet()).add(g));
  }

  /** The wallet's live grants in spending order, read once per batch; update through {@link #draw}. */
  public List<GrantsRecord> grants(String wallet, Supplier<List<GrantsRecord>> load) {
    return grants.computeIfAbsent(wallet, w -> load.get());
  }

  /** Takes {@code amount} from a grant of this batch's cache. */
  public void draw(GrantsRecord grant, long amount) {
    grant.setRemaining(grant.getRemaining() - amount);
    drawn.put(grant.getId(), grant);
  }

  /** Adds {@code amount} for each subject of the charge in every period, in the wallet's windows. */
  public void add(String wallet, Periods periods, List<String> subjects, Instant occurredAt, long amount) {
    if (amount == 0) {
      return;
    }
    for (String subject : subjects) {
      for (String period : Periods.ALL) {
        increments.merge(new Key(wallet, subject, period, periods.windowStart(period, occurredAt),
            periods.windowEnd(period, occurredAt)), amount, Long::sum);
      }
    }
  }

  /**
   * Writes the batch with a fixed number of statements: the drawn lots' remaining credit, every spend
   * increment in one upsert, the limits of the touched wallets in one read; then notifies thresholds crossed.
   */
  public void flush(DSLContext tx, WalletEvents events) {
    Map<String, Long> remaining = new TreeMap<>();
    drawn.values().forEach(g -> remaining.put(g.getId(), g.getRemaining()));
    grantRows.setRemainingAll(tx, remaining);
    drawn.clear();
    grants.clear();
    if (increments.isEmpty()) {
      return;
    }
    Map<String, LimitsRecord> limits = new HashMap<>();
    for (LimitsRecord l : limitRows.limitsOf(tx, increments.keySet().stream().map(Key::wallet)
        .collect(java.util.stream.Collectors.toSet()))) {
      limits.put(l.getWallet() + "|" + l.getSubject() + "|" + l.getPeriod(), l);
    }
    // Only windows something reads: a limit's (a member's or key's under a team default too), and the
    // wallet's month (its period spend). A limit set later starts from the usage lines (WalletManager), so no
    // row is kept that nobody reads.
    List<LimitDao.SpendIncrement> adds = new java.util.ArrayList<>(increments.size());
    increments.forEach((k, v) -> {
      boolean walletMonth = k.subject().equals(k.wallet()) && k.period().equals("month");
      if (walletMonth || limitOf(limits, k.wallet(), k.subject(), k.period()) != null) {
        adds.add(new LimitDao.SpendIncrement(k.wallet(), k.subject(), k.period(), k.windowStart(), k.windowEnd(), v));
      }
    });
    increments.clear();
    for (SpendRecord row : limitRows.addSpendAll(tx, adds)) {
      LimitsRecord limit = limitOf(limits, row.getWallet(), row.getSubject(), row.getPeriod());
      if (limit == null) {
        continue;
      }
      int crossed = highestCrossed(row.getSpent(), limit.getLimitNanos(), List.of(limit.getAlertPercents()));
      if (crossed > row.getNotifiedPct()) {
        events.thresholdCrossed(tx, row.getWallet(), row.getSubject(), row.getPeriod(), crossed,
            limit.getLimitNanos(), row.getSpent());
        limitRows.setNotifiedPct(tx, row, crossed);
      }
    }
  }

  /** The limit a subject's window counts against: its own, else its team's default for its kind. */
  private static LimitsRecord limitOf(Map<String, LimitsRecord> limits, String wallet, String subject, String period) {
    LimitsRecord own = limits.get(wallet + "|" + subject + "|" + period);
    if (own != null) {
      return own;
    }
    String fallback = AdmissionRules.defaultOf(subject);
    return fallback == null ? null : limits.get(wallet + "|" + fallback + "|" + period);
  }
}
