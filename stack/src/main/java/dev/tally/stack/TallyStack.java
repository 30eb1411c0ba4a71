package dev.tally.stack;

import dev.tally.common.app.ServiceRunner;
import dev.tally.common.config.Env;
import dev.tally.common.db.DatabaseConfig;
import dev.tally.common.embedded.EmbeddedKafkaBroker;
import dev.tally.common.embedded.EmbeddedPostgresServer;
import dev.tally.common.grpc.GrpcServer;
import dev.tally.common.grpc.ServerConfig;
import dev.tally.common.kafka.KafkaConfig;
import dev.tally.gateway.GatewayMain;
import dev.tally.gateway.config.GatewayConfig;
import dev.tally.identity.IdentityServiceMain;
import dev.tally.identity.config.IdentityConfig;
import dev.tally.identity.config.IdentityPolicy;
import dev.tally.identity.mail.SmtpConfig;
import dev.tally.metering.MeteringServiceMain;
import dev.tally.metering.config.MeteringConfig;
import dev.tally.wallet.WalletServiceMain;
import dev.tally.wallet.config.WalletConfig;
import dev.tally.wallet.config.WalletPolicy;
import java.time.Duration;

/**
 * The whole suite in one process: embedded PostgreSQL and Kafka (unless external ones are configured),
 * the three services and the gateway, each on its own fixed port. The README's run command.
 */
public final class TallyStack implements AutoCloseable {
  private final ServiceRunner runner;
  private final GrpcServer gateway;
  private final GrpcServer identity;
  private final GrpcServer wallet;
  private final GrpcServer metering;

  private TallyStack(ServiceRunner runner, GrpcServer gateway, GrpcServer identity, GrpcServer wallet,
      GrpcServer metering) {
    this.runner = runner;
    this.gateway = gateway;
    this.identity = identity;
    this.wallet = wallet;
    this.metering = metering;
  }

  public static void main(String[] args) {
    ServiceRunner.main("tally-stack", () -> {
      StackConfig config = StackConfig.from(Env.system(), args);
      TallyStack stack = start(config);
      System.out.println("Tally is running.");
      System.out.println("  gateway:        localhost:" + stack.gatewayPort());
      System.out.println("  platform token: " + GatewayConfig.DEV_PLATFORM_TOKEN + "   (local development only)");
      System.out.println("  data:           " + (config.ephemeral() ? "ephemeral (deleted at exit)" : config.dataDir()));
      System.out.println("Press Ctrl-C to stop.");
      stack.runner.awaitShutdown();
    });
  }

  /** Starts on embedded infrastructure, or on the external PostgreSQL and Kafka the config names. */
  public static TallyStack start(StackConfig config) throws Exception {
    ServiceRunner runner = new ServiceRunner();
    try {
      return start(config, runner, database(config, runner), kafka(config, runner));
    } catch (Exception e) {
      runner.closeAll();
      throw e;
    }
  }

  /** Starts on the given database (one schema per service) and Kafka; tests pass their shared ones. */
  public static TallyStack start(StackConfig config, DatabaseConfig db, KafkaConfig kafka) throws Exception {
    ServiceRunner runner = new ServiceRunner();
    try {
      return start(config, runner, db, kafka);
    } catch (Exception e) {
      runner.closeAll();
      throw e;
    }
  }

  private static TallyStack start(StackConfig config, ServiceRunner runner, DatabaseConfig db, KafkaConfig kafka)
      throws Exception {
    {
      int metrics = config.metricsPort();
      Duration drain = Duration.ofSeconds(5);
      GrpcServer identity = runner.manage(IdentityServiceMain.start(new IdentityConfig(
          server(config.identityPort(), metrics < 0 ? -1 : metrics + 1, drain), db.withSchema("identity"), kafka,
          IdentityPolicy.fromEnv(Env.system()), IdentityConfig.DEV_INTERNAL_AUTH_KEY, IdentityConfig.DEV_SECRET_PEPPER,
          SmtpConfig.fromEnv(Env.system())),
          runner));
      GrpcServer wallet = WalletServiceMain.start(new WalletConfig(
          server(config.walletPort(), metrics < 0 ? -1 : metrics + 2, drain), db.withSchema("wallet"), kafka,
          WalletPolicy.fromEnv(Env.system()), "localhost:" + identity.port(), WalletConfig.DEV_INTERNAL_AUTH_KEY),
          runner, java.time.Clock.systemUTC()).server();
      GrpcServer metering = MeteringServiceMain.start(MeteringConfig.local(
          server(config.meteringPort(), metrics < 0 ? -1 : metrics + 3, drain), db.withSchema("metering"), kafka,
          "localhost:" + identity.port()), runner, java.time.Clock.systemUTC()).server();
      GrpcServer gateway = GatewayMain.start(GatewayConfig.local(server(config.gatewayPort(), metrics, drain), kafka,
          "localhost:" + identity.port(), "localhost:" + wallet.port(), "localhost:" + metering.port()), runner)
          .server();
      return new TallyStack(runner, gateway, identity, wallet, metering);
    }
  }

  private static ServerConfig server(int port, int metricsPort, Duration drain) {
    return new ServerConfig(port, metricsPort, drain, 4 * 1024 * 1024, true);
  }

  private static DatabaseConfig database(StackConfig config, ServiceRunner runner) {
    if (!config.externalDbUrl().isEmpty()) {
      return DatabaseConfig.fromEnv(Env.system(), "identity");
    }
    EmbeddedPostgresServer pg = runner.manage(config.ephemeral()
        ? EmbeddedPostgresServer.startEphemeral()
        : EmbeddedPostgresServer.startPersistent(config.dataDir().resolve("postgres"), config.postgresPort()));
    pg.createDatabase("tally");
    return DatabaseConfig.of(pg.jdbcUrl("tally"), pg.user(), pg.password(), "identity");
  }

  private static KafkaConfig kafka(StackConfig config, ServiceRunner runner) {
    if (!config.externalKafka().isEmpty()) {
      return KafkaConfig.fromEnv(Env.system());
    }
    EmbeddedKafkaBroker broker = runner.manage(config.ephemeral() ? EmbeddedKafkaBroker.startEphemeral()
        : EmbeddedKafkaBroker.startPersistent(config.dataDir().resolve("kafka")));
    return KafkaConfig.plaintext(broker.bootstrapServers());
  }

  public int gatewayPort() {
    return gateway.port();
  }

  public int identityPort() {
    return identity.port();
  }

  public int walletPort() {
    return wallet.port();
  }

  public int meteringPort() {
    return metering.port();
  }

  @Override
  public void close() {
    runner.closeAll();
  }
}
