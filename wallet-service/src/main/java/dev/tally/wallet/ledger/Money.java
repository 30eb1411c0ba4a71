package dev.tally.wallet.ledger;

import dev.tally.common.error.TallyException;
import java.math.BigInteger;
import java.math.RoundingMode;

/** Integer money arithmetic in nano-units; never floating point. */
public final class Money {
  /** One unit of currency ($1) in nanos. */
  public static final long UNIT = 1_000_000_000L;
  /** Largest amount one operation may move: one billion units (the contract's bound, kept in MoneyBounds). */
  public static final long MAX_AMOUNT = dev.tally.common.money.MoneyBounds.MAX_REQUEST_NANOS;

  private Money() {}

  /** {@code amount × numerator / denominator}, rounded half-even (pro rata). */
  public static long proRata(long amount, long numerator, long denominator) {
    return new java.math.BigDecimal(BigInteger.valueOf(amount).multiply(BigInteger.valueOf(numerator)))
        .divide(java.math.BigDecimal.valueOf(denominator), 0, RoundingMode.HALF_EVEN).longValueExact();
  }

  public static long add(long a, long b) {
    try {
      return Math.addExact(a, b);
    } catch (ArithmeticException e) {
      throw TallyException.invalidArgument("amount_nanos", "the amount would overflow the balance");
    }
  }

  /** A human form for messages: {@code $12.345000000}. */
  public static String format(long nanos, String currency) {
    String sign = nanos < 0 ? "-" : "";
    long abs = Math.abs(nanos);
    return sign + abs / UNIT + "." + String.format("%09d", abs % UNIT) + " " + currency;
  }
}
