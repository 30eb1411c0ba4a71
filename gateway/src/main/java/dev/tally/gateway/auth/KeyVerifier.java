package dev.tally.gateway.auth;

import com.github.benmanes.caffeine.cache.AsyncCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.google.common.util.concurrent.RateLimiter;
import dev.tally.common.auth.Caller;
import dev.tally.common.auth.CallerSigner;
import dev.tally.common.ids.Sha256;
import dev.tally.common.grpc.ProtoTime;
import dev.tally.proto.identity.v1.IdentityInternalServiceGrpc;
import dev.tally.proto.identity.v1.VerifyApiKeyRequest;
import dev.tally.proto.identity.v1.VerifyApiKeyResponse;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Verifies API key secrets on the hot path: asks identity once, then answers from memory (a Caffeine cache)
 * until the entry's time is up or an identity.v1 event about the key, its owner's membership or its team
 * drops it. An entry never outlives the answer it holds: its time is the shorter of the cache TTL and the
 * key's expiry (or a rotated-out secret's grace end), so an expired key is refused on time everywhere.
 * The cache holds secrets only as their SHA-256 (one queued for re-verification waits in memory in clear,
 * as a call in flight does, until it is sent). Refusals are remembered briefly too, so a hammered bad key costs
 * nothing upstream.
 *
 * <p>Never a storm upstream: callers of a secret being verified wait for that one call (an async cache holds
 * the call in flight), and an answer in its last quarter of life is re-verified in the background, at a
 * steady pace, while it is still served — so thousands of keys whose entries end together under load neither
 * send every caller to identity at once nor flood it with re-verifications.
 */
public final class KeyVerifier implements AutoCloseable {
  private static final Duration NEGATIVE_TTL = Duration.ofSeconds(2);
  private static final int MAX_ENTRIES = 200_000;

  private final IdentityInternalServiceGrpc.IdentityInternalServiceBlockingStub identity;
  private final Duration ttl;
  private final int jitterDivisor;
  private final Clock clock;
  private final AsyncCache<SecretHash, Entry> bySecretHash;
  private final ExecutorService loaders = Executors.newVirtualThreadPerTaskExecutor();
  /**
   * Verifications in flight at most. When many keys need one at once (a cold start, a burst after a quiet
   * spell) they are asked a few dozen at a time, first come first served, so most callers are answered in
   * time instead of all of them sharing the identity service until every deadline has passed.
   */
  private final java.util.concurrent.Semaphore verifying = new java.util.concurrent.Semaphore(32, true);
  /** Background re-verifications under way at most: they never crowd out callers' own. */
  private final java.util.concurrent.Semaphore refreshes = new java.util.concurrent.Semaphore(16);
  /** Background re-verifications a second at least, however few keys are known. */
  static final double MIN_REFRESHES_PER_SECOND = 20;
  /** Answers due for a background re-verification, in the order they came due. */
  private final LinkedBlockingQueue<Refresh> dueRefreshes = new LinkedBlockingQueue<>(MAX_ENTRIES);
  private final RateLimiter refreshPace = RateLimiter.create(MIN_REFRESHES_PER_SECOND);
  private final Thread refresher;
  /** Moves on every invalidation: a background re-verification begun before one is not kept. */
  private final AtomicLong generation = new AtomicLong();
  private final Map<String, Set<SecretHash>> byKey = new ConcurrentHashMap<>();
  private final Map<String, Set<SecretHash>> byTeam = new ConcurrentHashMap<>();

  /**
   * An answer, how long it is fresh and how long it is kept (both nanoseconds from when it was loaded): past
   * its fresh life a valid answer is used only while no invalidation can have been missed.
   */
  private record Entry(VerifyApiKeyResponse verified, StatusRuntimeException refusal, long lifeNanos,
      long keepNanos, long loadedAtNanos, AtomicBoolean refreshing) {
    Entry(VerifyApiKeyResponse verified, StatusRuntimeException refusal, long lifeNanos, long keepNanos,
        long loadedAtNanos) {
      this(verified, refusal, lifeNanos, keepNanos, loadedAtNanos, new AtomicBoolean());
    }
  }

  /** Whether every identity.v1 event up to a moment ago was applied here; see {@link #staleWhile}. */
  private volatile java.util.function.BooleanSupplier eventsCurrent = () -> false;

  public KeyVerifier(Channel identityChannel, CallerSigner signer, Duration ttl, Clock clock) {
    this(identityChannel, signer, ttl, clock, 5);
  }

  /** {@code jitterDivisor}: answers live up to {@code ttl / jitterDivisor} less at random (0: exactly ttl). */
  KeyVerifier(Channel identityChannel, CallerSigner signer, Duration ttl, Clock clock, int jitterDivisor) {
    this.jitterDivisor = jitterDivisor;
    this.identity = IdentityInternalServiceGrpc.newBlockingStub(identityChannel)
        .withCallCredentials(signer.credentials(Caller.PLATFORM));
    this.ttl = ttl;
    this.clock = clock;
    this.bySecretHash = Caffeine.newBuilder()
        .maximumSize(MAX_ENTRIES)
        .ticker(this::nowNanos)
        .expireAfter(Expiry.<SecretHash, Entry>writing((hash, e) -> Duration.ofNanos(e.keepNanos())))
        .recordStats().buildAsync();
    refresher = Thread.ofVirtual().name("key-refresher").start(this::refreshInTurn);
  }

  /**
   * Stale while revalidating: an answer past the TTL is still used — and re-verified in the background — for
   * up to one more TTL (never past the key's own expiry) while {@code eventsCurrent} says this gateway has
   * applied identity.v1 up to a moment ago, so any revocation or membership change would already have
   * dropped it. The TTL is the backstop for missed events; with the stream current nothing was missed, and a
   * key idle longer than the TTL does not make its next callers — or a thousand such keys' at once — wait.
   */
  public KeyVerifier staleWhile(java.util.function.BooleanSupplier eventsCurrent) {
    this.eventsCurrent = eventsCurrent;
    return this;
  }

  /** Key-cache hits, misses and evictions as {@code cache.*{cache="gateway.keys"}}. */
  public KeyVerifier metrics(io.micrometer.core.instrument.MeterRegistry registry) {
    io.micrometer.core.instrument.binder.cache.CaffeineCacheMetrics.monitor(registry, bySecretHash.synchronous(),
        "gateway.keys");
    return this;
  }

  /**
   * The cached answer for a secret known to be valid right now, else empty; never waits (nothing is asked
   * upstream on the caller's time), so the transport thread may call it.
   */
  public java.util.Optional<VerifyApiKeyResponse> cachedValid(String secret) {
    SecretHash hash = hash(secret);
    CompletableFuture<Entry> f = bySecretHash.getIfPresent(hash);
    Entry e = f == null || !f.isDone() || f.isCompletedExceptionally() ? null : f.join();
    if (e == null || e.verified() == null || !usable(e)) {
      return java.util.Optional.empty();
    }
    refreshIfOld(hash, secret, e); // never waits: at most starts a background re-verification
    return java.util.Optional.of(e.verified());
  }

  /**
   * A secret's SHA-256, the cache's key (the secret itself is never kept): four longs, so a lookup compares
   * and hashes 32 bytes instead of formatting and hashing a 64-character string on every call.
   */
  private record SecretHash(long a, long b, long c, long d) {}

  private static SecretHash hash(String secret) {
    java.nio.ByteBuffer digest = java.nio.ByteBuffer.wrap(Sha256.of(secret.getBytes(StandardCharsets.UTF_8)));
    return new SecretHash(digest.getLong(), digest.getLong(), digest.getLong(), digest.getLong());
  }

  /** The key's principal and permissions; throws the identity service's refusal (KEY_INVALID, KEY_REVOKED, ...). */
  public VerifyApiKeyResponse verify(String secret) {
    SecretHash hash = hash(secret);
    CompletableFuture<Entry> f = lookup(hash, secret);
    Entry e = join(f);
    if (e.verified() != null && !usable(e)) {
      bySecretHash.asMap().remove(hash, f); // stale, and events may have been missed: ask again
      e = join(lookup(hash, secret));
    }
    refreshIfOld(hash, secret, e);
    if (e.refusal() != null) {
      throw new StatusRuntimeException(e.refusal().getStatus(), e.refusal().getTrailers());
    }
    return e.verified();
  }

  private CompletableFuture<Entry> lookup(SecretHash hash, String secret) {
    return bySecretHash.get(hash, (k, executor) -> CompletableFuture.supplyAsync(() -> load(k, secret), loaders));
  }

  private static Entry join(CompletableFuture<Entry> f) {
    try {
      return f.join();
    } catch (CompletionException failed) {
      throw failed.getCause() instanceof RuntimeException re ? re : failed; // identity unavailable
    }
  }

  /** The cache's time (the given clock, so tests can move it). */
  private long nowNanos() {
    return TimeUnit.MILLISECONDS.toNanos(clock.millis());
  }

  private long age(Entry e) {
    return nowNanos() - e.loadedAtNanos();
  }

  /** Fresh, or stale while no invalidation can have been missed. */
  private boolean usable(Entry e) {
    return age(e) < e.lifeNanos() || eventsCurrent.getAsBoolean();
  }

  /**
   * In its last quarter of life, a valid answer is re-verified in the background (once) while still served:
   * queued, and sent in turn by {@link #refreshInTurn}.
   */
  private void refreshIfOld(SecretHash hash, String secret, Entry e) {
    if (e.verified() == null || age(e) < e.lifeNanos() / 4 * 3 || !e.refreshing().compareAndSet(false, true)) {
      return;
    }
    if (!dueRefreshes.offer(new Refresh(hash, secret, e))) {
      e.refreshing().set(false); // a full queue: a later caller of this key tries again
    }
  }

  private record Refresh(SecretHash hash, String secret, Entry old) {}

  /**
   * Sends the queued re-verifications at a steady pace: at most twice the rate at which the keys known here
   * come due (every key once per half TTL), and at least {@link #MIN_REFRESHES_PER_SECOND}. Keys first
   * verified together — a gateway's cold start, a burst of new keys — come due together a TTL later; sent as
   * they came due, a thousand such keys put ~100 verifications a second on identity and its database for ten
   * seconds, in the middle of serving (bench rounds that met such a wave ran ~20 % slower). Paced, the same
   * refreshes take up to half a TTL, while the answers keep being served (stale ones only while events are
   * current), and every generation after comes due spread out.
   */
  private void refreshInTurn() {
    while (true) {
      Refresh r;
      try {
        r = dueRefreshes.take();
        refreshPace.setRate(refreshRate());
        refreshPace.acquire();
        refreshes.acquire();
      } catch (InterruptedException stopped) {
        return;
      }
      long seen = generation.get();
      CompletableFuture.supplyAsync(() -> load(r.hash(), r.secret()), loaders).whenComplete((fresh, failed) -> {
        refreshes.release();
        if (fresh != null && generation.get() == seen) {
          bySecretHash.put(r.hash(), CompletableFuture.completedFuture(fresh));
        } else {
          // Failed, or invalidated meanwhile: the old answer may be asked again by its next caller (paced too).
          r.old().refreshing().set(false);
        }
      });
    }
  }

  private double refreshRate() {
    double ttlSeconds = Math.max(0.001, ttl.toNanos() / 1e9);
    return Math.max(MIN_REFRESHES_PER_SECOND, 2 * bySecretHash.synchronous().estimatedSize() / ttlSeconds);
  }

  private Entry load(SecretHash hash, String secret) {
    verifying.acquireUninterruptibly();
    try {
      return ask(hash, secret);
    } finally {
      verifying.release();
    }
  }

  private Entry ask(SecretHash hash, String secret) {
    long seen = generation.get();
    Entry e;
    try {
      VerifyApiKeyResponse v = identity.withDeadlineAfter(5, TimeUnit.SECONDS)
          .verifyApiKey(VerifyApiKeyRequest.newBuilder().setSecret(secret).build());
      // Up to a fifth shorter at random: keys first verified together (a burst, a restart) come due apart.
      long life = ttl.toNanos() - (jitterDivisor == 0 ? 0
          : java.util.concurrent.ThreadLocalRandom.current().nextLong(ttl.toNanos() / jitterDivisor + 1));
      long keep = life + ttl.toNanos(); // stale, used only while events are current (staleWhile)
      if (v.hasValidUntil()) {
        long left = Duration.between(clock.instant(), ProtoTime.instant(v.getValidUntil())).toNanos();
        life = Math.max(0, Math.min(life, left));
        keep = Math.max(0, Math.min(keep, left)); // never past the key's expiry, stale or not
      }
      if (generation.get() != seen) {
        life = 0; // something was invalidated meanwhile, maybe this key: answer these callers, keep nothing
        keep = 0;
      }
      e = new Entry(v, null, life, keep, nowNanos());
      index(byKey, v.getApiKey().getName(), hash);
      if (!v.getPrincipal().getTeam().isEmpty()) {
        index(byTeam, v.getPrincipal().getTeam(), hash);
      }
    } catch (StatusRuntimeException refusal) {
      Status.Code code = refusal.getStatus().getCode();
      if (code != Status.Code.UNAUTHENTICATED && code != Status.Code.PERMISSION_DENIED) {
        throw refusal; // identity unavailable: nothing to remember
      }
      e = new Entry(null, refusal, NEGATIVE_TTL.toNanos(), NEGATIVE_TTL.toNanos(), nowNanos());
    }
    return e;
  }

  /** Drops what is known of a key (revoked, archived, rotated, restored). */
  public void invalidateKey(String apiKey) {
    drop(byKey.remove(apiKey));
  }

  /** Drops every key of a team (member removed or left, role changed, team deleted). */
  public void invalidateTeam(String team) {
    drop(byTeam.remove(team));
  }

  /** Drops everything (an event that could not be read might have been an invalidation). */
  public void invalidateAll() {
    generation.incrementAndGet();
    bySecretHash.synchronous().invalidateAll();
    byKey.clear();
    byTeam.clear();
  }

  private void drop(Set<SecretHash> hashes) {
    generation.incrementAndGet();
    if (hashes != null) {
      bySecretHash.synchronous().invalidateAll(hashes);
    }
  }

  private static void index(Map<String, Set<SecretHash>> index, String name, SecretHash hash) {
    index.computeIfAbsent(name, k -> ConcurrentHashMap.newKeySet()).add(hash);
  }

  /** Stops sending re-verifications (answers already cached are still served). */
  @Override
  public void close() {
    refresher.interrupt();
  }
}
