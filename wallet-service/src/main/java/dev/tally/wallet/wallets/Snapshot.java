package dev.tally.wallet.wallets;

import dev.tally.wallet.db.jooq.tables.records.WalletsRecord;
import java.time.OffsetDateTime;
import java.util.List;

/** A wallet's money and limits at one moment, computed from the ledger and the spend windows. */
public record Snapshot(
    WalletsRecord wallet,
    long paid,
    long granted,
    long held,
    long periodSpend,
    OffsetDateTime periodStart,
    OffsetDateTime periodEnd,
    List<LimitState> limits,
    long planGrantedThisPeriod) {

  /** One limit or quota with its spend in the current window. */
  public record LimitState(String subject, String period, long limit, long spent, OffsetDateTime resetTime,
      List<Integer> alertPercents) {
    public long remaining() {
      return Math.max(0, limit - spent);
    }
  }

  public long balance() {
    return paid + granted;
  }

  public long available() {
    return balance() - held;
  }
}
