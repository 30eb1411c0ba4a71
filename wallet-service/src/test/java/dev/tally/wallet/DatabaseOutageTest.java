package dev.tally.wallet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.common.app.ServiceRunner;
import dev.tally.common.db.DatabaseConfig;
import dev.tally.common.embedded.EmbeddedPostgresServer;
import dev.tally.common.grpc.ProtoTime;
import dev.tally.common.grpc.ServerConfig;
import dev.tally.common.kafka.KafkaClients;
import dev.tally.common.kafka.Topics;
import dev.tally.common.auth.Caller;
import dev.tally.common.auth.CallerSigner;
import dev.tally.common.error.Failures;
import dev.tally.common.testing.Await;
import dev.tally.common.testing.GrpcAssertions;
import dev.tally.proto.wallet.v1.GetWalletRequest;
import dev.tally.proto.wallet.v1.WalletServiceGrpc;
import io.grpc.Status;
import dev.tally.common.testing.TestInfra;
import dev.tally.proto.events.v1.UsageEvent;
import dev.tally.wallet.config.WalletConfig;
import dev.tally.wallet.config.WalletPolicy;
import io.grpc.ManagedChannel;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.junit.jupiter.api.Test;

/**
 * PostgreSQL stopped and restarted (same data directory and port) while the wallet has a backlog of usage:
 * every event is debited exactly once without restarting the service, health says NOT_SERVING while the
 * consumer is stalled and SERVING again after.
 */
class DatabaseOutageTest {
  private static final int EVENTS = 10_000;
  private static final int WALLETS = 20;
  private static final long COST = 1_000;

  @Test
  void aDatabaseRestartDuringABacklogLosesAndDoublesNothing() throws Exception {
    Path dataDir = Files.createTempDirectory("tally-pg-outage");
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    EmbeddedPostgresServer pg = EmbeddedPostgresServer.startPersistent(dataDir, port);
    pg.createDatabase("outage");
    DatabaseConfig db = DatabaseConfig.of(pg.jdbcUrl("outage"), pg.user(), pg.password(), "wallet");
    ServiceRunner runner = new ServiceRunner();
    String prefix = "wallets/team-outage" + System.nanoTime() + "-";
    try {
      var wallet = WalletServiceMain.start(new WalletConfig(ServerConfig.ephemeral().withStallTimeout(
          Duration.ofSeconds(2)), db, TestInfra.kafka(), WalletPolicy.defaults(), "localhost:1",
          WalletConfig.DEV_INTERNAL_AUTH_KEY), runner, Clock.systemUTC());
      ManagedChannel channel = NettyChannelBuilder.forAddress("localhost", wallet.server().port()).usePlaintext()
          .build();
      runner.manage(channel::shutdownNow);
      var health = HealthGrpc.newBlockingStub(channel);
      CallerSigner signer = new CallerSigner(WalletConfig.DEV_INTERNAL_AUTH_KEY, Clock.systemUTC());

      produce(prefix);
      pg.close(); // the backlog is still being applied
      long stoppedAt = System.nanoTime();
      Await.until("health NOT_SERVING while stalled", Duration.ofSeconds(20),
          () -> status(health) == ServingStatus.NOT_SERVING);
      // Calls meanwhile are told to retry, in time: UNAVAILABLE, never INTERNAL or a hang.
      long t0 = System.nanoTime();
      GrpcAssertions.assertFails(Status.Code.UNAVAILABLE, Failures.DATABASE_UNAVAILABLE,
          () -> WalletServiceGrpc.newBlockingStub(channel).withCallCredentials(signer.credentials(Caller.PLATFORM))
              .withDeadlineAfter(5, TimeUnit.SECONDS).getWallet(GetWalletRequest.newBuilder()
                  .setName(prefix + "0").build()));
      assertTrue(System.nanoTime() - t0 < 5_000_000_000L, "answered within the deadline");
      Thread.sleep(Math.max(0, 15_000 - Duration.ofNanos(System.nanoTime() - stoppedAt).toMillis()));

      pg = EmbeddedPostgresServer.startPersistent(dataDir, port);
      long restartedAt = System.nanoTime();
      Await.until("every event debited", Duration.ofSeconds(120), () -> debited(db, prefix) == EVENTS);
      double recovery = (System.nanoTime() - restartedAt) / 1e9;
      Await.until("health SERVING again", Duration.ofSeconds(10), () -> status(health) == ServingStatus.SERVING);
      System.out.printf("database outage: 15 s down with a backlog, all %d events debited %.1f s after the "
          + "restart%n", EVENTS, recovery);

      Thread.sleep(1_000); // anything late would show up now
      assertEquals(EVENTS, debited(db, prefix), "each event debited exactly once");
      assertEquals(EVENTS * COST / WALLETS, -balanceOf(db, prefix + "0"), "ledger balance of one wallet");
      assertTrue(wallet.db().transaction(tx -> wallet.ledger().reconcile(tx.dsl())).balanced(), "reconciled");
    } finally {
      runner.closeAll();
      pg.close();
    }
  }

  private static void produce(String prefix) throws Exception {
    KafkaClients clients = new KafkaClients(TestInfra.kafka(), null);
    clients.ensureTopics(Topics.ALL);
    try (KafkaProducer<String, byte[]> producer = clients.producer("outage-test")) {
      List<Future<RecordMetadata>> sends = new ArrayList<>();
      Instant now = Instant.now();
      for (int i = 0; i < EVENTS; i++) {
        String account = prefix + (i % WALLETS);
        UsageEvent e = UsageEvent.newBuilder().setEventId("e" + i).setBillingAccount(account)
            .setApiKey("apiKeys/outage").setMeter("requests").setQuantity(1).setCostNanos(COST).setCurrencyCode("USD")
            .setOccurredAt(ProtoTime.ts(now)).setRecordedAt(ProtoTime.ts(now)).build();
        sends.add(producer.send(new ProducerRecord<>(Topics.USAGE, account, e.toByteArray())));
      }
      for (var s : sends) {
        s.get(30, TimeUnit.SECONDS);
      }
    }
  }

  private static ServingStatus status(HealthGrpc.HealthBlockingStub health) {
    return health.withDeadlineAfter(2, TimeUnit.SECONDS).check(HealthCheckRequest.getDefaultInstance()).getStatus();
  }

  private static long debited(DatabaseConfig db, String prefix) {
    return query(db, "select count(*) from wallet.usage_lines where wallet like '"
        + prefix + "%'");
  }

  private static long balanceOf(DatabaseConfig db, String account) {
    return query(db, "select credits - debits from wallet.accounts where id = '" + account + "'");
  }

  private static long query(DatabaseConfig db, String sql) {
    try (Connection c = DriverManager.getConnection(db.url(), db.user(), db.password());
        ResultSet rs = c.createStatement().executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    } catch (java.sql.SQLException e) {
      return -1; // still down
    }
  }
}
