package dev.tally.common.metrics;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.function.Supplier;

/**
 * Gauges whose value costs a query: read at most once per {@link #MAX_AGE} whatever the scrape rate, and a
 * failed read (an outage) keeps the last value rather than failing the scrape.
 */
public final class SampledGauges {
  static final Duration MAX_AGE = Duration.ofSeconds(5);

  private SampledGauges() {}

  /** Registers {@code name} reading {@code read} at most every few seconds. */
  public static void register(MeterRegistry registry, String name, String description, Supplier<Number> read) {
    Sample s = new Sample(read);
    Gauge.builder(name, s, Sample::value).description(description).register(registry);
  }

  private static final class Sample {
    private final Supplier<Number> read;
    private volatile double value;
    private volatile long readAt = Long.MIN_VALUE;

    Sample(Supplier<Number> read) {
      this.read = read;
    }

    double value() {
      long now = System.nanoTime();
      if (readAt == Long.MIN_VALUE || now - readAt > MAX_AGE.toNanos()) {
        try {
          value = read.get().doubleValue();
        } catch (RuntimeException e) {
          // an outage: the last value stands, the scrape still answers
        }
        readAt = now;
      }
      return value;
    }
  }
}
