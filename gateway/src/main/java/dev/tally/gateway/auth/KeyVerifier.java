package dev.tally.gateway.auth;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
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
import java.util.concurrent.TimeUnit;

/**
 * Verifies API key secrets on the hot path: asks identity once, then answers from memory (a Caffeine cache)
 * until the entry's time is up or an identity.v1 event about the key, its owner's membership or its team
 * drops it. An entry never outlives the answer it holds: its time is the shorter of the cache TTL and the
 * key's expiry (or a rotated-out secret's grace end), so an expired key is refused on time everywhere.
 * Secrets are held only as their SHA-256. Refusals are remembered briefly too, so a hammered bad key costs
 * nothing upstream.
 */
public final class KeyVerifier {
  private static final Duration NEGATIVE_TTL = Duration.ofSeconds(2);
  private static final int MAX_ENTRIES = 200_000;

  private final IdentityInternalServiceGrpc.IdentityInternalServiceBlockingStub identity;
  private final Duration ttl;
  private final Clock clock;
  private final Cache<SecretHash, Entry> bySecretHash;
  private final Map<String, Set<SecretHash>> byKey = new ConcurrentHashMap<>();
  private final Map<String, Set<SecretHash>> byTeam = new ConcurrentHashMap<>();

  /** An answer and how long it may be used (nanoseconds from when it was loaded). */
  private record Entry(VerifyApiKeyResponse verified, StatusRuntimeException refusal, long lifeNanos) {}

  public KeyVerifier(Channel identityChannel, CallerSigner signer, Duration ttl, Clock clock) {
    this.identity = IdentityInternalServiceGrpc.newBlockingStub(identityChannel)
        .withCallCredentials(signer.credentials(Caller.PLATFORM));
    this.ttl = ttl;
    this.clock = clock;
    this.bySecretHash = Caffeine.newBuilder()
        .maximumSize(MAX_ENTRIES)
        .ticker(() -> TimeUnit.MILLISECONDS.toNanos(clock.millis()))
        .expireAfter(Expiry.<SecretHash, Entry>creating((hash, e) -> Duration.ofNanos(e.lifeNanos())))
        .recordStats().build();
  }

  /** Key-cache hits, misses and evictions as {@code cache.*{cache="gateway.keys"}}. */
  public KeyVerifier metrics(io.micrometer.core.instrument.MeterRegistry registry) {
    io.micrometer.core.instrument.binder.cache.CaffeineCacheMetrics.monitor(registry, bySecretHash, "gateway.keys");
    return this;
  }

  /** The cached answer for a secret known to be valid right now, else empty (nothing is asked upstream). */
  public java.util.Optional<VerifyApiKeyResponse> cachedValid(String secret) {
    Entry e = bySecretHash.getIfPresent(hash(secret));
    return e == null || e.verified() == null ? java.util.Optional.empty() : java.util.Optional.of(e.verified());
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
    Entry e = bySecretHash.getIfPresent(hash);
    if (e == null) {
      e = load(hash, secret);
    }
    if (e.refusal() != null) {
      throw new StatusRuntimeException(e.refusal().getStatus(), e.refusal().getTrailers());
    }
    return e.verified();
  }

  private Entry load(SecretHash hash, String secret) {
    Entry e;
    try {
      VerifyApiKeyResponse v = identity.withDeadlineAfter(5, TimeUnit.SECONDS)
          .verifyApiKey(VerifyApiKeyRequest.newBuilder().setSecret(secret).build());
      long life = ttl.toNanos();
      if (v.hasValidUntil()) {
        long left = Duration.between(clock.instant(), ProtoTime.instant(v.getValidUntil())).toNanos();
        life = Math.max(0, Math.min(life, left));
      }
      e = new Entry(v, null, life);
      index(byKey, v.getApiKey().getName(), hash);
      if (!v.getPrincipal().getTeam().isEmpty()) {
        index(byTeam, v.getPrincipal().getTeam(), hash);
      }
    } catch (StatusRuntimeException refusal) {
      Status.Code code = refusal.getStatus().getCode();
      if (code != Status.Code.UNAUTHENTICATED && code != Status.Code.PERMISSION_DENIED) {
        throw refusal; // identity unavailable: nothing to remember
      }
      e = new Entry(null, refusal, NEGATIVE_TTL.toNanos());
    }
    bySecretHash.put(hash, e);
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
    bySecretHash.invalidateAll();
    byKey.clear();
    byTeam.clear();
  }

  private void drop(Set<SecretHash> hashes) {
    if (hashes != null) {
      bySecretHash.invalidateAll(hashes);
    }
  }

  private static void index(Map<String, Set<SecretHash>> index, String name, SecretHash hash) {
    index.computeIfAbsent(name, k -> ConcurrentHashMap.newKeySet()).add(hash);
  }
}
