package dev.tally.common.money;

import java.math.BigInteger;

/**
 * The limits on amounts that keep every sum inside 64 bits where the contract carries an {@code int64}
 * (TigerBeetle's "put a limit on everything"). Ledger account totals are 128-bit wide in storage; what a
 * client sees (a wallet's balance, one transfer, one usage event's cost) stays far below 2^63.
 */
public final class MoneyBounds {
  /** Largest quantity of one usage record: 10^15 (a million billion tokens, or 31 years of milliseconds). */
  public static final long MAX_USAGE_QUANTITY = 1_000_000_000_000_000L;
  /** Largest cost of one usage record: $1,000,000. */
  public static final long MAX_USAGE_COST_NANOS = 1_000_000L * 1_000_000_000L;
  /** Largest amount of one deposit, grant or limit: $1,000,000,000. */
  public static final long MAX_REQUEST_NANOS = 1_000_000_000L * 1_000_000_000L;
  /** Largest balance a wallet account may reach (credits − debits): $4,000,000,000 either way. */
  public static final long MAX_WALLET_BALANCE_NANOS = 4L * MAX_REQUEST_NANOS;

  private MoneyBounds() {}

  /** {@code a × b}, or {@code -1} when it is above {@code max} (both non-negative). */
  public static long multiplyWithin(long a, long b, long max) {
    BigInteger product = BigInteger.valueOf(a).multiply(BigInteger.valueOf(b));
    return product.compareTo(BigInteger.valueOf(max)) > 0 ? -1 : product.longValueExact();
  }
}
