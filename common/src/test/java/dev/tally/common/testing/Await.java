package dev.tally.common.testing;

import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/** Waits for a condition that another thread (a consumer, a relay) will make true. */
public final class Await {
  private Await() {}

  public static void until(String what, Duration timeout, BooleanSupplier condition) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out after " + timeout + " waiting for " + what);
      }
      try {
        Thread.sleep(20); // polling interval of the wait, not a fixed delay standing in for one
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted waiting for " + what);
      }
    }
  }

  /** Waits until {@code value} satisfies the condition and returns it. */
  public static <T> T value(String what, Duration timeout, Supplier<T> value, java.util.function.Predicate<T> ok) {
    Object[] last = new Object[1];
    until(what, timeout, () -> {
      T v = value.get();
      last[0] = v;
      return ok.test(v);
    });
    @SuppressWarnings("unchecked")
    T result = (T) last[0];
    return result;
  }
}
