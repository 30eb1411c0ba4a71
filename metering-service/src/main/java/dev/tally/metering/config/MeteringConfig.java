package dev.tally.metering.config;

import dev.tally.common.config.Env;
import dev.tally.common.db.DatabaseConfig;
import dev.tally.common.grpc.ServerConfig;
import dev.tally.common.kafka.KafkaConfig;

/** Everything the metering service reads from its environment, validated at start-up. */
public record MeteringConfig(ServerConfig server, DatabaseConfig database, KafkaConfig kafka) {
  public static final int DEFAULT_PORT = 50063;
  public static final int DEFAULT_METRICS_PORT = 9467;

  public static MeteringConfig fromEnv(Env env) {
    return new MeteringConfig(
        ServerConfig.fromEnv(env, DEFAULT_PORT, DEFAULT_METRICS_PORT),
        DatabaseConfig.fromEnv(env, "metering"),
        KafkaConfig.fromEnv(env));
  }
}
