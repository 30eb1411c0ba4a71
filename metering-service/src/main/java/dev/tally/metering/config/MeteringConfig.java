package dev.tally.metering.config;

import dev.tally.common.config.ConfigException;
import dev.tally.common.config.Env;
import dev.tally.common.db.DatabaseConfig;
import dev.tally.common.grpc.ServerConfig;
import dev.tally.common.kafka.KafkaConfig;
import java.time.Duration;

/**
 * Everything the metering service reads from its environment, validated at start-up.
 *
 * @param identityTarget identity service, for key lookups and usage permissions ({@code TALLY_IDENTITY_TARGET})
 * @param internalAuthKey HMAC key of signed callers ({@code TALLY_INTERNAL_AUTH_KEY})
 * @param maxAge usage older than this is rejected OCCURRED_TOO_LONG_AGO ({@code TALLY_USAGE_MAX_AGE}, default 7d)
 * @param maxFutureSkew usage further in the future is rejected OCCURRED_IN_FUTURE ({@code TALLY_USAGE_MAX_SKEW}, 5m)
 */
public record MeteringConfig(ServerConfig server, DatabaseConfig database, KafkaConfig kafka, String identityTarget,
    String internalAuthKey, Duration maxAge, Duration maxFutureSkew) {
  public static final int DEFAULT_PORT = 50063;
  public static final int DEFAULT_METRICS_PORT = 9467;
  public static final String DEV_INTERNAL_AUTH_KEY = "dev-internal-auth-key-change-me";

  public static MeteringConfig fromEnv(Env env) {
    String key = env.secret("TALLY_INTERNAL_AUTH_KEY");
    return new MeteringConfig(
        ServerConfig.fromEnv(env, DEFAULT_PORT, DEFAULT_METRICS_PORT),
        DatabaseConfig.fromEnv(env, "metering"),
        KafkaConfig.fromEnv(env),
        env.string("TALLY_IDENTITY_TARGET", "localhost:50061"),
        key,
        env.duration("TALLY_USAGE_MAX_AGE", Duration.ofDays(7), Duration.ofMinutes(1), Duration.ofDays(90)),
        env.duration("TALLY_USAGE_MAX_SKEW", Duration.ofMinutes(5), Duration.ZERO, Duration.ofHours(1)));
  }

  public static MeteringConfig local(ServerConfig server, DatabaseConfig db, KafkaConfig kafka, String identity) {
    return new MeteringConfig(server, db, kafka, identity, DEV_INTERNAL_AUTH_KEY, Duration.ofDays(7),
        Duration.ofMinutes(5));
  }

  @Override
  public String toString() {
    return "MeteringConfig[server=" + server + ", database=" + database.url() + ", kafka=" + kafka + ", identity="
        + identityTarget + ", maxAge=" + maxAge + ", maxFutureSkew=" + maxFutureSkew + "]";
  }
}
