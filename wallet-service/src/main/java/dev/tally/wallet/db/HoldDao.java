package dev.tally.wallet.db;

import static dev.tally.wallet.db.jooq.Tables.HOLDS;

import dev.tally.common.db.ColumnArrays;
import dev.tally.wallet.db.jooq.tables.records.HoldsRecord;
import java.time.OffsetDateTime;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jooq.DSLContext;
import org.jooq.impl.DSL;

/** Holds: money reserved for a call until it is settled, released or expires. */
public final class HoldDao {

  public Optional<HoldsRecord> hold(DSLContext tx, String wallet, String id) {
    return tx.selectFrom(HOLDS).where(HOLDS.WALLET.eq(wallet), HOLDS.ID.eq(id)).forUpdate().fetchOptional();
  }

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
}
