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
        minLength(env, "TALLY_INTERNAL_AUTH_KEY", DEV_INTERNAL_AUTH_KEY),
        minLength(env, "TALLY_SECRET_PEPPER", DEV_SECRET_PEPPER),
        SmtpConfig.fromEnv(env));
  }

  private static String minLength(Env env, String name, String dflt) {
    String v = env.string(name, dflt);
    if (v.length() < 16) {
      throw new dev.tally.common.config.ConfigException(name + " must have at least 16 characters");
    }
    return v;
  }

  @Override
  public String toString() {
    return "IdentityConfig[server=" + server + ", database=" + database.url() + ", kafka=" + kafka + ", policy="
        + policy + ", smtp=" + smtp + "]";
  }
}
