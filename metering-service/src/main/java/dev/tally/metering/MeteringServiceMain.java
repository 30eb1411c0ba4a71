package dev.tally.metering;

import dev.tally.common.app.ServiceRunner;
import dev.tally.common.auth.CallerInterceptor;
import dev.tally.common.auth.CallerSigner;
import dev.tally.common.auth.TeamPermissions;
import dev.tally.common.config.Env;
import dev.tally.common.db.Database;
import dev.tally.common.grpc.GrpcServer;
import dev.tally.common.kafka.KafkaClients;
import dev.tally.common.kafka.Topics;
import dev.tally.common.kafka.TransactionalConsumer;
import dev.tally.common.metrics.Metrics;
import dev.tally.metering.access.UsageAccess;
import dev.tally.metering.catalog.PriceCatalog;
import dev.tally.metering.config.MeteringConfig;
import dev.tally.metering.grpc.MeteringGrpcService;
import dev.tally.metering.ingest.UsageIngestor;
import dev.tally.metering.keys.ApiKeyDirectory;
import dev.tally.metering.discounts.Discounts;
import dev.tally.metering.rollups.RollupApplier;
import dev.tally.metering.rollups.RollupCompactor;
import dev.tally.metering.rollups.UsageQueries;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.time.Clock;

/** The metering service as its own process, configured by environment variables (what the Helm chart runs). */
public final class MeteringServiceMain {
  private MeteringServiceMain() {}

  public static void main(String[] args) {
    ServiceRunner.main("metering-service", () -> {
      // The migration Job has the database's settings only: read nothing else before it is done.
      if (ServiceRunner.migrateOnly(args, dev.tally.common.db.DatabaseConfig.fromEnv(Env.system(), "metering"), "metering")) {
        return;
      }
      MeteringConfig config = MeteringConfig.fromEnv(Env.system());
      ServiceRunner runner = new ServiceRunner();
      start(config, runner, Clock.systemUTC());
      runner.awaitShutdown();
    });
  }

  /** The running pieces of a metering service. */
  public record Running(GrpcServer server, Database db, TransactionalConsumer rollups) {}

  public static Running start(MeteringConfig config, ServiceRunner runner, Clock clock) throws IOException {
    PrometheusMeterRegistry registry = Metrics.newRegistry("metering");
    Database db = runner.manage(Database.open(config.database(), "metering", registry));
    KafkaClients kafka = new KafkaClients(config.kafka(), registry);
    kafka.ensureTopics(Topics.ALL);
    // The outbox carries the audit events of price changes (usage itself is published before the claims commit).
    dev.tally.common.kafka.OutboxRelay relay = runner.manage(new dev.tally.common.kafka.OutboxRelay(db,
        runner.manage(kafka.producer("metering-outbox")), java.time.Duration.ofSeconds(1), "metering"));
    relay.wakeOnAppends();
    relay.metrics(registry).start();
    CallerSigner signer = new CallerSigner(config.internalAuthKey(), Clock.systemUTC());
    ManagedChannel identity = NettyChannelBuilder.forTarget(config.identityTarget()).usePlaintext()
        .defaultLoadBalancingPolicy("round_robin").intercept(dev.tally.common.grpc.RequestIds.propagating()).build();
    runner.manage(identity::shutdownNow);
    ApiKeyDirectory keys = new ApiKeyDirectory(identity, signer);
    PriceCatalog catalog = new PriceCatalog();
    Discounts discounts = new Discounts().newGenerationOnChanges(db);
    UsageIngestor ingestor = new UsageIngestor(db, catalog, discounts, keys,
        runner.manage(kafka.producer("metering-ingest")), clock, config.maxAge(), config.maxFutureSkew())
        .metrics(registry);
    runner.manage(new RollupCompactor(db, java.time.Duration.ofSeconds(1))).start();
    TransactionalConsumer rollups = runner.manage(new TransactionalConsumer(db, kafka, "metering-rollups",
        Topics.USAGE, "metering-rollups", new RollupApplier())).start();
    // Team discounts, from the wallet's state events: usage is priced net when recorded.
    TransactionalConsumer walletStates = runner.manage(new TransactionalConsumer(db, kafka, "metering-discounts",
        Topics.WALLET, "metering-discounts", discounts::apply)).start();
    GrpcServer server = runner.manage(GrpcServer.builder("metering", config.server(), registry)
        .addInterceptor(new CallerInterceptor(signer))
        .consumersHealthy(rollups, walletStates)
        .addService(new MeteringGrpcService(db, ingestor, new dev.tally.metering.ingest.UsageCorrections(catalog,
            discounts, keys, runner.manage(kafka.producer("metering-corrections")), clock), catalog, new UsageQueries(),
            new UsageAccess(new TeamPermissions(identity, signer), keys), clock,
            new dev.tally.common.kafka.ParkedEventsApi(db, java.util.List.of(rollups, walletStates))))
        .start());
    return new Running(server, db, rollups);
  }
}
