package dev.tally.wallet.limits;

import static dev.tally.wallet.db.jooq.Tables.LIMITS;
import static dev.tally.wallet.db.jooq.Tables.SPEND;

import dev.tally.wallet.db.LimitDao;
import dev.tally.wallet.events.WalletEvents;
import java.time.Instant;
import java.time.ZoneOffset;
import org.jooq.DSLContext;
import org.jooq.impl.DSL;

/**
 * A limit's alert ends with its window: when a day, week or month is over, every alert that fired in it is
 * resolved once ({@code ThresholdResolved PERIOD_RESET}), as raising or clearing the limit does.
 */
public final class EndedAlerts {
  private static final int BATCH = 500;

  private final LimitDao limitRows = new LimitDao();
  private final WalletEvents events;

  public EndedAlerts(WalletEvents events) {
    this.events = events;
  }

  /** Resolves up to a batch of alerts whose window ended before {@code now}; returns how many. */
  public int resolve(DSLContext tx, Instant now) {
    // Each window carries its end (its wallet's anchor decided it); the alert names the limit it fired for:
    // the subject's own, else its team's default.
    var own = LIMITS.as("own");
    var fallback = LIMITS.as("fallback");
    var ended = tx.select(SPEND.asterisk(), DSL.coalesce(own.LIMIT_NANOS, fallback.LIMIT_NANOS, DSL.inline(0L))
            .as("limit_nanos"))
        .from(SPEND)
        .leftJoin(own).on(own.WALLET.eq(SPEND.WALLET), own.SUBJECT.eq(SPEND.SUBJECT), own.PERIOD.eq(SPEND.PERIOD))
        .leftJoin(fallback).on(fallback.WALLET.eq(SPEND.WALLET), fallback.PERIOD.eq(SPEND.PERIOD),
            fallback.SUBJECT.like("%/*"),
            DSL.left(SPEND.SUBJECT, DSL.length(fallback.SUBJECT).minus(1))
                .eq(DSL.left(fallback.SUBJECT, DSL.length(fallback.SUBJECT).minus(1))))
        .where(SPEND.NOTIFIED_PCT.gt(0), SPEND.WINDOW_END.le(now.atOffset(ZoneOffset.UTC)))
        .orderBy(SPEND.WINDOW_END).limit(BATCH).forUpdate().of(SPEND).skipLocked().fetch();
    for (var r : ended) {
      var row = r.into(SPEND);
      events.thresholdResolved(tx, row.getWallet(), row.getSubject(), row.getPeriod(), row.getNotifiedPct(),
          r.get("limit_nanos", Long.class), row.getSpent(), "PERIOD_RESET");
      limitRows.setNotifiedPct(tx, row, 0);
    }
    return ended.size();
  }
}
