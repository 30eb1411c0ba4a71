package dev.tally.common.money;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;

/** The one price rounding of the suite: {@code quantity × price / perQuantity} nanos, rounded half-even once. */
public final class Pricing {
  private Pricing() {}

  /** The cost, or {@code -1} when it is above {@code max}; exact whatever the inputs (no overflow). */
  public static long costWithin(long quantity, long priceNanos, long perQuantity, long max) {
    BigInteger cost = new BigDecimal(BigInteger.valueOf(quantity).multiply(BigInteger.valueOf(priceNanos)))
        .divide(BigDecimal.valueOf(perQuantity), 0, RoundingMode.HALF_EVEN).toBigIntegerExact();
    return cost.compareTo(BigInteger.valueOf(max)) > 0 ? -1 : cost.longValueExact();
  }
}
