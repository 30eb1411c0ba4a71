package dev.tally.gateway.auth;

import dev.tally.common.auth.Caller;
import dev.tally.common.auth.CallerSigner;
import dev.tally.common.db.Idempotency;
import dev.tally.proto.identity.v1.IdentityServiceGrpc;
import dev.tally.proto.identity.v1.VerifyApiKeyRequest;
import dev.tally.proto.identity.v1.VerifyApiKeyResponse;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Verifies API key secrets on the hot path: asks identity once, then answers from memory until the entry's
 * time is up or an identity.v1 event about the key, its owner's membership or its team drops it. Secrets
 * are held only as their SHA-256. Refusals are remembered briefly too, so a hammered bad key costs nothing
 * upstream.
 */
public final class KeyVerifier {
  private static final Duration NEGATIVE_TTL = Duration.ofSeconds(2);
  private static final int MAX_ENTRIES = 200_000;

  private final IdentityServiceGrpc.IdentityServiceBlockingStub identity;
  private final Duration ttl;
  private final Clock clock;
  private final Map<String, Entry> bySecretHash = new ConcurrentHashMap<>();
  private final Map<String, Set<String>> byKey = new ConcurrentHashMap<>();
  private final Map<String, Set<String>> byTeam = new ConcurrentHashMap<>();

  private record Entry(VerifyApiKeyResponse verified, StatusRuntimeException refusal, long expiresAtMillis) {}

  public KeyVerifier(Channel identityChannel, CallerSigner signer, Duration ttl, Clock clock) {
    this.identity = IdentityServiceGrpc.newBlockingStub(identityChannel)
        .withCallCredentials(signer.credentials(Caller.PLATFORM));
    this.ttl = ttl;
    this.clock = clock;
  }

  /** The key's principal and permissions; throws the identity service's refusal (KEY_INVALID, KEY_REVOKED, ...). */
  public VerifyApiKeyResponse verify(String secret) {
    String hash = HexFormat.of().formatHex(Idempotency.sha256(secret.getBytes(StandardCharsets.UTF_8)));
    long now = clock.millis();
    Entry e = bySecretHash.get(hash);
    if (e == null || e.expiresAtMillis() <= now) {
      e = load(hash, secret, now);
    }
    if (e.refusal() != null) {
      throw new StatusRuntimeException(e.refusal().getStatus(), e.refusal().getTrailers());
    }
    return e.verified();
  }

  private Entry load(String hash, String secret, long now) {
    Entry e;
    try {
      VerifyApiKeyResponse v = identity.withDeadlineAfter(5, TimeUnit.SECONDS)
          .verifyApiKey(VerifyApiKeyRequest.newBuilder().setSecret(secret).build());
      e = new Entry(v, null, now + ttl.toMillis());
      index(byKey, v.getApiKey().getName(), hash);
      if (!v.getPrincipal().getTeam().isEmpty()) {
        index(byTeam, v.getPrincipal().getTeam(), hash);
      }
    } catch (StatusRuntimeException refusal) {
      Status.Code code = refusal.getStatus().getCode();
      if (code != Status.Code.UNAUTHENTICATED && code != Status.Code.PERMISSION_DENIED) {
        throw refusal; // identity unavailable: nothing to remember
      }
      e = new Entry(null, refusal, now + NEGATIVE_TTL.toMillis());
    }
    if (bySecretHash.size() >= MAX_ENTRIES) {
      bySecretHash.clear(); // crude bound; entries come back on demand
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

  private void drop(Set<String> hashes) {
    if (hashes != null) {
      hashes.forEach(bySecretHash::remove);
    }
  }

  private static void index(Map<String, Set<String>> index, String name, String hash) {
    index.computeIfAbsent(name, k -> ConcurrentHashMap.newKeySet()).add(hash);
  }
}
