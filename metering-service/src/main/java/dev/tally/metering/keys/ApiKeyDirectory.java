package dev.tally.metering.keys;

import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.LoadingCache;
import dev.tally.common.admission.KeyScope;
import dev.tally.common.auth.Caller;
import dev.tally.common.auth.CallerSigner;
import dev.tally.proto.identity.v1.ApiKey;
import dev.tally.proto.identity.v1.GetApiKeyRequest;
import dev.tally.proto.identity.v1.GetApiKeyResponse;
import dev.tally.proto.identity.v1.IdentityServiceGrpc;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Who pays for a key and what it may be used for, asked of the identity service and kept (Caffeine). A
 * key's billing account, owner and team never change (revocation does not matter here: admitted usage is
 * always recorded); its allowed meters and models may, so each entry is refreshed in the background after
 * {@link #REFRESH} while the known answer keeps serving (also while identity is unreachable).
 */
public class ApiKeyDirectory {
  private static final int MAX_CACHED = 100_000;
  static final Duration REFRESH = Duration.ofSeconds(5);

  /** The billing facts of a key, and what it may be used for. */
  public record KeyInfo(String name, String billingAccount, String user, String team, String kind, KeyScope scope) {}

  private final IdentityServiceGrpc.IdentityServiceBlockingStub identity;
  private final LoadingCache<String, KeyInfo> cache;

  public ApiKeyDirectory(Channel identityChannel, CallerSigner signer) {
    this.identity = IdentityServiceGrpc.newBlockingStub(identityChannel)
        .withCallCredentials(signer.credentials(Caller.PLATFORM));
    this.cache = Caffeine.newBuilder().maximumSize(MAX_CACHED).refreshAfterWrite(REFRESH).build(this::load);
  }

  /** The key's facts, or empty when no such key exists. */
  public Optional<KeyInfo> lookup(String name) {
    return Optional.ofNullable(cache.get(name));
  }

  /** Asks identity; null (nothing cached) for a key that does not exist. */
  private KeyInfo load(String name) {
    try {
      GetApiKeyResponse r = identity.withDeadlineAfter(5, TimeUnit.SECONDS)
          .getApiKey(GetApiKeyRequest.newBuilder().setName(name).build());
      ApiKey k = r.getApiKey();
      KeyScope scope = new KeyScope(r.hasUsableMeters() ? Set.copyOf(r.getUsableMeters().getValuesList()) : null,
          r.hasUsableModels() ? Set.copyOf(r.getUsableModels().getValuesList()) : null);
      return new KeyInfo(k.getName(), k.getBillingAccount(), k.getOwner(), k.getTeam(), k.getKind().name(), scope);
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == Status.Code.NOT_FOUND || e.getStatus().getCode() == Status.Code.INVALID_ARGUMENT) {
        return null;
      }
      throw e;
    }
  }
}
