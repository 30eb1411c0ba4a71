package dev.tally.gateway.config;

import dev.tally.common.config.ConfigException;
import dev.tally.common.config.Env;
import dev.tally.common.grpc.ServerConfig;
import dev.tally.common.kafka.KafkaConfig;
import java.time.Duration;

/**
 * Everything the gateway reads from its environment.
 *
 * @param identityTarget address of the identity service ({@code TALLY_IDENTITY_TARGET})
 * @param walletTarget address of the wallet service ({@code TALLY_WALLET_TARGET})
 * @param meteringTarget address of the metering service ({@code TALLY_METERING_TARGET})
 * @param platformToken the platform backend's bearer token ({@code TALLY_PLATFORM_TOKEN}; a secret)
 * @param internalAuthKey HMAC key the gateway signs callers with for the services ({@code TALLY_INTERNAL_AUTH_KEY})
 * @param keyCacheTtl how long a verified key is trusted without asking identity ({@code TALLY_KEY_CACHE_TTL}, 60s;
 *     revocations arrive as events within a second regardless)
 * @param authFailureLimit failed authentications per client address per minute before it is throttled
 *     ({@code TALLY_AUTH_FAILURE_LIMIT}, 30)
 * @param leaseTtl how long a lease of hard-mode balance lives in the wallet ({@code TALLY_ADMISSION_LEASE_TTL},
 *     10s; the gateway admits from it in memory for 70 % of that); zero: every hard-mode Admit is reserved by
 *     the wallet on its own
 */
public record GatewayConfig(
    ServerConfig server,
    KafkaConfig kafka,
    String identityTarget,
    String walletTarget,
    String meteringTarget,
    String platformToken,
    String internalAuthKey,
    Duration keyCacheTtl,
    int authFailureLimit,
    Duration leaseTtl) {
  public static final int DEFAULT_PORT = 50051;
  public static final int DEFAULT_METRICS_PORT = 9464;
  public static final Duration DEFAULT_LEASE_TTL = Duration.ofSeconds(10);
  public static final String DEV_PLATFORM_TOKEN = "dev-platform-token-change-me";
  public static final String DEV_INTERNAL_AUTH_KEY = "dev-internal-auth-key-change-me";

  public static GatewayConfig fromEnv(Env env) {
    String token = env.secret("TALLY_PLATFORM_TOKEN");
    String key = env.secret("TALLY_INTERNAL_AUTH_KEY");
    return new GatewayConfig(
        ServerConfig.fromEnv(env, DEFAULT_PORT, DEFAULT_METRICS_PORT),
        KafkaConfig.fromEnv(env),
        env.string("TALLY_IDENTITY_TARGET", "localhost:50061"),
        env.string("TALLY_WALLET_TARGET", "localhost:50062"),
        env.string("TALLY_METERING_TARGET", "localhost:50063"),
        token,
        key,
        env.duration("TALLY_KEY_CACHE_TTL", Duration.ofSeconds(60), Duration.ZERO, Duration.ofHours(1)),
        env.integer("TALLY_AUTH_FAILURE_LIMIT", 30, 1, 1_000_000),
        env.duration("TALLY_ADMISSION_LEASE_TTL", DEFAULT_LEASE_TTL, Duration.ZERO, Duration.ofMinutes(10)));
  }

  public static GatewayConfig local(ServerConfig server, KafkaConfig kafka, String identity, String wallet,
      String metering) {
    return new GatewayConfig(server, kafka, identity, wallet, metering, DEV_PLATFORM_TOKEN, DEV_INTERNAL_AUTH_KEY,
        Duration.ofSeconds(60), 30, DEFAULT_LEASE_TTL);
  }

  /** The same gateway with leases living {@code ttl} (zero: none). */
  public GatewayConfig withLeaseTtl(Duration ttl) {
    return new GatewayConfig(server, kafka, identityTarget, walletTarget, meteringTarget, platformToken,
        internalAuthKey, keyCacheTtl, authFailureLimit, ttl);
  }

  @Override
  public String toString() {
    return "GatewayConfig[server=" + server + ", kafka=" + kafka + ", identity=" + identityTarget + ", wallet="
        + walletTarget + ", metering=" + meteringTarget + "]";
  }
}
