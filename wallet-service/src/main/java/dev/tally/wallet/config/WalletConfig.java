package dev.tally.wallet.config;

import dev.tally.common.config.Env;
import dev.tally.common.db.DatabaseConfig;
import dev.tally.common.grpc.ServerConfig;
import dev.tally.common.kafka.KafkaConfig;

/** Everything the wallet service reads from its environment, validated at start-up. */
public record WalletConfig(ServerConfig server, DatabaseConfig database, KafkaConfig kafka) {
  public static final int DEFAULT_PORT = 50062;
  public static final int DEFAULT_METRICS_PORT = 9466;

  public static WalletConfig fromEnv(Env env) {
    return new WalletConfig(
        ServerConfig.fromEnv(env, DEFAULT_PORT, DEFAULT_METRICS_PORT),
        DatabaseConfig.fromEnv(env, "wallet"),
        KafkaConfig.fromEnv(env));
  }
}
