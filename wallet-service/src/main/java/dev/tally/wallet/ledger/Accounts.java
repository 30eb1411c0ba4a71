package dev.tally.wallet.ledger;

/** Ledger account names. A wallet has a paid account (its own name) and a granted-credit account. */
public final class Accounts {
  private Accounts() {}

  public static String paid(String wallet) {
    return wallet;
  }

  public static String granted(String wallet) {
    return wallet + "/granted";
  }

  /** True for the shared system accounts (unbounded totals), false for a wallet's own accounts. */
  public static boolean isSystem(String account) {
    return account.startsWith("system/");
  }

  /** Where deposits come from: the outside world. */
  public static String deposits(String currency) {
    return "system/deposits/" + currency;
  }

  /** Where usage debits go. */
  public static String revenue(String currency) {
    return "system/revenue/" + currency;
  }

  /** Where plan and promotional credits come from, and expired ones return to. */
  public static String grants(String currency) {
    return "system/grants/" + currency;
  }

  /** Where refunds of remaining balances go when money leaves Tally. */
  public static String refunds(String currency) {
    return "system/refunds/" + currency;
  }
}
