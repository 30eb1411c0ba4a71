package dev.tally.metering.rollups;

import dev.tally.common.app.WakeableWorker;
import dev.tally.common.db.Database;
import java.time.Duration;
import org.jooq.DSLContext;

/**
 * Folds {@code usage_deltas} into {@code usage_rollups}, oldest first, a bounded number per transaction, so the
 * deltas stay a few rows per recent batch (queries read both, so nothing waits for a fold). One replica folds
 * at a time (a transaction-scoped advisory lock), so two never upsert the same rollup rows in different orders.
 */
public final class RollupCompactor implements AutoCloseable {
  /** Deltas folded per transaction. */
  static final int BATCH = 10_000;
  private static final long LOCK = 0x7461_6c6c_7946_6f6cL; // "tallyFol"
  private static final String FOLD = "with moved as (delete from usage_deltas where id in"
      + " (select id from usage_deltas order by id limit " + BATCH + ") returning *),"
      + " folded as (insert into usage_rollups (minute, billing_account, team, member, api_key, meter, model, calls,"
      + " quantity, spend_nanos, discount_nanos) select minute, billing_account, min(team), member, api_key, meter,"
      + " model, sum(calls), sum(quantity), sum(spend_nanos), sum(discount_nanos) from moved"
      + " group by minute, billing_account, api_key, member, meter, model"
      + " on conflict (minute, billing_account, api_key, member, meter, model) do update set"
      + " calls = usage_rollups.calls + excluded.calls, quantity = usage_rollups.quantity + excluded.quantity,"
      + " spend_nanos = usage_rollups.spend_nanos + excluded.spend_nanos,"
      + " discount_nanos = usage_rollups.discount_nanos + excluded.discount_nanos returning 1)"
      + " select count(*) from moved";

  private final Database db;
  private final WakeableWorker worker;

  public RollupCompactor(Database db, Duration every) {
    this.db = db;
    this.worker = new WakeableWorker("metering-rollup-compactor", every, () -> foldOnce() == BATCH);
  }

  public RollupCompactor start() {
    worker.start();
    return this;
  }

  /** One transaction's fold; the number of deltas folded (0 when another replica is folding). */
  public int foldOnce() {
    return db.transaction(tx -> fold(tx.dsl()));
  }

  private static int fold(DSLContext tx) {
    if (!Boolean.TRUE.equals(tx.fetchValue("select pg_try_advisory_xact_lock(" + LOCK + ")"))) {
      return 0;
    }
    return ((Number) tx.fetchValue(FOLD)).intValue();
  }

  @Override
  public void close() {
    worker.close();
  }
}
