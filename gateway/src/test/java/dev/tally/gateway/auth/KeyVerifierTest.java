package dev.tally.gateway.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tally.common.auth.CallerSigner;
import dev.tally.proto.identity.v1.ApiKey;
import dev.tally.proto.identity.v1.IdentityInternalServiceGrpc;
import dev.tally.proto.identity.v1.VerifyApiKeyRequest;
import dev.tally.proto.identity.v1.VerifyApiKeyResponse;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The key cache against an identity service that counts the verifications it is asked for: callers of a
 * secret being verified share one call, and an answer near the end of its life is re-verified in the
 * background while it is still served, so many keys expiring together under load never storm identity.
 */
class KeyVerifierTest {
  private static final String SECRET = "tly_test_0123456789abcdef";

  private final AtomicInteger calls = new AtomicInteger();
  private volatile long answerAfterMillis;
  private Server server;
  private ManagedChannel channel;

  @BeforeEach
  void start() throws Exception {
    String name = InProcessServerBuilder.generateName();
    server = InProcessServerBuilder.forName(name).executor(Executors.newVirtualThreadPerTaskExecutor())
        .addService(new IdentityInternalServiceGrpc.IdentityInternalServiceImplBase() {
          @Override
          public void verifyApiKey(VerifyApiKeyRequest req, StreamObserver<VerifyApiKeyResponse> out) {
            calls.incrementAndGet();
            try {
              Thread.sleep(answerAfterMillis);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
            out.onNext(VerifyApiKeyResponse.newBuilder().setApiKey(ApiKey.newBuilder().setName("apiKeys/k1")).build());
            out.onCompleted();
          }
        }).build().start();
    channel = InProcessChannelBuilder.forName(name).build();
  }

  @AfterEach
  void stop() {
    channel.shutdownNow();
    server.shutdownNow();
  }

  private KeyVerifier verifier(Duration ttl) {
    return new KeyVerifier(channel, new CallerSigner("test-signing-key-0123456789", Clock.systemUTC()), ttl,
        Clock.systemUTC(), 0);
  }

  @Test
  void concurrentCallersOfOneSecretShareOneVerification() throws Exception {
    answerAfterMillis = 300;
    KeyVerifier keys = verifier(Duration.ofSeconds(60));
    ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
    List<Callable<String>> callers = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      callers.add(() -> keys.verify(SECRET).getApiKey().getName());
    }
    for (Future<String> f : pool.invokeAll(callers)) {
      assertEquals("apiKeys/k1", f.get());
    }
    pool.shutdown();
    assertEquals(1, calls.get(), "200 callers, one verification");
  }

  @Test
  void anAnswerNearItsEndIsReverifiedInTheBackgroundAndLivesOn() throws Exception {
    KeyVerifier keys = verifier(Duration.ofMillis(1_200));
    keys.verify(SECRET);
    Thread.sleep(1_000); // in its last quarter
    keys.verify(SECRET); // served, and re-verified behind it
    for (int i = 0; i < 100 && calls.get() < 2; i++) {
      Thread.sleep(20); // the background re-verification
    }
    assertEquals(2, calls.get(), "re-verified once");
    Thread.sleep(400); // past the first answer's life: the re-verified one is used
    keys.verify(SECRET);
    assertEquals(2, calls.get());
  }

  /** The gateway's hot path asks the cache only ({@code cachedValid}): that keeps answers fresh the same way. */
  @Test
  void anAnswerServedFromTheCacheAloneIsReverifiedBeforeItEnds() throws Exception {
    KeyVerifier keys = verifier(Duration.ofMillis(1_200));
    keys.verify(SECRET);
    Thread.sleep(1_000);
    assertEquals("apiKeys/k1", keys.cachedValid(SECRET).orElseThrow().getApiKey().getName());
    for (int i = 0; i < 100 && calls.get() < 2; i++) {
      Thread.sleep(20);
    }
    assertEquals(2, calls.get(), "re-verified once, behind the answer served");
    Thread.sleep(400);
    org.junit.jupiter.api.Assertions.assertTrue(keys.cachedValid(SECRET).isPresent(),
        "past the first answer's life the cache still knows the key: callers never wait for identity");
  }

  /**
   * Past its TTL an answer is still served — and re-verified behind it — while identity.v1 is current here (no
   * revocation can have been missed); when the stream is not current the TTL is strict and callers wait.
   */
  @Test
  void aStaleAnswerIsServedWhileEventsAreCurrentAndNeverWhenTheyAreNot() throws Exception {
    java.util.concurrent.atomic.AtomicBoolean current = new java.util.concurrent.atomic.AtomicBoolean(true);
    KeyVerifier keys = verifier(Duration.ofMillis(300)).staleWhile(current::get);
    keys.verify(SECRET);
    Thread.sleep(400); // past the TTL, idle: nothing re-verified it
    answerAfterMillis = 400;
    long asked = System.nanoTime();
    org.junit.jupiter.api.Assertions.assertTrue(keys.cachedValid(SECRET).isPresent(), "served stale");
    keys.verify(SECRET);
    org.junit.jupiter.api.Assertions.assertTrue(System.nanoTime() - asked < 200_000_000L,
        "nobody waited for the re-verification");
    for (int i = 0; i < 100 && calls.get() < 2; i++) {
      Thread.sleep(20);
    }
    assertEquals(2, calls.get(), "re-verified in the background");

    KeyVerifier strict = verifier(Duration.ofMillis(300)).staleWhile(current::get);
    answerAfterMillis = 0;
    strict.verify(SECRET);
    Thread.sleep(400);
    current.set(false); // events behind: a revocation may have been missed
    org.junit.jupiter.api.Assertions.assertTrue(strict.cachedValid(SECRET).isEmpty(), "not served stale");
    int before = calls.get();
    strict.verify(SECRET);
    assertEquals(before + 1, calls.get(), "verified again before answering");
  }

  /**
   * Keys first verified together come due together: their re-verifications go to identity at a steady pace —
   * here twice the rate 300 keys with a 10 s TTL come due at, 60 a second — not all at once, and every answer
   * is served meanwhile.
   */
  @Test
  void reverificationsOfKeysComingDueTogetherAreSentAtASteadyPace() throws Exception {
    MovableClock clock = new MovableClock();
    KeyVerifier keys = new KeyVerifier(channel, new CallerSigner("test-signing-key-0123456789", Clock.systemUTC()),
        Duration.ofSeconds(10), clock, 0);
    int n = 300;
    for (int i = 0; i < n; i++) {
      keys.verify(SECRET + i);
    }
    assertEquals(n, calls.get());
    clock.advance(Duration.ofSeconds(8)); // every answer in its last quarter
    long dueAt = System.nanoTime();
    // Callers keep coming for every key (as traffic does): each call may start a re-verification.
    while (System.nanoTime() - dueAt < 1_500_000_000L) {
      for (int i = 0; i < n; i++) {
        org.junit.jupiter.api.Assertions.assertTrue(keys.cachedValid(SECRET + i).isPresent(), "served meanwhile");
      }
      Thread.sleep(10);
    }
    int sent = calls.get() - n;
    double seconds = (System.nanoTime() - dueAt) / 1e9;
    // At most a second's worth saved up while the pace was idle, then 60 a second.
    long allowed = Math.round(60 + 60 * seconds) + 2;
    org.junit.jupiter.api.Assertions.assertTrue(sent <= allowed,
        sent + " re-verifications in " + seconds + " s, more than the pace allows (" + allowed + ")");
    for (int round = 0; round < 1_000 && calls.get() < 2 * n; round++) {
      for (int i = 0; i < n; i++) {
        keys.cachedValid(SECRET + i);
      }
      Thread.sleep(10);
    }
    assertEquals(2 * n, calls.get(), "every key re-verified once, in time");
    keys.close();
  }

  /** A clock tests move by hand (the cache's ages run on it). */
  private static final class MovableClock extends Clock {
    private final java.util.concurrent.atomic.AtomicLong offsetMillis = new java.util.concurrent.atomic.AtomicLong();

    void advance(Duration d) {
      offsetMillis.addAndGet(d.toMillis());
    }

    @Override
    public java.time.ZoneId getZone() {
      return java.time.ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      throw new UnsupportedOperationException();
    }

    @Override
    public java.time.Instant instant() {
      return java.time.Instant.ofEpochMilli(millis());
    }

    @Override
    public long millis() {
      return System.currentTimeMillis() + offsetMillis.get();
    }
  }
}
