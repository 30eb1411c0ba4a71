package dev.tally.gateway.config;

import dev.tally.common.config.Env;
import dev.tally.common.grpc.ServerConfig;
import dev.tally.common.kafka.KafkaConfig;

/**
 * Everything the gateway reads from its environment.
 *
 * @param identityTarget address of the identity service ({@code TALLY_IDENTITY_TARGET})
 * @param walletTarget address of the wallet service ({@code TALLY_WALLET_TARGET})
 * @param meteringTarget address of the metering service ({@code TALLY_METERING_TARGET})
 */
public record GatewayConfig(
    ServerConfig server, KafkaConfig kafka, String identityTarget, String walletTarget, String meteringTarget) {
  public static final int DEFAULT_PORT = 50051;
  public static final int DEFAULT_METRICS_PORT = 9464;

  public static GatewayConfig fromEnv(Env env) {
    return new GatewayConfig(
        ServerConfig.fromEnv(env, DEFAULT_PORT, DEFAULT_METRICS_PORT),
        KafkaConfig.fromEnv(env),
        env.string("TALLY_IDENTITY_TARGET", "localhost:50061"),
        env.string("TALLY_WALLET_TARGET", "localhost:50062"),
        env.string("TALLY_METERING_TARGET", "localhost:50063"));
  }
}
