package dev.tally.gateway.auth;

import java.time.Clock;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Counts failed authentications per client address in one-minute windows; too many and the address waits. */
public final class AuthThrottle {
  private static final long WINDOW_MILLIS = 60_000;
  private static final int MAX_TRACKED = 100_000;

  private final int limit;
  private final Clock clock;
  private final Map<String, long[]> failures = new ConcurrentHashMap<>(); // address -> {windowStart, count}

  public AuthThrottle(int limit, Clock clock) {
    this.limit = limit;
    this.clock = clock;
  }

  public boolean throttled(String address) {
    long[] w = failures.get(address);
    return w != null && clock.millis() - w[0] < WINDOW_MILLIS && w[1] >= limit;
  }

  public void failed(String address) {
    long now = clock.millis();
    if (failures.size() >= MAX_TRACKED) {
      failures.clear();
    }
    failures.compute(address, (a, w) -> {
      if (w == null || now - w[0] >= WINDOW_MILLIS) {
        return new long[] {now, 1};
      }
      w[1]++;
      return w;
    });
  }
}
