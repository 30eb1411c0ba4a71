package dev.tally.common.kafka;

import java.util.Set;

/** The Kafka topics of the contract; records are keyed by billing account (audit events by scope). */
public final class Topics {
  /** Priced usage events from metering; consumed by the wallet (debits) and by metering (rollups). */
  public static final String USAGE = "usage.v1";
  /** Identity changes (teams, members, keys); consumed by the wallet and every gateway. */
  public static final String IDENTITY = "identity.v1";
  /** Wallet state changes (balances, suspension, limits, notifications); consumed by every gateway. */
  public static final String WALLET = "wallet.v1";

  /** Administrative actions of wallet and metering (keyed by scope); kept in the audit log by identity. */
  public static final String AUDIT = "audit.v1";

  public static final Set<String> ALL = Set.of(USAGE, IDENTITY, WALLET, AUDIT);

  private Topics() {}
}
