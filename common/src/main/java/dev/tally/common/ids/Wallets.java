package dev.tally.common.ids;

/**
 * Wallet names are derived from their owner, so identity, wallet and metering agree on them without a
 * lookup: {@code wallets/team-{teamId}} and {@code wallets/user-{userId}}.
 */
public final class Wallets {
  private Wallets() {}

  public static String ofTeam(String teamId) {
    return "wallets/team-" + teamId;
  }

  public static String ofUser(String userId) {
    return "wallets/user-" + userId;
  }

  /** The owner resource ({@code teams/..} or {@code users/..}) of a wallet name, or null when malformed. */
  public static String owner(String walletName) {
    if (walletName.startsWith("wallets/team-")) {
      return "teams/" + walletName.substring("wallets/team-".length());
    }
    if (walletName.startsWith("wallets/user-")) {
      return "users/" + walletName.substring("wallets/user-".length());
    }
    return null;
  }
}
