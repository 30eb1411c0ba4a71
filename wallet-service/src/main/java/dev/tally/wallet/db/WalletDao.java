package dev.tally.wallet.db;

import static dev.tally.wallet.db.jooq.Tables.GRANTS;
import static dev.tally.wallet.db.jooq.Tables.HOLDS;
import static dev.tally.wallet.db.jooq.Tables.LIMITS;
import static dev.tally.wallet.db.jooq.Tables.SPEND;
import static dev.tally.wallet.db.jooq.Tables.WALLETS;

import dev.tally.common.db.ColumnArrays;
import dev.tally.wallet.db.jooq.tables.records.GrantsRecord;
import dev.tally.wallet.db.jooq.tables.records.HoldsRecord;
import dev.tally.wallet.db.jooq.tables.records.LimitsRecord;
import dev.tally.wallet.db.jooq.tables.records.SpendRecord;
import dev.tally.wallet.db.jooq.tables.records.WalletsRecord;
import dev.tally.wallet.periods.Periods;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jooq.DSLContext;
import org.jooq.impl.DSL;

/** Wallets and what hangs off them: limits, spend windows, credit grants, holds. */
public final class WalletDao {

  /** Creates the wallets that do not exist yet, in one statement. */
  public void insertAllIfAbsent(DSLContext tx, List<String> names, List<String> owners, String currency,
      long suspendThreshold) {
    tx.connection(c -> {
      try (var ps = c.prepareStatement("insert into wallets (name, owner, currency_code, suspend_threshold) "
          + "select n, o, ?, ? from unnest(?::text[], ?::text[]) as u(n, o) "
          + "where not exists (select 1 from wallets w where w.name = u.n) order by n on conflict do nothing")) {
        ps.setString(1, currency);
        ps.setLong(2, suspendThreshold);
        ps.setArray(3, c.createArrayOf("text", names.toArray()));
        ps.setArray(4, c.createArrayOf("text", owners.toArray()));
        ps.executeUpdate();
      }
    });
  }

  public Optional<WalletsRecord> get(DSLContext tx, String name) {
    return tx.selectFrom(WALLETS).where(WALLETS.NAME.eq(name)).fetchOptional();
  }

  /** Locks the wallet row: every money change of a wallet holds this lock. */
  public Optional<WalletsRecord> lock(DSLContext tx, String name) {
    return tx.selectFrom(WALLETS).where(WALLETS.NAME.eq(name)).forUpdate().fetchOptional();
  }

  /** Locks several wallets in name order (one order for every caller: no deadlocks). */
  public List<WalletsRecord> lockAll(DSLContext tx, Collection<String> names) {
    // Plain JDBC with one array parameter: the same prepared statement whatever the number of wallets, and
    // no query rendered per call (jOOQ's rendering and mapping of this row were a tenth of a reservation's CPU).
    List<WalletsRecord> out = new java.util.ArrayList<>(names.size());
    tx.connection(c -> {
      try (var ps = c.prepareStatement(LOCK_ALL)) {
        ps.setArray(1, c.createArrayOf("text", names.toArray()));
        try (var rs = ps.executeQuery()) {
          while (rs.next()) {
            out.add(walletRow(rs));
          }
        }
      }
    });
    return out;
  }

  private static final org.jooq.Field<?>[] WALLET_FIELDS = WALLETS.fields();
  private static final String LOCK_ALL = "select " + java.util.Arrays.stream(WALLET_FIELDS)
      .map(f -> f.getName()).collect(java.util.stream.Collectors.joining(", "))
      + " from wallets where name = any(?) order by name for update";

  /** A wallets row read by {@link #LOCK_ALL} as a record in the state jOOQ's fetch leaves it (nothing changed). */
  @SuppressWarnings("unchecked")
  private static WalletsRecord walletRow(java.sql.ResultSet rs) throws java.sql.SQLException {
    WalletsRecord r = new WalletsRecord();
    for (int i = 0; i < WALLET_FIELDS.length; i++) {
      org.jooq.Field<Object> f = (org.jooq.Field<Object>) WALLET_FIELDS[i];
      r.set(f, rs.getObject(i + 1, f.getType()));
    }
    r.changed(false);
    return r;
  }

  public void store(DSLContext tx, WalletsRecord wallet) {
    wallet.setVersion(wallet.getVersion() + 1);
    wallet.setUpdateTime(OffsetDateTime.now());
    tx.executeUpdate(wallet);
  }

  public List<WalletsRecord> page(DSLContext tx, String afterName, int limit) {
    return tx.selectFrom(WALLETS).where(afterName == null ? DSL.noCondition() : WALLETS.NAME.gt(afterName))
        .orderBy(WALLETS.NAME).limit(limit).fetch();
  }

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

  /** Stamps rows about to be stored with their next version and the time. */
  private static void bumpVersions(List<WalletsRecord> changed) {
    OffsetDateTime now = OffsetDateTime.now();
    changed.forEach(w -> {
      w.setVersion(w.getVersion() + 1);
      w.setUpdateTime(now);
    });
  }

  /** Stores what the money path changes on many locked wallets in one statement (and bumps their versions). */
  public void storeAll(DSLContext tx, List<WalletsRecord> changed) {
    if (changed.isEmpty()) {
      return;
    }
    bumpVersions(changed);
    tx.connection(c -> {
      try (var ps = c.prepareStatement("update wallets w set status = u.status, held = u.held, "
          + "low_balance_notified = u.low, auto_refill_requested = u.refill, plan_period_start = u.pps, "
          + "version = u.version, update_time = u.ut, auto_refill_month_start = u.rms, "
          + "auto_refill_month_requested = u.rmr, auto_refill_pending = u.rp, plan_period_end = u.ppe, "
          + "status_notified = u.sn from unnest(?::text[], ?::text[], ?::bigint[], ?::boolean[], ?::boolean[], "
          + "?::timestamptz[], ?::bigint[], ?::timestamptz[], ?::timestamptz[], ?::bigint[], ?::bigint[], "
          + "?::timestamptz[], ?::text[]) "
          + "as u(name, status, held, low, refill, pps, version, ut, rms, rmr, rp, ppe, sn) where w.name = u.name")) {
        ps.setArray(1, c.createArrayOf("text", changed.stream().map(WalletsRecord::getName).toArray()));
        ps.setArray(2, c.createArrayOf("text", changed.stream().map(WalletsRecord::getStatus).toArray()));
        ps.setArray(3, c.createArrayOf("bigint", changed.stream().map(WalletsRecord::getHeld).toArray()));
        ps.setArray(4, c.createArrayOf("boolean", changed.stream().map(WalletsRecord::getLowBalanceNotified).toArray()));
        ps.setArray(5, c.createArrayOf("boolean", changed.stream().map(WalletsRecord::getAutoRefillRequested)
            .toArray()));
        ps.setArray(6, c.createArrayOf("timestamptz", changed.stream()
            .map(w -> w.getPlanPeriodStart() == null ? null : w.getPlanPeriodStart().toString()).toArray()));
        ps.setArray(7, c.createArrayOf("bigint", changed.stream().map(WalletsRecord::getVersion).toArray()));
        ps.setArray(8, c.createArrayOf("timestamptz", changed.stream().map(w -> w.getUpdateTime().toString())
            .toArray()));
        ps.setArray(9, c.createArrayOf("timestamptz", changed.stream()
            .map(w -> w.getAutoRefillMonthStart() == null ? null : w.getAutoRefillMonthStart().toString()).toArray()));
        ps.setArray(10, c.createArrayOf("bigint", changed.stream().map(WalletsRecord::getAutoRefillMonthRequested)
            .toArray()));
        ps.setArray(11, c.createArrayOf("bigint", changed.stream().map(WalletsRecord::getAutoRefillPending)
            .toArray()));
        ps.setArray(12, c.createArrayOf("timestamptz", changed.stream()
            .map(w -> w.getPlanPeriodEnd() == null ? null : w.getPlanPeriodEnd().toString()).toArray()));
        ps.setArray(13, c.createArrayOf("text", changed.stream().map(WalletsRecord::getStatusNotified).toArray()));
        ps.executeUpdate();
      }
    });
  }

  /**
   * Stores only the held amount of wallets whose reservations changed nothing else (and bumps their
   * versions), in one statement: the hot path of admission binds four arrays, not {@link #storeAll}'s 13.
   */
  public void storeHeldAll(DSLContext tx, List<WalletsRecord> changed) {
    if (changed.isEmpty()) {
      return;
    }
    bumpVersions(changed);
    String[] types = {"text", "bigint", "bigint", "timestamptz"};
    tx.connection(c -> {
      try (var ps = c.prepareStatement("update wallets w set held = u.held, version = u.version, update_time = u.ut "
          + "from " + ColumnArrays.unnest(types) + " as u(name, held, version, ut) where w.name = u.name")) {
        ColumnArrays.bind(c, ps, types, changed, w -> new Object[] {w.getName(), w.getHeld(), w.getVersion(),
            w.getUpdateTime().toString()});
        ps.executeUpdate();
      }
    });
  }

  public void setNotifiedPct(DSLContext tx, SpendRecord spend, int pct) {
    tx.update(SPEND).set(SPEND.NOTIFIED_PCT, pct).where(SPEND.WALLET.eq(spend.getWallet()),
        SPEND.SUBJECT.eq(spend.getSubject()), SPEND.PERIOD.eq(spend.getPeriod()),
        SPEND.WINDOW_START.eq(spend.getWindowStart())).execute();
  }

  /** What grants of {@code source} gave the wallet since {@code since} (their full amounts, spent or not). */
  public long grantedSince(DSLContext tx, String wallet, String source, OffsetDateTime since) {
    var sum = tx.select(org.jooq.impl.DSL.sum(GRANTS.AMOUNT)).from(GRANTS)
        .where(GRANTS.WALLET.eq(wallet), GRANTS.SOURCE.eq(source), GRANTS.CREATE_TIME.ge(since)).fetchOne().value1();
    return sum == null ? 0 : sum.longValueExact();
  }

  public void insertGrant(DSLContext tx, GrantsRecord grant) {
    tx.insertInto(GRANTS).set(grant).execute();
  }

  /** Live lots in spending order: lowest priority number first, then soonest expiry. */
  public List<GrantsRecord> liveGrants(DSLContext tx, String wallet, OffsetDateTime now) {
    return tx.selectFrom(GRANTS).where(GRANTS.WALLET.eq(wallet), GRANTS.REMAINING.gt(0L),
        GRANTS.EXPIRE_TIME.isNull().or(GRANTS.EXPIRE_TIME.gt(now)))
        .orderBy(GRANTS.PRIORITY, GRANTS.EXPIRE_TIME.asc().nullsLast(), GRANTS.ID).fetch();
  }

  /** The live lots of several wallets in spending order (per wallet), in one read. */
  public List<GrantsRecord> liveGrantsOf(DSLContext tx, Collection<String> wallets, OffsetDateTime now) {
    return tx.selectFrom(GRANTS).where(GRANTS.WALLET.in(wallets), GRANTS.REMAINING.gt(0L),
        GRANTS.EXPIRE_TIME.isNull().or(GRANTS.EXPIRE_TIME.gt(now)))
        .orderBy(GRANTS.WALLET, GRANTS.PRIORITY, GRANTS.EXPIRE_TIME.asc().nullsLast(), GRANTS.ID).fetch();
  }

  /** Lots of several wallets whose expiry passed with credit left, in one read. */
  public List<GrantsRecord> dueGrantsOf(DSLContext tx, Collection<String> wallets, OffsetDateTime now) {
    return tx.selectFrom(GRANTS).where(GRANTS.WALLET.in(wallets), GRANTS.REMAINING.gt(0L),
        GRANTS.EXPIRE_TIME.le(now)).orderBy(GRANTS.ID).fetch();
  }

  /** Sets the remaining credit of several lots in one statement. */
  public void setRemainingAll(DSLContext tx, Map<String, Long> remaining) {
    if (remaining.isEmpty()) {
      return;
    }
    tx.connection(c -> {
      try (var ps = c.prepareStatement("update grants g set remaining = u.r from unnest(?::text[], ?::bigint[]) "
          + "as u(id, r) where g.id = u.id")) {
        ps.setArray(1, c.createArrayOf("text", remaining.keySet().toArray()));
        ps.setArray(2, c.createArrayOf("bigint", remaining.values().toArray()));
        ps.executeUpdate();
      }
    });
  }

  public void setRemaining(DSLContext tx, String grantId, long remaining) {
    tx.update(GRANTS).set(GRANTS.REMAINING, remaining).where(GRANTS.ID.eq(grantId)).execute();
  }

  public Optional<HoldsRecord> hold(DSLContext tx, String wallet, String id) {
    return tx.selectFrom(HOLDS).where(HOLDS.WALLET.eq(wallet), HOLDS.ID.eq(id)).forUpdate().fetchOptional();
  }

  /** Pending holds of several wallets whose expiry passed (never every pending hold), in one read. */
  /**
   * Pending holds of {@code wallets} past their expiry, at most {@link #DUE_HOLDS_PER_PASS} (oldest first): a
   * wave of expiries is worked off over a few passes instead of stalling the one that meets it. A hold left
   * for the next pass still counts as held, which never lets anyone spend more.
   */
  public List<HoldsRecord> duePendingHoldsOf(DSLContext tx, Collection<String> wallets, OffsetDateTime now) {
    return tx.selectFrom(HOLDS).where(HOLDS.WALLET.in(wallets), HOLDS.STATE.eq("pending"),
        HOLDS.EXPIRE_TIME.le(now)).orderBy(HOLDS.EXPIRE_TIME).limit(DUE_HOLDS_PER_PASS).fetch();
  }

  public static final int DUE_HOLDS_PER_PASS = 2_000;

  /** Closes many holds with one statement, each settled at its whole amount or at nothing. */
  public void closeHolds(DSLContext tx, Collection<String> ids, String state, boolean settledAtAmount) {
    if (ids.isEmpty()) {
      return;
    }
    tx.update(HOLDS).set(HOLDS.STATE, state).set(HOLDS.SETTLED, settledAtAmount ? HOLDS.AMOUNT : DSL.inline(0L))
        .set(HOLDS.CLOSE_TIME, OffsetDateTime.now()).where(HOLDS.ID.eq(DSL.any(ids.toArray(String[]::new))))
        .execute();
  }

  /**
   * What the pending holds of {@code wallets} add up to per wallet and per member and key, summed by
   * PostgreSQL (nothing per hold crosses the wire): {@code wallet -> subject -> amount}, where the wallet's
   * own entry counts every hold.
   */
  public Map<String, Map<String, Long>> pendingHeldBySubject(DSLContext tx, Collection<String> wallets) {
    Map<String, Map<String, Long>> out = new java.util.HashMap<>();
    if (wallets.isEmpty()) {
      return out;
    }
    tx.select(HOLDS.WALLET, HOLDS.MEMBER, HOLDS.API_KEY, DSL.sum(HOLDS.AMOUNT)).from(HOLDS)
        .where(HOLDS.WALLET.in(wallets), HOLDS.STATE.eq("pending"))
        .groupBy(HOLDS.WALLET, HOLDS.MEMBER, HOLDS.API_KEY)
        .forEach(r -> {
          Map<String, Long> w = out.computeIfAbsent(r.value1(), k -> new java.util.HashMap<>());
          long amount = r.value4().longValueExact();
          w.merge(r.value1(), amount, Long::sum);
          if (!r.value2().isEmpty()) {
            w.merge(r.value2(), amount, Long::sum);
          }
          if (!r.value3().isEmpty()) {
            w.merge(r.value3(), amount, Long::sum);
          }
        });
    return out;
  }

  /**
   * When time alone next changes each wallet's money: the earliest expiry of its pending holds and of its
   * live grants (absent when it has neither), one read by index whatever the number of holds.
   */
  public Map<String, OffsetDateTime> nextExpiryOf(DSLContext tx, Collection<String> wallets) {
    Map<String, OffsetDateTime> out = new java.util.HashMap<>();
    if (wallets.isEmpty()) {
      return out;
    }
    tx.connection(c -> {
      try (var ps = c.prepareStatement("select u.w, least((select min(h.expire_time) from holds h where h.wallet = u.w "
          + "and h.state = 'pending'), (select min(g.expire_time) from grants g where g.wallet = u.w "
          + "and g.remaining > 0)) from unnest(?::text[]) as u(w)")) {
        ps.setArray(1, c.createArrayOf("text", wallets.toArray()));
        try (var rs = ps.executeQuery()) {
          while (rs.next()) {
            OffsetDateTime at = rs.getObject(2, OffsetDateTime.class);
            if (at != null) {
              out.put(rs.getString(1), at);
            }
          }
        }
      }
    });
    return out;
  }

  /** Inserts holds from arrays, one statement whatever their number. */
  public void insertHolds(DSLContext tx, List<HoldsRecord> holds) {
    if (holds.isEmpty()) {
      return;
    }
    String[] types = {"text", "text", "bigint", "text", "text", "text", "timestamptz", "timestamptz"};
    tx.connection(c -> {
      try (var ps = c.prepareStatement("insert into holds (id, wallet, amount, state, api_key, member, create_time, "
          + "expire_time) select * from " + ColumnArrays.unnest(types))) {
        ColumnArrays.bind(c, ps, types, holds, h -> new Object[] {h.getId(), h.getWallet(), h.getAmount(),
            h.getState(), h.getApiKey(), h.getMember(), h.getCreateTime().toString(), h.getExpireTime().toString()});
        ps.executeUpdate();
      }
    });
  }


  /** Adds to a pending hold and moves its expiry. */
  public void extendHold(DSLContext tx, String id, long amount, OffsetDateTime expireTime) {
    tx.update(HOLDS).set(HOLDS.AMOUNT, HOLDS.AMOUNT.plus(amount)).set(HOLDS.EXPIRE_TIME, expireTime)
        .where(HOLDS.ID.eq(id), HOLDS.STATE.eq("pending")).execute();
  }

  public List<HoldsRecord> pendingHolds(DSLContext tx, String wallet) {
    return tx.selectFrom(HOLDS).where(HOLDS.WALLET.eq(wallet), HOLDS.STATE.eq("pending")).fetch();
  }

  public void closeHold(DSLContext tx, String id, String state, long settled) {
    tx.update(HOLDS).set(HOLDS.STATE, state).set(HOLDS.SETTLED, settled).set(HOLDS.CLOSE_TIME, OffsetDateTime.now())
        .where(HOLDS.ID.eq(id)).execute();
  }

  /** Wallets having pending holds past their expiry, for the sweeper. */
  public List<String> walletsWithDueHolds(DSLContext tx, OffsetDateTime now, int limit) {
    return tx.selectDistinct(HOLDS.WALLET).from(HOLDS).where(HOLDS.STATE.eq("pending"), HOLDS.EXPIRE_TIME.le(now))
        .limit(limit).fetch(HOLDS.WALLET);
  }

  public List<String> walletsWithDueGrantsOrPlans(DSLContext tx, OffsetDateTime now, int limit) {
    return tx.selectDistinct(GRANTS.WALLET).from(GRANTS).where(GRANTS.REMAINING.gt(0L), GRANTS.EXPIRE_TIME.le(now))
        .union(DSL.select(WALLETS.NAME).from(WALLETS).where(WALLETS.PLAN.isNotNull(),
            WALLETS.PLAN_PERIOD_END.le(now)))
        .limit(limit).fetch(0, String.class);
  }
}
