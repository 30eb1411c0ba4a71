package dev.tally.stack;

import dev.tally.common.config.ConfigException;
import dev.tally.common.config.Env;
import java.nio.file.Path;

/**
 * Settings of the local stack.
 *
 * @param dataDir where PostgreSQL keeps its data across restarts ({@code TALLY_DATA_DIR}, default {@code .tally/data})
 * @param ephemeral throw the data away at exit ({@code --ephemeral} or {@code TALLY_EPHEMERAL=true})
 * @param gatewayPort the one address a platform talks to ({@code TALLY_GATEWAY_PORT}, default 50051)
 * @param identityPort {@code TALLY_IDENTITY_PORT} (default 50061)
 * @param walletPort {@code TALLY_WALLET_PORT} (default 50062)
 * @param meteringPort {@code TALLY_METERING_PORT} (default 50063)
 * @param postgresPort embedded PostgreSQL ({@code TALLY_POSTGRES_PORT}, default 55432)
 * @param metricsPort gateway metrics ({@code TALLY_METRICS_PORT}, default 9464; the services use the next three)
 * @param externalDbUrl use this PostgreSQL instead of the embedded one ({@code TALLY_DB_URL})
 * @param externalKafka use this Kafka instead of the embedded one ({@code TALLY_KAFKA_BOOTSTRAP})
 */
public record StackConfig(
    Path dataDir,
    boolean ephemeral,
    int gatewayPort,
    int identityPort,
    int walletPort,
    int meteringPort,
    int postgresPort,
    int metricsPort,
    String externalDbUrl,
    String externalKafka) {

  /** The flag that starts only the embedded PostgreSQL and Kafka (for the services' containers, bin/images-smoke). */
  static final String INFRASTRUCTURE_ONLY = "--infrastructure-only";

  /** Whether {@code args} ask for the infrastructure alone. */
  static boolean infrastructureOnly(String[] args) {
    return java.util.Arrays.asList(args).contains(INFRASTRUCTURE_ONLY);
  }

  public static StackConfig from(Env env, String[] args) {
    boolean ephemeral = env.bool("TALLY_EPHEMERAL", false);
    for (String arg : args) {
      switch (arg) {
        case "--ephemeral" -> ephemeral = true;
        case INFRASTRUCTURE_ONLY -> { } // read by infrastructureOnly(args): not a setting of the suite's services
        case "--help", "-h" -> {
          System.out.println("usage: tally-stack [--ephemeral] [--infrastructure-only]   (see docs/configuration.md for variables)");
          System.exit(0);
        }
        default -> throw new ConfigException("unknown argument " + arg + " (try --help)");
      }
    }
    return new StackConfig(
        Path.of(env.string("TALLY_DATA_DIR", ".tally/data")).toAbsolutePath(),
        ephemeral,
        env.port("TALLY_GATEWAY_PORT", 50051),
        env.port("TALLY_IDENTITY_PORT", 50061),
        env.port("TALLY_WALLET_PORT", 50062),
        env.port("TALLY_METERING_PORT", 50063),
        env.port("TALLY_POSTGRES_PORT", 55432),
        env.integer("TALLY_METRICS_PORT", 9464, -1, 65_532),
        env.string("TALLY_DB_URL", ""),
        env.string("TALLY_KAFKA_BOOTSTRAP", ""));
  }
}
