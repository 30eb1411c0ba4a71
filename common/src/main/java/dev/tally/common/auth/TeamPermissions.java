package dev.tally.common.auth;

import dev.tally.common.error.Reasons;
import dev.tally.common.error.TallyException;
import dev.tally.proto.identity.v1.CheckPermissionRequest;
import dev.tally.proto.identity.v1.CheckPermissionResponse;
import dev.tally.proto.identity.v1.IdentityServiceGrpc;
import dev.tally.proto.identity.v1.Permission;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.concurrent.TimeUnit;

/**
 * Asks the identity service (as the platform, signed) whether a user holds a permission in a team, for the
 * services that guard team resources of their own (wallets, usage). A user who is not a member gets
 * NOT_FOUND for {@code what}; a member without the permission PERMISSION_DENIED ROLE_FORBIDDEN.
 */
public final class TeamPermissions {
  private final IdentityServiceGrpc.IdentityServiceBlockingStub identity;

  public TeamPermissions(Channel identityChannel, CallerSigner signer) {
    this.identity = IdentityServiceGrpc.newBlockingStub(identityChannel)
        .withCallCredentials(signer.credentials(Caller.PLATFORM));
  }

  /** The caller's role in {@code team} (empty when not a member), and whether it has {@code permission}. */
  public CheckPermissionResponse check(String user, String team, Permission permission) {
    try {
      return identity.withDeadlineAfter(5, TimeUnit.SECONDS).checkPermission(CheckPermissionRequest.newBuilder()
          .setPrincipal(user).setTeam(team).setPermission(permission).build());
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == Status.Code.NOT_FOUND) {
        return CheckPermissionResponse.getDefaultInstance();
      }
      throw new TallyException(Status.Code.UNAVAILABLE, Reasons.IDENTITY_UNAVAILABLE,
          "permissions cannot be checked right now; retry");
    }
  }

  /** The key {@code name} ({@code apiKeys/{k}}) as identity knows it, or empty when there is none. */
  public java.util.Optional<dev.tally.proto.identity.v1.ApiKey> apiKey(String name) {
    try {
      return java.util.Optional.of(identity.withDeadlineAfter(5, TimeUnit.SECONDS).getApiKey(
          dev.tally.proto.identity.v1.GetApiKeyRequest.newBuilder().setName(name).build()).getApiKey());
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == Status.Code.NOT_FOUND || e.getStatus().getCode() == Status.Code.INVALID_ARGUMENT) {
        return java.util.Optional.empty();
      }
      throw new TallyException(Status.Code.UNAVAILABLE, Reasons.IDENTITY_UNAVAILABLE, "the key cannot be looked up "
          + "right now; retry");
    }
  }

  /** Whether {@code owner} ({@code teams/{t}} or {@code users/{u}}) exists (teams: and is not deleted). */
  public boolean exists(String owner) {
    try {
      var stub = identity.withDeadlineAfter(5, TimeUnit.SECONDS);
      if (owner.startsWith("teams/")) {
        stub.getTeam(dev.tally.proto.identity.v1.GetTeamRequest.newBuilder().setName(owner).build());
      } else {
        stub.getUser(dev.tally.proto.identity.v1.GetUserRequest.newBuilder().setName(owner).build());
      }
      return true;
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == Status.Code.NOT_FOUND) {
        return false;
      }
      throw new TallyException(Status.Code.UNAVAILABLE, Reasons.IDENTITY_UNAVAILABLE,
          "the wallet's owner cannot be checked right now; retry");
    }
  }

  /** Requires {@code permission}; {@code what} names the guarded resource in the NOT_FOUND message. */
  public void require(String user, String team, Permission permission, String what) {
    CheckPermissionResponse r = check(user, team, permission);
    if (r.getRole().isEmpty()) {
      throw TallyException.notFound(Reasons.NOT_FOUND, what + " not found");
    }
    if (!r.getAllowed()) {
      throw TallyException.permissionDenied(Reasons.ROLE_FORBIDDEN,
          "your role in this team does not allow " + permission.name());
    }
  }
}
