package dev.tally.wallet.config;

import dev.tally.common.config.Env;
import dev.tally.common.db.DatabaseConfig;
import dev.tally.common.grpc.ServerConfig;
import dev.tally.common.kafka.KafkaConfig;

/**
 * Everything the wallet service reads from its environment, validated at start-up.
 *
 * @param identityTarget the identity service, asked whether a caller may see or manage a team's billing
 *     ({@code TALLY_IDENTITY_TARGET})
 * @param internalAuthKey HMAC key of signed callers ({@code TALLY_INTERNAL_AUTH_KEY})
 */
public record WalletConfig(ServerConfig server, DatabaseConfig database, KafkaConfig kafka, WalletPolicy policy,
    String identityTarget, String internalAuthKey) {
  public static final int DEFAULT_PORT = 50062;
  public static final int DEFAULT_METRICS_PORT = 9466;
  public static final String DEV_INTERNAL_AUTH_KEY = "dev-internal-auth-key-change-me";

  public static WalletConfig fromEnv(Env env) {
    String key = env.secret("TALLY_INTERNAL_AUTH_KEY");
    return new WalletConfig(
        ServerConfig.fromEnv(env, DEFAULT_PORT, DEFAULT_METRICS_PORT),
        DatabaseConfig.fromEnv(env, "wallet"),
        KafkaConfig.fromEnv(env),
        WalletPolicy.fromEnv(env),
        env.string("TALLY_IDENTITY_TARGET", "localhost:50061"),
        key);
  }

  @Override
  public String toString() {
    return "WalletConfig[server=" + server + ", database=" + database.url() + ", kafka=" + kafka + ", policy="
        + policy + ", identity=" + identityTarget + "]";
  }
}
