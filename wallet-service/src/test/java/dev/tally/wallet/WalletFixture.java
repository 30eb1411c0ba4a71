package dev.tally.wallet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.common.app.ServiceRunner;
import dev.tally.common.auth.Caller;
import dev.tally.common.auth.CallerSigner;
import dev.tally.common.grpc.ProtoTime;
import dev.tally.common.grpc.ServerConfig;
import dev.tally.common.kafka.KafkaClients;
import dev.tally.common.kafka.Topics;
import dev.tally.common.testing.Await;
import dev.tally.common.testing.MutableClock;
import dev.tally.common.testing.TestInfra;
import dev.tally.identity.IdentityServiceMain;
import dev.tally.identity.config.IdentityConfig;
import dev.tally.identity.config.IdentityPolicy;
import dev.tally.identity.mail.SmtpConfig;
import dev.tally.proto.events.v1.UsageEvent;
import dev.tally.proto.identity.v1.*;
import dev.tally.proto.wallet.v1.*;
import dev.tally.wallet.config.WalletConfig;
import dev.tally.wallet.config.WalletPolicy;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;

/** A real identity service and a real wallet service (with a clock tests can move) on PostgreSQL and Kafka. */
final class WalletFixture implements AutoCloseable {
  static final long DOLLAR = 1_000_000_000L;
  private static final AtomicInteger USERS = new AtomicInteger();

  final ServiceRunner runner = new ServiceRunner();
  final MutableClock clock;
  WalletServiceMain.Running wallet;
  final ManagedChannel identityChannel;
  ManagedChannel walletChannel;
  private ServiceRunner walletRunner = new ServiceRunner();
  private final WalletConfig walletConfig;
  final CallerSigner signer = new CallerSigner(IdentityConfig.DEV_INTERNAL_AUTH_KEY, Clock.systemUTC());
  final KafkaProducer<String, byte[]> producer;

  record TestUser(Caller caller, String name, String email) {
    String id() {
      return name.substring("users/".length());
    }

    String wallet() {
      return "wallets/user-" + id();
    }
  }

  WalletFixture(Class<?> owner, IdentityPolicy identityPolicy, Instant start) throws Exception {
    this(owner, identityPolicy, start, WalletPolicy.defaults());
  }

  WalletFixture(Class<?> owner, IdentityPolicy identityPolicy, Instant start, WalletPolicy walletPolicy)
      throws Exception {
    clock = new MutableClock(start);
    var identityServer = runner.manage(IdentityServiceMain.start(new IdentityConfig(ServerConfig.ephemeral(),
        TestInfra.newDatabase(owner, "identity"), TestInfra.kafka(), identityPolicy,
        IdentityConfig.DEV_INTERNAL_AUTH_KEY, IdentityConfig.DEV_SECRET_PEPPER, SmtpConfig.DISABLED), runner));
    walletConfig = new WalletConfig(ServerConfig.ephemeral(), TestInfra.newDatabase(owner, "wallet"),
        TestInfra.kafka(), walletPolicy, "localhost:" + identityServer.port(), WalletConfig.DEV_INTERNAL_AUTH_KEY);
    wallet = WalletServiceMain.start(walletConfig, walletRunner, clock);
    identityChannel = NettyChannelBuilder.forAddress("localhost", identityServer.port()).usePlaintext().build();
    walletChannel = NettyChannelBuilder.forAddress("localhost", wallet.server().port()).usePlaintext().build();
    producer = runner.manage(new KafkaClients(TestInfra.kafka(), null).producer("wallet-test"));
  }

  IdentityServiceGrpc.IdentityServiceBlockingStub identity(Caller caller) {
    return IdentityServiceGrpc.newBlockingStub(identityChannel).withCallCredentials(signer.credentials(caller))
        .withDeadlineAfter(20, TimeUnit.SECONDS);
  }

  WalletServiceGrpc.WalletServiceBlockingStub as(Caller caller) {
    return WalletServiceGrpc.newBlockingStub(walletChannel).withCallCredentials(signer.credentials(caller))
        .withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  WalletServiceGrpc.WalletServiceBlockingStub as(TestUser u) {
    return as(u.caller());
  }

  /** A Reserve of {@code amount} for a member and a key (either may be empty). */
  static dev.tally.proto.wallet.v1.ReserveRequest reserve(String wallet, long amount, String member, String key) {
    return dev.tally.proto.wallet.v1.ReserveRequest.newBuilder().setWallet(wallet).setAmountNanos(amount)
        .setMember(member).setApiKey(key).build();
  }

  WalletServiceGrpc.WalletServiceBlockingStub platform() {
    return as(Caller.PLATFORM);
  }

  /** The internal service (holds, sessions, wallet states) as {@code caller}. */
  dev.tally.proto.wallet.v1.WalletInternalServiceGrpc.WalletInternalServiceBlockingStub internalAs(Caller caller) {
    return dev.tally.proto.wallet.v1.WalletInternalServiceGrpc.newBlockingStub(walletChannel)
        .withCallCredentials(signer.credentials(caller)).withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  dev.tally.proto.wallet.v1.WalletInternalServiceGrpc.WalletInternalServiceBlockingStub internal() {
    return internalAs(Caller.PLATFORM);
  }

  TestUser newUser(String label) {
    int n = USERS.incrementAndGet();
    User u = identity(Caller.PLATFORM).upsertUser(UpsertUserRequest.newBuilder()
        .setExternalId("ext-" + label + "-" + n + "-" + System.nanoTime()).setEmail(label + "." + n + "@example.com")
        .build()).getUser();
    return new TestUser(Caller.user(u.getName()), u.getName(), u.getEmail());
  }

  Team newTeam(TestUser owner, String name) {
    return identity(owner.caller()).createTeam(CreateTeamRequest.newBuilder().setDisplayName(name).build()).getTeam();
  }

  void join(TestUser inviter, Team team, TestUser user, String role) {
    String token = identity(inviter.caller()).createInvitation(CreateInvitationRequest.newBuilder()
        .setParent(team.getName()).setEmail(user.email()).setRole(role).build()).getToken();
    identity(user.caller()).acceptInvitation(AcceptInvitationRequest.newBuilder().setToken(token).build());
  }

  /** A connection of its own to the wallet's database (its schema first on the path), to hold locks in tests. */
  java.sql.Connection walletSql() throws java.sql.SQLException {
    var db = walletConfig.database();
    java.sql.Connection c = java.sql.DriverManager.getConnection(db.url(), db.user(), db.password());
    c.createStatement().execute("set search_path to " + db.schema());
    return c;
  }

  Wallet get(String wallet) {
    return platform().getWallet(GetWalletRequest.newBuilder().setName(wallet).build()).getWallet();
  }

  Wallet deposit(String wallet, long nanos, String reference) {
    return platform().deposit(DepositRequest.newBuilder().setWallet(wallet).setAmountNanos(nanos)
        .setCurrencyCode("USD").setExternalReference(reference).build()).getWallet();
  }

  /** Publishes a priced usage event as metering would. */
  void usage(String eventId, String wallet, String user, String apiKey, long costNanos, Instant occurredAt,
      String hold) {
    UsageEvent e = UsageEvent.newBuilder().setEventId(eventId).setBillingAccount(wallet).setUser(user)
        .setApiKey(apiKey).setMeter("output_tokens").setQuantity(1).setCostNanos(costNanos).setCurrencyCode("USD")
        .setOccurredAt(ProtoTime.ts(occurredAt)).setRecordedAt(ProtoTime.ts(Instant.now())).setHold(hold).build();
    try {
      producer.send(new ProducerRecord<>(Topics.USAGE, wallet, e.toByteArray())).get(30, TimeUnit.SECONDS);
    } catch (Exception ex) {
      throw new AssertionError(ex);
    }
  }

  /** Waits until the wallet's balance is {@code expected}. */
  Wallet awaitBalance(String wallet, long expected) {
    return Await.value(wallet + " balance " + expected, Duration.ofSeconds(30), () -> get(wallet),
        w -> w.getBalanceNanos() == expected);
  }

  void assertReconciled() {
    ReconcileResponse r = platform().reconcile(ReconcileRequest.getDefaultInstance());
    assertTrue(r.getBalanced(), "ledger out of balance: " + r.getMismatchedAccountsList());
  }

  long transferCount(String wallet) {
    return platform().listTransfers(ListTransfersRequest.newBuilder().setWallet(wallet).setPageSize(1000).build())
        .getTransfersCount();
  }



  /** Runs the calls 16 at a time and counts those that answered true. */
  static int countTrue(java.util.List<java.util.concurrent.Callable<Boolean>> calls) throws Exception {
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(16);
    int granted = 0;
    try {
      for (java.util.concurrent.Future<Boolean> r : pool.invokeAll(calls)) {
        granted += r.get() ? 1 : 0;
      }
    } finally {
      pool.shutdownNow();
    }
    return granted;
  }

  /** Stops the wallet service and starts a new one on the same database (a restart). */
  void restartWallet() throws Exception {
    walletChannel.shutdownNow();
    walletRunner.closeAll();
    walletRunner = new ServiceRunner();
    wallet = WalletServiceMain.start(walletConfig, walletRunner, clock);
    walletChannel = NettyChannelBuilder.forAddress("localhost", wallet.server().port()).usePlaintext().build();
  }

  /** Another wallet service on the same database and clock: a second replica, as a deployment runs them. */
  final class Replica implements AutoCloseable {
    private final ServiceRunner replicaRunner = new ServiceRunner();
    private final ManagedChannel channel;

    private Replica() throws Exception {
      var running = WalletServiceMain.start(walletConfig, replicaRunner, clock);
      channel = NettyChannelBuilder.forAddress("localhost", running.server().port()).usePlaintext().build();
    }

    dev.tally.proto.wallet.v1.WalletInternalServiceGrpc.WalletInternalServiceBlockingStub internal() {
      return dev.tally.proto.wallet.v1.WalletInternalServiceGrpc.newBlockingStub(channel)
          .withCallCredentials(signer.credentials(dev.tally.common.auth.Caller.PLATFORM))
          .withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    void deposit(String wallet, long nanos, String reference) {
      WalletServiceGrpc.newBlockingStub(channel).withCallCredentials(signer.credentials(
          dev.tally.common.auth.Caller.PLATFORM)).withDeadlineAfter(30, TimeUnit.SECONDS)
          .deposit(DepositRequest.newBuilder().setWallet(wallet).setAmountNanos(nanos).setCurrencyCode("USD")
              .setExternalReference(reference).build());
    }

    @Override
    public void close() {
      channel.shutdownNow();
      replicaRunner.closeAll();
    }
  }

  Replica startReplica() throws Exception {
    return new Replica();
  }

  @Override
  public void close() {
    identityChannel.shutdownNow();
    walletChannel.shutdownNow();
    walletRunner.closeAll();
    runner.closeAll();
  }
}
