package dev.tally.identity.config;

import dev.tally.common.config.Env;
import dev.tally.common.db.DatabaseConfig;
import dev.tally.common.grpc.ServerConfig;
import dev.tally.common.kafka.KafkaConfig;
import dev.tally.identity.mail.SmtpConfig;

/**
 * Everything the identity service reads from its environment, validated at start-up.
 *
 * @param internalAuthKey HMAC key the gateway signs callers with ({@code TALLY_INTERNAL_AUTH_KEY}, shared in-cluster)
 * @param secretPepper key of the keyed hashes of API keys and invitation tokens ({@code TALLY_SECRET_PEPPER});
 *     changing it invalidates every key
 * @param smtp where invitation mails go (off unless {@code TALLY_SMTP_HOST} is set)
 */
public record IdentityConfig(
    ServerConfig server,
    DatabaseConfig database,
    KafkaConfig kafka,
    IdentityPolicy policy,
    String internalAuthKey,
    String secretPepper,
    SmtpConfig smtp) {
  public static final int DEFAULT_PORT = 50061;
  public static final int DEFAULT_METRICS_PORT = 9465;
  /** Local-development defaults; a deployment sets its own (the Helm chart requires them). */
  public static final String DEV_INTERNAL_AUTH_KEY = "dev-internal-auth-key-change-me";
  public static final String DEV_SECRET_PEPPER = "dev-secret-pepper-change-me";

  public static IdentityConfig fromEnv(Env env) {
    return new IdentityConfig(
        ServerConfig.fromEnv(env, DEFAULT_PORT, DEFAULT_METRICS_PORT),
        DatabaseConfig.fromEnv(env, "identity"),
        KafkaConfig.fromEnv(env),
        IdentityPolicy.fromEnv(env),
        env.secret("TALLY_INTERNAL_AUTH_KEY"),
        env.secret("TALLY_SECRET_PEPPER"),
        SmtpConfig.fromEnv(env));
  }

  @Override
  public String toString() {
    return "IdentityConfig[server=" + server + ", database=" + database.url() + ", kafka=" + kafka + ", policy="
        + policy + ", smtp=" + smtp + "]";
  }
}
