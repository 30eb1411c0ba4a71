package dev.tally.stack;

import dev.tally.common.app.ServiceRunner;
import dev.tally.common.config.Env;
import dev.tally.common.db.DatabaseConfig;
import dev.tally.common.embedded.EmbeddedKafkaBroker;
import dev.tally.common.embedded.EmbeddedPostgresServer;
import dev.tally.common.grpc.GrpcServer;
import dev.tally.common.kafka.KafkaConfig;
import dev.tally.gateway.GatewayMain;
import dev.tally.gateway.config.GatewayConfig;
import dev.tally.identity.IdentityServiceMain;
import dev.tally.identity.config.IdentityConfig;
import dev.tally.metering.MeteringServiceMain;
import dev.tally.metering.config.MeteringConfig;
import dev.tally.wallet.WalletServiceMain;
import dev.tally.wallet.config.WalletConfig;
import java.util.HashMap;
import java.util.Map;

/**
 * The whole suite in one process: embedded PostgreSQL and Kafka (unless external ones are configured),
 * the three services and the gateway, each on its own fixed port. The README's run command.
 */
public final class TallyStack implements AutoCloseable {
  private final ServiceRunner runner;
  private final GrpcServer gateway;
  private final GrpcServer identity;
  private volatile GrpcServer wallet;
  private final GrpcServer metering;
  private final WalletConfig walletConfig;
  private final java.util.concurrent.atomic.AtomicReference<ServiceRunner> walletRunner;
  private final String kafkaBootstrap;
  private final String databaseUrl;

  private TallyStack(ServiceRunner runner, GrpcServer gateway, GrpcServer identity, GrpcServer wallet,
      GrpcServer metering, String kafkaBootstrap, String databaseUrl, WalletConfig walletConfig,
      java.util.concurrent.atomic.AtomicReference<ServiceRunner> walletRunner) {
    this.walletConfig = walletConfig;
    this.walletRunner = walletRunner;
    this.kafkaBootstrap = kafkaBootstrap;
    this.databaseUrl = databaseUrl;
    this.runner = runner;
    this.gateway = gateway;
    this.identity = identity;
    this.wallet = wallet;
    this.metering = metering;
  }

  public static void main(String[] args) {
    ServiceRunner.main("tally-stack", () -> {
      Env system = Env.system();
      StackConfig config = StackConfig.from(system, args);
      if (StackConfig.infrastructureOnly(args)) {
        runInfrastructure(config, system);
        return;
      }
      Map<String, String> secrets = LocalSecrets.resolve(system, config.dataDir(), config.ephemeral());
      TallyStack stack = start(config, system.with(secrets));
      System.out.println("Tally is running.");
      System.out.println("  gateway:        localhost:" + stack.gatewayPort());
      System.out.println("  platform token: " + secrets.get(LocalSecrets.PLATFORM_TOKEN) + "   ("
          + (system.optional(LocalSecrets.PLATFORM_TOKEN).isPresent() ? "from TALLY_PLATFORM_TOKEN"
              : config.ephemeral() ? "made for this run" : "kept in " + LocalSecrets.platformTokenFile(config.dataDir()))
          + ")");
      System.out.println("  kafka:          " + stack.kafkaBootstrap);
      System.out.println("  postgresql:     " + stack.databaseUrl);
      System.out.println("  data:           " + (config.ephemeral() ? "ephemeral (deleted at exit)" : config.dataDir()));
      System.out.println("Press Ctrl-C to stop.");
      stack.runner.awaitShutdown();
    });
  }

  /** Runs the embedded PostgreSQL (database {@code tally}) and Kafka on loopback, and says where they are. */
  private static void runInfrastructure(StackConfig config, Env env) throws InterruptedException {
    ServiceRunner runner = new ServiceRunner();
    DatabaseConfig db = database(config, env, runner);
    KafkaConfig kafka = kafka(config, env, runner);
    System.out.println("Infrastructure is running (no Tally service).");
    System.out.println("  postgresql: " + db.url());
    System.out.println("  user:       " + db.user());
    System.out.println("  password:   " + db.password());
    System.out.println("  kafka:      " + kafka.bootstrapServers());
    System.out.println("Press Ctrl-C to stop.");
    runner.awaitShutdown();
  }

  /** Starts on embedded infrastructure, or on the external PostgreSQL and Kafka the config names. */
  public static TallyStack start(StackConfig config, Env given) throws Exception {
    Env env = given.with(LocalSecrets.resolve(given, config.dataDir(), config.ephemeral()));
    ServiceRunner runner = new ServiceRunner();
    try {
      return start(config, env, runner, database(config, env, runner), kafka(config, env, runner));
    } catch (Exception e) {
      runner.closeAll();
      throw e;
    }
  }

  /**
   * Starts on the given database (one schema per service) and Kafka; tests pass their shared ones, and get
   * the test keys ({@link GatewayConfig#DEV_PLATFORM_TOKEN} and its kin).
   */
  public static TallyStack start(StackConfig config, DatabaseConfig db, KafkaConfig kafka) throws Exception {
    return start(config, Env.of(TEST_SECRETS), db, kafka);
  }

  /** The keys tests sign and authenticate with; never used by a process started from its environment. */
  public static final Map<String, String> TEST_SECRETS = Map.of(
      LocalSecrets.PLATFORM_TOKEN, GatewayConfig.DEV_PLATFORM_TOKEN,
      "TALLY_INTERNAL_AUTH_KEY", IdentityConfig.DEV_INTERNAL_AUTH_KEY,
      "TALLY_SECRET_PEPPER", IdentityConfig.DEV_SECRET_PEPPER);

  /** As above, with the services' other settings read from {@code env} (what a test sets). */
  public static TallyStack start(StackConfig config, Env env, DatabaseConfig db, KafkaConfig kafka)
      throws Exception {
    ServiceRunner runner = new ServiceRunner();
    try {
      return start(config, env, runner, db, kafka);
    } catch (Exception e) {
      runner.closeAll();
      throw e;
    }
  }

  /**
   * Each service reads its own configuration from the environment exactly as when it runs alone (so every
   * documented variable works here too); only what the stack decides is put in place: ports, addresses of
   * the other services, and the database and broker it started.
   */
  private static TallyStack start(StackConfig config, Env env, ServiceRunner runner, DatabaseConfig db,
      KafkaConfig kafka) throws Exception {
    int metrics = config.metricsPort();
    Map<String, String> shared = new HashMap<>();
    shared.put("TALLY_DB_URL", db.url());
    shared.put("TALLY_DB_USER", db.user());
    shared.put("TALLY_DB_PASSWORD", db.password());
    shared.put("TALLY_KAFKA_BOOTSTRAP", kafka.bootstrapServers());
    if (env.optional("TALLY_SHUTDOWN_DRAIN").isEmpty()) {
      shared.put("TALLY_SHUTDOWN_DRAIN", "5s");
    }
    Env base = env.with(shared);
    GrpcServer identity = runner.manage(IdentityServiceMain.start(IdentityConfig.fromEnv(base.with(service(
        config.identityPort(), metrics < 0 ? -1 : metrics + 1, "identity", Map.of()))), runner));
    String identityTarget = "localhost:" + identity.port();
    // The wallet has a runner of its own, so it can be restarted alone (on the same port) while the rest runs.
    var walletRunner = new java.util.concurrent.atomic.AtomicReference<>(new ServiceRunner());
    runner.manage(() -> walletRunner.get().closeAll()); // the current wallet, after any restart
    GrpcServer wallet = WalletServiceMain.start(WalletConfig.fromEnv(base.with(service(config.walletPort(),
        metrics < 0 ? -1 : metrics + 2, "wallet", Map.of("TALLY_IDENTITY_TARGET", identityTarget)))), walletRunner.get(),
        java.time.Clock.systemUTC()).server();
    WalletConfig walletConfig = WalletConfig.fromEnv(base.with(service(wallet.port(),
        metrics < 0 ? -1 : metrics + 2, "wallet", Map.of("TALLY_IDENTITY_TARGET", identityTarget))));
    GrpcServer metering = MeteringServiceMain.start(MeteringConfig.fromEnv(base.with(service(config.meteringPort(),
        metrics < 0 ? -1 : metrics + 3, "metering", Map.of("TALLY_IDENTITY_TARGET", identityTarget)))), runner,
        java.time.Clock.systemUTC()).server();
    GrpcServer gateway = GatewayMain.start(GatewayConfig.fromEnv(base.with(service(config.gatewayPort(), metrics,
        "", Map.of("TALLY_IDENTITY_TARGET", identityTarget, "TALLY_WALLET_TARGET", "localhost:" + wallet.port(),
            "TALLY_METERING_TARGET", "localhost:" + metering.port())))), runner).server();
    TallyStack stack = new TallyStack(runner, gateway, identity, wallet, metering, kafka.bootstrapServers(), db.url(),
        walletConfig, walletRunner);
    return stack;
  }

  /**
   * Stops the wallet service as a crash would end it (its consumers, meters and server closed, nothing
   * finished for it) and starts it again on the same port, with the same database and broker; for tests of
   * what survives a restart.
   */
  public synchronized void restartWallet() throws Exception {
    stopWallet();
    startWallet();
  }

  /** Stops the wallet service as a crash would (see {@link #restartWallet}); usage waits on Kafka meanwhile. */
  public synchronized void stopWallet() {
    walletRunner.get().closeAll();
  }

  /** Starts the wallet service stopped by {@link #stopWallet} again, on its port. */
  public synchronized void startWallet() throws Exception {
    ServiceRunner fresh = new ServiceRunner();
    walletRunner.set(fresh);
    wallet = WalletServiceMain.start(walletConfig, fresh, java.time.Clock.systemUTC()).server();
  }

  /** The settings the stack decides for one service. */
  private static Map<String, String> service(int port, int metricsPort, String schema, Map<String, String> more) {
    Map<String, String> m = new HashMap<>(more);
    m.put("TALLY_GRPC_PORT", Integer.toString(port));
    m.put("TALLY_METRICS_PORT", Integer.toString(metricsPort));
    if (!schema.isEmpty()) {
      m.put("TALLY_DB_SCHEMA", schema);
    }
    return m;
  }

  private static DatabaseConfig database(StackConfig config, Env env, ServiceRunner runner) {
    if (!config.externalDbUrl().isEmpty()) {
      return DatabaseConfig.fromEnv(env, "identity");
    }
    EmbeddedPostgresServer pg = runner.manage(config.ephemeral()
        ? EmbeddedPostgresServer.startEphemeral()
        : EmbeddedPostgresServer.startPersistent(config.dataDir().resolve("postgres"), config.postgresPort()));
    pg.createDatabase("tally");
    return DatabaseConfig.of(pg.jdbcUrl("tally"), pg.user(), pg.password(), "identity");
  }

  private static KafkaConfig kafka(StackConfig config, Env env, ServiceRunner runner) {
    if (!config.externalKafka().isEmpty()) {
      return KafkaConfig.fromEnv(env);
    }
    EmbeddedKafkaBroker broker;
    try {
      broker = runner.manage(config.ephemeral()
          ? EmbeddedKafkaBroker.startLoopback(java.nio.file.Files.createTempDirectory("tally-kafka"), true)
          : EmbeddedKafkaBroker.startLoopback(config.dataDir().resolve("kafka"), false));
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    return KafkaConfig.plaintext(broker.bootstrapServers());
  }

  /** Stops the identity service alone (an outage, for tests); the rest keeps running. */
  public void stopIdentity() {
    identity.close();
  }

  /** The wallet service's database (its schema), for tools that inspect or prepare it (benchmarks). */
  public dev.tally.common.db.DatabaseConfig walletDatabase() {
    return walletConfig.database();
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
