package dev.tally.common.money;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class PricingTest {

  /** The rule itself, as written: list × basis points / 10000, half-even, exact at any size. */
  private static long reference(long list, int basisPoints) {
    return new BigDecimal(BigInteger.valueOf(list).multiply(BigInteger.valueOf(basisPoints)))
        .divide(BigDecimal.valueOf(10_000), 0, RoundingMode.HALF_EVEN).longValueExact();
  }

  @Test
  void discountRoundsHalfEvenLikeTheExactRule() {
    // Ties both ways: 0.5 → 0, 1.5 → 2, 2.5 → 2, and negative amounts (corrections) mirror them.
    assertEquals(0, Pricing.discount(1, 5_000));
    assertEquals(2, Pricing.discount(3, 5_000));
    assertEquals(2, Pricing.discount(5, 5_000));
    assertEquals(-2, Pricing.discount(-5, 5_000));
    assertEquals(-2, Pricing.discount(-3, 5_000));
    assertEquals(0, Pricing.discount(123_456_789, 0));
    assertEquals(123_456_789, Pricing.discount(123_456_789, 10_000));
    assertEquals(98, Pricing.net(123, 2_000)); // 24.6 off → 25
    SplittableRandom random = new SplittableRandom(7);
    for (int i = 0; i < 200_000; i++) {
      long list = switch (i % 3) {
        case 0 -> random.nextLong(-1_000_000, 1_000_000);
        case 1 -> random.nextLong(-Long.MAX_VALUE / 10_000 - 5, Long.MAX_VALUE / 10_000 + 5);
        default -> random.nextLong(-4_000_000_000_000_000_000L, 4_000_000_000_000_000_000L);
      };
      int bps = random.nextInt(0, 10_001);
      assertEquals(reference(list, bps), Pricing.discount(list, bps), () -> list + " at " + bps);
    }
  }
}
