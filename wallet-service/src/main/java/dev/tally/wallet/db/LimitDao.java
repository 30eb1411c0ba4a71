package dev.tally.wallet.db;

import static dev.tally.wallet.db.jooq.Tables.LIMITS;
import static dev.tally.wallet.db.jooq.Tables.SPEND;

import dev.tally.common.db.ColumnArrays;
import dev.tally.wallet.db.jooq.tables.records.LimitsRecord;
import dev.tally.wallet.db.jooq.tables.records.SpendRecord;
import dev.tally.wallet.periods.Periods;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import org.jooq.DSLContext;

/** Spending limits and the spend counted in their windows. */
public final class LimitDao {

  /** The limits of several wallets, in one read. */
  public List<LimitsRecord> limitsOf(DSLContext tx, Collection<String> wallets) {
    return tx.selectFrom(LIMITS).where(LIMITS.WALLET.in(wallets)).fetch();
  }

  public List<LimitsRecord> limits(DSLContext tx, String wallet) {
    return tx.selectFrom(LIMITS).where(LIMITS.WALLET.eq(wallet)).orderBy(LIMITS.SUBJECT, LIMITS.PERIOD).fetch();
  }

  public void putLimit(DSLContext tx, String wallet, String subject, String period, long limit,
      List<Integer> alertPercents) {
    Integer[] alerts = alertPercents.toArray(new Integer[0]);
    tx.insertInto(LIMITS).set(LIMITS.WALLET, wallet).set(LIMITS.SUBJECT, subject).set(LIMITS.PERIOD, period)
        .set(LIMITS.LIMIT_NANOS, limit).set(LIMITS.ALERT_PERCENTS, alerts)
        .onConflict(LIMITS.WALLET, LIMITS.SUBJECT, LIMITS.PERIOD).doUpdate()
        .set(LIMITS.LIMIT_NANOS, limit).set(LIMITS.ALERT_PERCENTS, alerts).set(LIMITS.UPDATE_TIME, OffsetDateTime.now())
        .execute();
  }

  public void deleteLimit(DSLContext tx, String wallet, String subject, String period) {
    tx.deleteFrom(LIMITS).where(LIMITS.WALLET.eq(wallet), LIMITS.SUBJECT.eq(subject), LIMITS.PERIOD.eq(period))
        .execute();
  }

  /** One spend increment of a batch. */
  public record SpendIncrement(String wallet, String subject, String period, OffsetDateTime windowStart,
      OffsetDateTime windowEnd, long amount) {
    /** The window of {@code period} containing {@code at} under the wallet's anchor, with no amount. */
    public static SpendIncrement window(String wallet, String subject, String period, Periods periods, Instant at) {
      return new SpendIncrement(wallet, subject, period, periods.windowStart(period, at),
          periods.windowEnd(period, at), 0);
    }

    public SpendIncrement withAmount(long amount) {
      return new SpendIncrement(wallet, subject, period, windowStart, windowEnd, amount);
    }
  }

  /**
   * Adds every increment in one upsert (the keys must be distinct) and returns the windows' new totals with
   * what was notified for them.
   */
  public List<SpendRecord> addSpendAll(DSLContext tx, List<SpendIncrement> increments) {
    return upsertSpend(tx, increments, "spend.spent + excluded.spent");
  }

  /** Sets every window's spend to its increment's amount (recounted from the usage lines), in one upsert. */
  public List<SpendRecord> setSpendAll(DSLContext tx, List<SpendIncrement> windows) {
    return upsertSpend(tx, windows, "excluded.spent");
  }

  private List<SpendRecord> upsertSpend(DSLContext tx, List<SpendIncrement> increments, String newSpent) {
    List<SpendRecord> out = new java.util.ArrayList<>(increments.size());
    if (increments.isEmpty()) {
      return out;
    }
    String[] types = {"text", "text", "text", "timestamptz", "timestamptz", "bigint"};
    tx.connection(c -> {
      try (var ps = c.prepareStatement("insert into spend (wallet, subject, period, window_start, window_end, spent) "
          + "select * from " + ColumnArrays.unnest(types) + " "
          + "on conflict (wallet, subject, period, window_start) do update set spent = " + newSpent + " "
          + "returning wallet, subject, period, window_start, spent, notified_pct")) {
        ColumnArrays.bind(c, ps, types, increments, i -> new Object[] {i.wallet(), i.subject(), i.period(),
            i.windowStart().toString(), i.windowEnd() == null ? null : i.windowEnd().toString(), i.amount()});
        try (var rs = ps.executeQuery()) {
          while (rs.next()) {
            SpendRecord r = new SpendRecord();
            r.setWallet(rs.getString(1));
            r.setSubject(rs.getString(2));
            r.setPeriod(rs.getString(3));
            r.setWindowStart(rs.getObject(4, OffsetDateTime.class));
            r.setSpent(rs.getLong(5));
            r.setNotifiedPct(rs.getInt(6));
            out.add(r);
          }
        }
      }
    });
    return out;
  }

  /** A member's or a key's spend in a window counted under a team default. */
  public record Spent(String subject, long spent) {}

  /**
   * The spend of every member or key counted under the given team defaults' windows (each window's subject is
   * a default: {@code teams/{t}/members/*} or {@code apiKeys/*}), in one read, keyed by the default's
   * {@link #windowKey}.
   */
  public Map<String, List<Spent>> spentUnderDefaults(DSLContext tx, List<SpendIncrement> defaults) {
    Map<String, List<Spent>> out = new java.util.HashMap<>();
    if (defaults.isEmpty()) {
      return out;
    }
    String[] types = {"text", "text", "text", "timestamptz"};
    tx.connection(c -> {
      try (var ps = c.prepareStatement("select u.w, u.d, s.period, s.window_start, s.subject, s.spent from "
          + ColumnArrays.unnest(types) + " as u(w, d, p, ws) join spend s on s.wallet = u.w and s.period = u.p "
          + "and s.window_start = u.ws and left(s.subject, length(u.d) - 1) = left(u.d, length(u.d) - 1) "
          + "and s.subject <> u.d")) {
        ColumnArrays.bind(c, ps, types, defaults, d -> new Object[] {d.wallet(), d.subject(), d.period(),
            d.windowStart().toString()});
        try (var rs = ps.executeQuery()) {
          while (rs.next()) {
            out.computeIfAbsent(windowKey(rs.getString(1), rs.getString(2), rs.getString(3),
                rs.getObject(4, OffsetDateTime.class)), k -> new java.util.ArrayList<>())
                .add(new Spent(rs.getString(5), rs.getLong(6)));
          }
        }
      }
    });
    return out;
  }

  /** The key of a spend window in {@link #spentAll}'s answer. */
  public static String windowKey(String wallet, String subject, String period, OffsetDateTime windowStart) {
    return wallet + "|" + subject + "|" + period + "|" + windowStart.toInstant();
  }

  /** Spend of many windows in one read (the increments' amounts are ignored), keyed by {@link #windowKey}. */
  public Map<String, Long> spentAll(DSLContext tx, List<SpendIncrement> windows) {
    Map<String, Long> out = new java.util.HashMap<>();
    tx.connection(c -> {
      try (var ps = c.prepareStatement("select s.wallet, s.subject, s.period, s.window_start, s.spent from spend s "
          + "join unnest(?::text[], ?::text[], ?::text[], ?::timestamptz[]) as u(w, sub, p, ws) "
          + "on s.wallet = u.w and s.subject = u.sub and s.period = u.p and s.window_start = u.ws")) {
        ps.setArray(1, c.createArrayOf("text", windows.stream().map(SpendIncrement::wallet).toArray()));
        ps.setArray(2, c.createArrayOf("text", windows.stream().map(SpendIncrement::subject).toArray()));
        ps.setArray(3, c.createArrayOf("text", windows.stream().map(SpendIncrement::period).toArray()));
        ps.setArray(4, c.createArrayOf("timestamptz", windows.stream().map(i -> i.windowStart().toString()).toArray()));
        try (var rs = ps.executeQuery()) {
          while (rs.next()) {
            out.put(windowKey(rs.getString(1), rs.getString(2), rs.getString(3),
                rs.getObject(4, OffsetDateTime.class)), rs.getLong(5));
          }
        }
      }
    });
    return out;
  }

  public void setNotifiedPct(DSLContext tx, SpendRecord spend, int pct) {
    tx.update(SPEND).set(SPEND.NOTIFIED_PCT, pct).where(SPEND.WALLET.eq(spend.getWallet()),
        SPEND.SUBJECT.eq(spend.getSubject()), SPEND.PERIOD.eq(spend.getPeriod()),
        SPEND.WINDOW_START.eq(spend.getWindowStart())).execute();
  }
}
