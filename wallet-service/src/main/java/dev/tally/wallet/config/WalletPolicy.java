package dev.tally.wallet.config;

import dev.tally.common.config.ConfigException;
import dev.tally.common.config.Env;
import dev.tally.wallet.ledger.Money;
import dev.tally.wallet.plans.Plan;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Money rules of a deployment.
 *
 * @param currency ledger currency of new wallets ({@code TALLY_CURRENCY}, default USD)
 * @param suspendThreshold available balance at or below which a wallet is suspended
 *     ({@code TALLY_SUSPEND_THRESHOLD_NANOS}, default $0.05)
 * @param lowBalanceThreshold balance at or below which a LowBalance event is sent
 *     ({@code TALLY_LOW_BALANCE_THRESHOLD_NANOS}, default $1)
 * @param holdTtl default life of a hold ({@code TALLY_HOLD_TTL}, default 10m)
 * @param plans the plan catalog ({@code TALLY_PLANS}: {@code id:Display Name:nanosPerSeat,...})
 * @param chargeExpiredHolds what a hold whose usage never arrives costs when it expires
 *     ({@code TALLY_HOLD_EXPIRY}: {@code release} — nothing, the default — or {@code charge}: its estimate)
 */
public record WalletPolicy(String currency, long suspendThreshold, long lowBalanceThreshold, Duration holdTtl,
    List<Plan> plans, boolean chargeExpiredHolds) {

  public static final List<Plan> DEFAULT_PLANS = List.of(
      new Plan("starter", "Starter", 5 * Money.UNIT),
      new Plan("pro", "Pro", 20 * Money.UNIT),
      new Plan("enterprise", "Enterprise", 100 * Money.UNIT));

  public static WalletPolicy defaults() {
    return new WalletPolicy("USD", 50_000_000L, Money.UNIT, Duration.ofMinutes(10), DEFAULT_PLANS, false);
  }

  public static WalletPolicy fromEnv(Env env) {
    WalletPolicy d = defaults();
    String currency = env.string("TALLY_CURRENCY", d.currency());
    if (!currency.matches("[A-Z]{3}")) {
      throw new ConfigException("TALLY_CURRENCY must be an ISO 4217 code like USD, got " + currency);
    }
    return new WalletPolicy(currency,
        env.longValue("TALLY_SUSPEND_THRESHOLD_NANOS", d.suspendThreshold(), 0, Money.MAX_AMOUNT),
        env.longValue("TALLY_LOW_BALANCE_THRESHOLD_NANOS", d.lowBalanceThreshold(), 0, Money.MAX_AMOUNT),
        env.duration("TALLY_HOLD_TTL", d.holdTtl(), Duration.ofSeconds(1), Duration.ofDays(1)),
        plans(env.string("TALLY_PLANS", "")),
        holdExpiry(env.string("TALLY_HOLD_EXPIRY", "release")));
  }

  /** The same rules, expired holds charged at their estimate ({@code true}) or released. */
  public WalletPolicy withChargeExpiredHolds(boolean charge) {
    return new WalletPolicy(currency, suspendThreshold, lowBalanceThreshold, holdTtl, plans, charge);
  }

  private static boolean holdExpiry(String rule) {
    return switch (rule) {
      case "release" -> false;
      case "charge" -> true;
      default -> throw new ConfigException("TALLY_HOLD_EXPIRY must be release or charge, got " + rule);
    };
  }

  private static List<Plan> plans(String spec) {
    if (spec.isEmpty()) {
      return DEFAULT_PLANS;
    }
    List<Plan> plans = new ArrayList<>();
    for (String entry : spec.split(",")) {
      String[] parts = entry.trim().split(":");
      if (parts.length != 3 || !parts[0].matches("[a-z][a-z0-9-]{0,30}")) {
        throw new ConfigException("TALLY_PLANS entries must look like id:Display Name:nanosPerSeat, got " + entry);
      }
      try {
        plans.add(new Plan(parts[0], parts[1], Long.parseLong(parts[2])));
      } catch (NumberFormatException e) {
        throw new ConfigException("TALLY_PLANS: included usage must be an integer of nanos in " + entry);
      }
    }
    return List.copyOf(plans);
  }
}
