package dev.tally.wallet.wallets;

import dev.tally.wallet.db.jooq.tables.records.HoldsRecord;
import dev.tally.wallet.db.jooq.tables.records.WalletsRecord;
import java.util.List;
import org.jooq.DSLContext;

/**
 * What happens to the money of holds that expired without usage, on the locked wallet, in housekeeping's
 * transaction: nothing (released, the default) or a charge of their estimates (see the usage package).
 */
@FunctionalInterface
public interface ExpiredHolds {
  ExpiredHolds RELEASE = (tx, wallet, holds) -> false;

  /** Returns whether the holds were charged (each at its full amount). */
  boolean expired(DSLContext tx, WalletsRecord wallet, List<HoldsRecord> holds);
}
