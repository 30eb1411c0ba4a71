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

  /**
   * One limit or quota with its spend in the current window. A team default appears once with its wildcard
   * subject (spent 0) and once per member or key that spent under it ({@code fromDefault}): what admission
   * reads, in the wallet and in gateways, without the default ever being copied onto members or keys.
   */
  public record LimitState(String subject, String period, long limit, long spent, OffsetDateTime resetTime,
      List<Integer> alertPercents, boolean fromDefault) {
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
