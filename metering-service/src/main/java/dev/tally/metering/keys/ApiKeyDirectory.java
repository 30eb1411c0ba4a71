package dev.tally.metering.keys;

import dev.tally.common.auth.Caller;
import dev.tally.common.auth.CallerSigner;
import dev.tally.proto.identity.v1.ApiKey;
import dev.tally.proto.identity.v1.GetApiKeyRequest;
import dev.tally.proto.identity.v1.IdentityServiceGrpc;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Who pays for a key: asked of the identity service once and kept, since a key's billing account, owner
 * and team never change (revocation does not matter here: admitted usage is always recorded).
 */
public class ApiKeyDirectory {
  private static final int MAX_CACHED = 100_000;

  /** The billing facts of a key. */
  public record KeyInfo(String name, String billingAccount, String user, String team, String kind) {}

  private final IdentityServiceGrpc.IdentityServiceBlockingStub identity;
  private final ConcurrentHashMap<String, KeyInfo> cache = new ConcurrentHashMap<>();

  public ApiKeyDirectory(Channel identityChannel, CallerSigner signer) {
    this.identity = IdentityServiceGrpc.newBlockingStub(identityChannel)
        .withCallCredentials(signer.credentials(Caller.PLATFORM));
  }

  /** The key's facts, or empty when no such key exists. */
  public Optional<KeyInfo> lookup(String name) {
    KeyInfo cached = cache.get(name);
    if (cached != null) {
      return Optional.of(cached);
    }
    try {
      ApiKey k = identity.withDeadlineAfter(5, TimeUnit.SECONDS)
          .getApiKey(GetApiKeyRequest.newBuilder().setName(name).build()).getApiKey();
      KeyInfo info = new KeyInfo(k.getName(), k.getBillingAccount(), k.getOwner(), k.getTeam(),
          k.getKind().name());
      if (cache.size() < MAX_CACHED) {
        cache.put(name, info);
      }
      return Optional.of(info);
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == Status.Code.NOT_FOUND || e.getStatus().getCode() == Status.Code.INVALID_ARGUMENT) {
        return Optional.empty();
      }
      throw e;
    }
  }
}
