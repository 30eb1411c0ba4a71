package dev.tally.wallet;

import dev.tally.common.app.ServiceRunner;
import dev.tally.common.auth.CallerInterceptor;
import dev.tally.common.auth.CallerSigner;
import dev.tally.common.auth.TeamPermissions;
import dev.tally.common.config.Env;
import dev.tally.common.db.Database;
import dev.tally.common.grpc.GrpcServer;
import dev.tally.common.kafka.KafkaClients;
import dev.tally.common.kafka.OutboxRelay;
import dev.tally.common.kafka.ParkedEventsApi;
import dev.tally.common.kafka.Topics;
import dev.tally.common.kafka.TransactionalConsumer;
import dev.tally.common.metrics.Metrics;
import dev.tally.wallet.access.IdentityBillingAccess;
import dev.tally.wallet.config.WalletConfig;
import dev.tally.wallet.db.AppliedEventDao;
import dev.tally.wallet.db.UsageLineDao;
import dev.tally.wallet.limits.EffectiveLimits;
import dev.tally.wallet.limits.EndedAlerts;
import dev.tally.wallet.limits.LimitRequests;
import dev.tally.wallet.usage.ChargeExpiredHolds;
import dev.tally.wallet.db.TransferDao;
import dev.tally.wallet.db.WalletDao;
import dev.tally.wallet.events.WalletEvents;
import dev.tally.wallet.grpc.WalletGrpcService;
import dev.tally.wallet.grpc.WalletInternalGrpcService;
import dev.tally.wallet.holds.HoldManager;
import dev.tally.wallet.sessions.SessionMeter;
import dev.tally.wallet.sessions.Sessions;
import dev.tally.wallet.holds.ReserveBatcher;
import dev.tally.wallet.ledger.Ledger;
import dev.tally.wallet.membership.MembershipApplier;
import dev.tally.wallet.usage.Charges;
import dev.tally.wallet.usage.UsageApplier;
import dev.tally.wallet.wallets.Housekeeper;
import dev.tally.wallet.wallets.WalletBook;
import dev.tally.wallet.wallets.WalletManager;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.List;

/** The wallet service as its own process, configured by environment variables (what the Helm chart runs). */
public final class WalletServiceMain {
  private WalletServiceMain() {}

  public static void main(String[] args) {
    ServiceRunner.main("wallet-service", () -> {
      // The migration Job has the database's settings only: read nothing else before it is done.
      if (ServiceRunner.migrateOnly(args, dev.tally.common.db.DatabaseConfig.fromEnv(Env.system(), "wallet"), "wallet")) {
        return;
      }
      WalletConfig config = WalletConfig.fromEnv(Env.system());
      ServiceRunner runner = new ServiceRunner();
      start(config, runner, Clock.systemUTC());
      runner.awaitShutdown();
    });
  }

  /** The running pieces of a wallet service, for the stack and the tests. */
  public record Running(GrpcServer server, Database db, UsageApplier usage, TransactionalConsumer usageConsumer,
      TransactionalConsumer identityConsumer, Housekeeper housekeeper, Ledger ledger, ReserveBatcher reserves) {}

  /** Starts the service; everything it opens is managed by {@code runner}. */
  public static Running start(WalletConfig config, ServiceRunner runner, Clock clock) throws IOException {
    PrometheusMeterRegistry registry = Metrics.newRegistry("wallet");
    Database db = runner.manage(Database.open(config.database(), "wallet", registry));
    KafkaClients kafka = new KafkaClients(config.kafka(), registry);
    kafka.ensureTopics(Topics.ALL);
    OutboxRelay relay = runner.manage(
        new OutboxRelay(db, runner.manage(kafka.producer("wallet-outbox")), Duration.ofSeconds(1), "wallet"));
    relay.wakeOnAppends();
    relay.metrics(registry).start();

    CallerSigner signer = new CallerSigner(config.internalAuthKey(), Clock.systemUTC());
    ManagedChannel identity = NettyChannelBuilder.forTarget(config.identityTarget()).usePlaintext()
        .defaultLoadBalancingPolicy("round_robin").intercept(dev.tally.common.grpc.RequestIds.propagating()).build();
    runner.manage(identity::shutdownNow);

    WalletDao walletDao = new WalletDao();
    Ledger ledger = new Ledger();
    WalletEvents events = new WalletEvents().metrics(registry);
    WalletBook book = new WalletBook(walletDao, ledger, events, config.policy(), clock);
    Charges charges = new Charges();
    AppliedEventDao applied = new AppliedEventDao();
    UsageLineDao usageLines = new UsageLineDao();
    if (config.policy().chargeExpiredHolds()) {
      book.onExpiredHolds(new ChargeExpiredHolds(charges, usageLines, ledger, events, clock));
    }
    UsageApplier usage = new UsageApplier(book, walletDao, ledger, charges, usageLines, events).metrics(registry);
    dev.tally.common.metrics.SampledGauges.register(registry, "tally.holds.pending", "pending holds",
        () -> db.dsl().fetchCount(dev.tally.wallet.db.jooq.Tables.HOLDS,
            dev.tally.wallet.db.jooq.Tables.HOLDS.STATE.eq("pending")));
    dev.tally.common.metrics.SampledGauges.register(registry, "tally.holds.held.nanos",
        "the amount pending holds reserve, all wallets", () -> db.dsl().select(org.jooq.impl.DSL.coalesce(
            org.jooq.impl.DSL.sum(dev.tally.wallet.db.jooq.Tables.WALLETS.HELD), java.math.BigDecimal.ZERO))
            .from(dev.tally.wallet.db.jooq.Tables.WALLETS).fetchOne().value1());
    MembershipApplier membership = new MembershipApplier(book, walletDao, ledger, applied);
    HoldManager holds = new HoldManager(book, walletDao, usageLines, ledger, charges, events);
    IdentityBillingAccess access = new IdentityBillingAccess(new TeamPermissions(identity, signer));
    EffectiveLimits effectiveLimits = new EffectiveLimits(book, walletDao, access);
    WalletManager wallets = new WalletManager(book, walletDao, new TransferDao(), usageLines, ledger, access,
        events);

    TransactionalConsumer identityConsumer = runner.manage(new TransactionalConsumer(db, kafka, "wallet-identity",
        Topics.IDENTITY, "wallet-identity", membership::apply)).start();
    TransactionalConsumer usageConsumer = runner.manage(new TransactionalConsumer(db, kafka,
        WalletGrpcService.USAGE_CONSUMER, Topics.USAGE, "wallet-usage", usage))
        // Partitions hold disjoint wallets and every batch locks wallets, then accounts, in one global order.
        .workers(config.kafka().consumerWorkers()).start();
    Housekeeper housekeeper = runner.manage(new Housekeeper(db, walletDao, book, new EndedAlerts(events),
        Duration.ofSeconds(30))).start();

    ReserveBatcher reserves = runner.manage(new ReserveBatcher(db, holds));
    Sessions sessions = new Sessions(book, holds);
    SessionMeter sessionMeter = runner.manage(new SessionMeter(db, book, sessions, events, walletDao)).start();
    GrpcServer server = runner.manage(GrpcServer.builder("wallet", config.server(), registry)
        .addInterceptor(new CallerInterceptor(signer))
        .consumersHealthy(identityConsumer, usageConsumer)
        .addService(new WalletGrpcService(db, wallets, book, ledger, new ParkedEventsApi(db, List.of(usageConsumer, identityConsumer)),
            effectiveLimits, new LimitRequests(effectiveLimits, wallets, access, clock), sessions, sessionMeter, access))
        .addService(new WalletInternalGrpcService(db, wallets, holds, reserves, book, sessions,
            new dev.tally.wallet.holds.LeaseWrites(book, walletDao, holds)))
        .start());
    return new Running(server, db, usage, usageConsumer, identityConsumer, housekeeper, ledger, reserves);
  }
}
