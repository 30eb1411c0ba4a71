package dev.tally.identity.config;

import dev.tally.common.config.Env;
import dev.tally.common.db.DatabaseConfig;
import dev.tally.common.grpc.ServerConfig;
import dev.tally.common.kafka.KafkaConfig;

/** Everything the identity service reads from its environment, validated at start-up. */
public record IdentityConfig(ServerConfig server, DatabaseConfig database, KafkaConfig kafka) {
  public static final int DEFAULT_PORT = 50061;
  public static final int DEFAULT_METRICS_PORT = 9465;

  public static IdentityConfig fromEnv(Env env) {
    return new IdentityConfig(
        ServerConfig.fromEnv(env, DEFAULT_PORT, DEFAULT_METRICS_PORT),
        DatabaseConfig.fromEnv(env, "identity"),
        KafkaConfig.fromEnv(env));
  }
}
