package dev.tally.gateway.auth;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Slows down credential guessing without refusing anyone's valid key. Failed verifications are counted per
 * source (a client address, or "admit" for secrets the platform submits to Admit) in one-minute windows.
 * A source past the limit is "hot": its credentials that are not already known to be valid are verified at
 * most one per {@link #SLOW_LANE} (the rest answer RESOURCE_EXHAUSTED with a retry delay), so guessing gets
 * nowhere while a valid key from the same address (a NAT) still passes, and once verified is answered from
 * the key cache without any throttle. Outages are never counted as failures.
 */
public final class AuthThrottle {
  static final Duration WINDOW = Duration.ofMinutes(1);
  static final Duration SLOW_LANE = Duration.ofMillis(100);
  private static final int MAX_TRACKED = 100_000;

  private final int limit;
  private final Clock clock;
  private final Cache<String, AtomicInteger> failures;
  private final Cache<String, AtomicLong> nextVerification;

  public AuthThrottle(int limit, Clock clock) {
    this.limit = limit;
    this.clock = clock;
    this.failures = Caffeine.newBuilder().maximumSize(MAX_TRACKED).ticker(this::nanos)
        .expireAfterWrite(WINDOW.toNanos(), TimeUnit.NANOSECONDS).build();
    this.nextVerification = Caffeine.newBuilder().maximumSize(MAX_TRACKED).ticker(this::nanos)
        .expireAfterAccess(WINDOW.toNanos(), TimeUnit.NANOSECONDS).build();
  }

  private long nanos() {
    return TimeUnit.MILLISECONDS.toNanos(clock.millis());
  }

  /** Whether {@code source} failed too often in the current window. */
  public boolean hot(String source) {
    AtomicInteger n = failures.getIfPresent(source);
    return n != null && n.get() >= limit;
  }

  /**
   * Whether a credential from {@code source} that is not known to be valid may be verified now: always for
   * a source that is not hot, one per slow-lane interval for one that is.
   */
  public boolean mayVerify(String source) {
    if (!hot(source)) {
      return true;
    }
    long now = clock.millis();
    AtomicLong next = nextVerification.get(source, s -> new AtomicLong());
    long at = next.get();
    return at <= now && next.compareAndSet(at, now + SLOW_LANE.toMillis());
  }

  public void failed(String source) {
    failures.get(source, s -> new AtomicInteger()).incrementAndGet();
  }
}
