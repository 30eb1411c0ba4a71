package dev.tally.wallet.access;

import dev.tally.common.auth.Caller;
import dev.tally.common.auth.TeamPermissions;
import dev.tally.common.error.Reasons;
import dev.tally.common.error.TallyException;
import dev.tally.common.ids.Wallets;
import dev.tally.proto.identity.v1.Permission;
import java.util.regex.Pattern;

/** {@link BillingAccess} that asks the identity service (as the platform, signed) for team permissions. */
public final class IdentityBillingAccess implements BillingAccess {
  private static final Pattern TEAM = Pattern.compile("teams/[A-Za-z0-9_-]{1,64}");
  private static final Pattern USER = Pattern.compile("users/[A-Za-z0-9_-]{1,64}");

  private final TeamPermissions permissions;

  public IdentityBillingAccess(TeamPermissions permissions) {
    this.permissions = permissions;
  }

  @Override
  public String resolve(Caller caller, String name) {
    if ("users/me".equals(name)) {
      return Wallets.ofUser(caller.userId());
    }
    if (TEAM.matcher(name).matches()) {
      return Wallets.ofTeam(name.substring("teams/".length()));
    }
    if (USER.matcher(name).matches()) {
      return Wallets.ofUser(name.substring("users/".length()));
    }
    if (name.startsWith("wallets/") && Wallets.owner(name) != null) {
      return name;
    }
    throw TallyException.invalidArgument("wallet", "must be wallets/{wallet}, teams/{team} or users/me");
  }

  @Override
  public void requireView(Caller caller, String wallet) {
    require(caller, wallet, Permission.PERMISSION_BILLING_VIEW);
  }

  @Override
  public void requireManage(Caller caller, String wallet) {
    require(caller, wallet, Permission.PERMISSION_BILLING_MANAGE);
  }

  @Override
  public void requireOwnerExists(String wallet) {
    String owner = Wallets.owner(wallet);
    if (owner == null || !permissions.exists(owner)) {
      throw notFound(wallet);
    }
  }

  @Override
  public java.util.Optional<KeyOwner> keyOwner(String apiKey) {
    return permissions.apiKey(apiKey).map(k -> new KeyOwner(k.getOwner(), k.getBillingAccount()));
  }

  private void require(Caller caller, String wallet, Permission permission) {
    if (caller.platform()) {
      return;
    }
    String owner = Wallets.owner(wallet);
    if (owner == null || !caller.isUser()) {
      throw notFound(wallet);
    }
    if (owner.startsWith("users/")) {
      if (!owner.equals(caller.user())) {
        throw notFound(wallet);
      }
      return;
    }
    permissions.require(caller.user(), owner, permission, "wallet " + wallet);
  }

  private static TallyException notFound(String wallet) {
    return TallyException.notFound(Reasons.NOT_FOUND, "wallet " + wallet + " not found");
  }
}
