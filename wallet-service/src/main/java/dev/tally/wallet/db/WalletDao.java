package dev.tally.wallet.db;

import static dev.tally.wallet.db.jooq.Tables.GRANTS;
import static dev.tally.wallet.db.jooq.Tables.WALLETS;

import dev.tally.common.db.ColumnArrays;
import dev.tally.wallet.db.jooq.tables.records.WalletsRecord;
import java.time.OffsetDateTime;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jooq.DSLContext;
import org.jooq.impl.DSL;

/** Wallet rows: created, locked, stored and paged; and when time alone next changes a wallet. */
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

  private static final dev.tally.common.db.LockedRows<WalletsRecord> LOCK_ALL =
      new dev.tally.common.db.LockedRows<>(WALLETS, WALLETS.NAME, "");

  /** Locks several wallets in name order (one order for every caller: no deadlocks). */
  public List<WalletsRecord> lockAll(DSLContext tx, Collection<String> names) {
    return LOCK_ALL.lock(tx, names);
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

  public List<String> walletsWithDueGrantsOrPlans(DSLContext tx, OffsetDateTime now, int limit) {
    return tx.selectDistinct(GRANTS.WALLET).from(GRANTS).where(GRANTS.REMAINING.gt(0L), GRANTS.EXPIRE_TIME.le(now))
        .union(DSL.select(WALLETS.NAME).from(WALLETS).where(WALLETS.PLAN.isNotNull(),
            WALLETS.PLAN_PERIOD_END.le(now)))
        .limit(limit).fetch(0, String.class);
  }
}
