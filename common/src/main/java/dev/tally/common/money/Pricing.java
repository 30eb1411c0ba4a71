package dev.tally.common.money;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;

/**
 * The one price rounding of the suite: {@code quantity × price / perQuantity} nanos, rounded half-even once;
 * and the one team discount: {@code list × basisPoints / 10000}, rounded half-even, taken off list prices
 * wherever money is estimated (Admit) or charged (usage).
 */
public final class Pricing {
  /** Below this (~$922,000), {@code list × basisPoints} with a discount of at most 100 % fits in a long. */
  private static final long EXACT_IN_LONG = Long.MAX_VALUE / 10_000;

  private Pricing() {}

  /** The cost, or {@code -1} when it is above {@code max}; exact whatever the inputs (no overflow). */
  public static long costWithin(long quantity, long priceNanos, long perQuantity, long max) {
    BigInteger cost = new BigDecimal(BigInteger.valueOf(quantity).multiply(BigInteger.valueOf(priceNanos)))
        .divide(BigDecimal.valueOf(perQuantity), 0, RoundingMode.HALF_EVEN).toBigIntegerExact();
    return cost.compareTo(BigInteger.valueOf(max)) > 0 ? -1 : cost.longValueExact();
  }

  /** The team discount on a list amount. */
  public static long discount(long list, int basisPoints) {
    if (basisPoints == 0) {
      return 0;
    }
    // On every Admit: long arithmetic where the product cannot overflow, BigDecimal beyond.
    if (Math.abs(list) < EXACT_IN_LONG && basisPoints > 0 && basisPoints <= 10_000) {
      long product = list * basisPoints;
      long quotient = Math.floorDiv(product, 10_000);
      long remainder = Math.floorMod(product, 10_000);
      return remainder > 5_000 || remainder == 5_000 && (quotient & 1) != 0 ? quotient + 1 : quotient;
    }
    return new BigDecimal(BigInteger.valueOf(list).multiply(BigInteger.valueOf(basisPoints)))
        .divide(BigDecimal.valueOf(10_000), 0, RoundingMode.HALF_EVEN).longValueExact();
  }

  /** What a list amount costs the team after its discount. */
  public static long net(long list, int basisPoints) {
    return list - discount(list, basisPoints);
  }

  /**
   * Refuses a usage event whose discount is not within its cost (bad data on the topic: the consumer fails,
   * isolates and parks it; nobody else's usage waits).
   */
  public static void requireDiscountWithinCost(String eventId, long discount, long cost) {
    if (discount < 0 || discount > cost) {
      throw new IllegalArgumentException("usage event " + eventId + " has a discount of " + discount
          + " outside 0.." + cost);
    }
  }
}
