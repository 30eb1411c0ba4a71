package dev.tally.wallet.limits;

import static dev.tally.wallet.db.jooq.Tables.LIMITS;
import static dev.tally.wallet.db.jooq.Tables.SPEND;

import dev.tally.wallet.db.WalletDao;
import dev.tally.wallet.events.WalletEvents;
import dev.tally.wallet.periods.Periods;
import java.time.Instant;
import org.jooq.DSLContext;
import org.jooq.impl.DSL;

/**
 * A limit's alert ends with its window: when a day, week or month is over, every alert that fired in it is
 * resolved once ({@code ThresholdResolved PERIOD_RESET}), as raising or clearing the limit does.
 */
public final class EndedAlerts {
  private static final int BATCH = 500;

  private final WalletDao wallets;
  private final WalletEvents events;

  public EndedAlerts(WalletDao wallets, WalletEvents events) {
    this.wallets = wallets;
    this.events = events;
  }

  /** Resolves up to a batch of alerts whose window ended before {@code now}; returns how many. */
  public int resolve(DSLContext tx, Instant now) {
    var ended = tx.select(SPEND.asterisk(), DSL.coalesce(LIMITS.LIMIT_NANOS, 0L).as("limit_nanos"))
        .from(SPEND).leftJoin(LIMITS).on(LIMITS.WALLET.eq(SPEND.WALLET), LIMITS.SUBJECT.eq(SPEND.SUBJECT),
            LIMITS.PERIOD.eq(SPEND.PERIOD))
        .where(SPEND.NOTIFIED_PCT.gt(0))
        .and(SPEND.PERIOD.eq("day").and(SPEND.WINDOW_START.lt(Periods.windowStart("day", now)))
            .or(SPEND.PERIOD.eq("week").and(SPEND.WINDOW_START.lt(Periods.windowStart("week", now))))
            .or(SPEND.PERIOD.eq("month").and(SPEND.WINDOW_START.lt(Periods.windowStart("month", now)))))
        .orderBy(SPEND.WINDOW_START).limit(BATCH).forUpdate().of(SPEND).skipLocked().fetch();
    for (var r : ended) {
      var row = r.into(SPEND);
      events.thresholdResolved(tx, row.getWallet(), row.getSubject(), row.getPeriod(), row.getNotifiedPct(),
          r.get("limit_nanos", Long.class), row.getSpent(), "PERIOD_RESET");
      wallets.setNotifiedPct(tx, row, 0);
    }
    return ended.size();
  }
}
