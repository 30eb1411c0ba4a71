package dev.tally.identity.invitations;

import dev.tally.common.error.Reasons;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.tally.common.error.TallyException;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Invitation tokens are 256 random bits, so guessing one is hopeless; this makes trying cost the guesser:
 * after {@value #LIMIT} unknown tokens within {@link #WINDOW}, a user's accept and decline calls answer
 * RESOURCE_EXHAUSTED INVITATION_THROTTLED until the window passes. A user with a real token never gets
 * near the limit.
 */
final class TokenGuesses {
  static final int LIMIT = 10;
  static final Duration WINDOW = Duration.ofMinutes(10);

  private final Cache<String, AtomicInteger> failures = Caffeine.newBuilder().maximumSize(100_000)
      .expireAfterWrite(WINDOW).build();

  void check(String user) {
    AtomicInteger n = failures.getIfPresent(user);
    if (n != null && n.get() >= LIMIT) {
      throw TallyException.resourceExhausted(Reasons.INVITATION_THROTTLED,
          "too many unknown invitation tokens; try again later").withRetryAfter(WINDOW);
    }
  }

  void failed(String user) {
    failures.get(user, u -> new AtomicInteger()).incrementAndGet();
  }
}
