package dev.tally.gateway.admission;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class LeaseRenewalPointTest {
  private static final long USE_FOR = 7_000_000_000L;

  @Test
  void leasesBornTogetherAreRenewedApartWithinTheirUse() {
    Random random = new Random(7);
    int[] perTenthOfWindow = new int[10];
    long windowStart = USE_FOR / 2;
    long window = USE_FOR * 3 / 10;
    for (int i = 0; i < 1_000; i++) {
      long at = LeaseBook.renewalPoint(1_000L, USE_FOR, random) - 1_000L;
      assertTrue(at >= windowStart && at < windowStart + window, "renewed at " + at + " ns of " + USE_FOR);
      perTenthOfWindow[(int) ((at - windowStart) * 10 / window)]++;
    }
    for (int n : perTenthOfWindow) {
      // 1,000 leases born in one instant: no tenth of the window renews more than a sixth of them (a wave)
      assertTrue(n > 50 && n < 170, "renewals per tenth of the window: " + Arrays.toString(perTenthOfWindow));
    }
  }

  @Test
  void aGenerationBornInOneSecondIsSpreadOverTheLeasesLifeWithinAFewGenerations() {
    Random random = new Random(11);
    long[] born = new long[1_000];
    for (int i = 0; i < born.length; i++) {
      born[i] = i * 1_000_000L; // a cold start: all within one second
    }
    for (int generation = 0; generation < 6; generation++) {
      for (int i = 0; i < born.length; i++) {
        born[i] = LeaseBook.renewalPoint(born[i], USE_FOR, random);
      }
    }
    // Renewals now fall evenly over a lease's mean life (~4.5 s): no half second holds a fifth of them.
    long mean = USE_FOR * 65 / 100;
    int[] perHalfSecond = new int[(int) (mean / 500_000_000L)];
    for (long b : born) {
      perHalfSecond[(int) ((b % mean) / 500_000_000L) % perHalfSecond.length]++;
    }
    for (int n : perHalfSecond) {
      assertTrue(n < 200, "renewals per half second: " + Arrays.toString(perHalfSecond));
    }
  }
}
