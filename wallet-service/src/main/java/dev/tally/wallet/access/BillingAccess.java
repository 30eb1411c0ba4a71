package dev.tally.wallet.access;

import dev.tally.common.auth.Caller;

/**
 * Who may read and manage a wallet's billing. The platform may do everything; a user their own personal
 * wallet; for a team wallet the identity service decides (BILLING_VIEW, BILLING_MANAGE). A caller who is
 * not a member gets NOT_FOUND, a member without the permission PERMISSION_DENIED ROLE_FORBIDDEN.
 */
public interface BillingAccess {
  /** Resolves {@code users/me}, {@code teams/{t}} or {@code wallets/{w}} to a wallet name. */
  String resolve(Caller caller, String nameOrOwner);

  void requireView(Caller caller, String wallet);

  void requireManage(Caller caller, String wallet);

  /** NOT_FOUND unless the wallet's owner (team or user) exists: money is never put where nobody is. */
  void requireOwnerExists(String wallet);

  /** Who owns a key and which wallet it bills ({@code apiKeys/{k}}), or empty when there is no such key. */
  java.util.Optional<KeyOwner> keyOwner(String apiKey);

  /** A key's owner ({@code users/{u}}) and the wallet it bills. */
  record KeyOwner(String user, String billingAccount) {}
}
