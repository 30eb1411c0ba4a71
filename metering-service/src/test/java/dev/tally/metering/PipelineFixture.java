package dev.tally.metering;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.common.app.ServiceRunner;
import dev.tally.common.auth.Caller;
import dev.tally.common.auth.CallerSigner;
import dev.tally.common.grpc.ProtoTime;
import dev.tally.common.grpc.ServerConfig;
import dev.tally.common.testing.Await;
import dev.tally.common.testing.TestInfra;
import dev.tally.identity.IdentityServiceMain;
import dev.tally.identity.config.IdentityConfig;
import dev.tally.identity.config.IdentityPolicy;
import dev.tally.identity.mail.SmtpConfig;
import dev.tally.metering.config.MeteringConfig;
import dev.tally.proto.identity.v1.*;
import dev.tally.proto.metering.v1.*;
import dev.tally.proto.wallet.v1.*;
import dev.tally.wallet.WalletServiceMain;
import dev.tally.wallet.config.WalletConfig;
import dev.tally.wallet.config.WalletPolicy;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** The usage pipeline for real: identity, wallet and metering on PostgreSQL and Kafka. */
final class PipelineFixture implements AutoCloseable {
  static final long DOLLAR = 1_000_000_000L;
  private static final AtomicInteger USERS = new AtomicInteger();

  final ServiceRunner runner = new ServiceRunner();
  final WalletServiceMain.Running wallet;
  final MeteringServiceMain.Running metering;
  final ManagedChannel identityChannel;
  final ManagedChannel walletChannel;
  final ManagedChannel meteringChannel;
  final CallerSigner signer = new CallerSigner(IdentityConfig.DEV_INTERNAL_AUTH_KEY, Clock.systemUTC());

  record TestUser(Caller caller, String name, String email) {}

  /** A team with its owner, a member, the member's team key and money on the wallet. */
  record Setup(Team team, TestUser owner, TestUser member, String key, String memberName) {}

  PipelineFixture(Class<?> owner) throws Exception {
    this(owner, TestInfra.kafka());
  }

  PipelineFixture(Class<?> owner, dev.tally.common.kafka.KafkaConfig kafka) throws Exception {
    var identity = runner.manage(IdentityServiceMain.start(new IdentityConfig(ServerConfig.ephemeral(),
        TestInfra.newDatabase(owner, "identity"), kafka, IdentityPolicy.defaults(),
        IdentityConfig.DEV_INTERNAL_AUTH_KEY, IdentityConfig.DEV_SECRET_PEPPER, SmtpConfig.DISABLED), runner));
    // Metrics served on free ports, so tests scrape what an operator's Prometheus would.
    ServerConfig withMetrics = new ServerConfig(0, 0, java.time.Duration.ofSeconds(2), 4 * 1024 * 1024, true);
    wallet = WalletServiceMain.start(new WalletConfig(withMetrics, TestInfra.newDatabase(owner, "wallet"),
        kafka, WalletPolicy.defaults(), "localhost:" + identity.port(), WalletConfig.DEV_INTERNAL_AUTH_KEY),
        runner, Clock.systemUTC());
    metering = MeteringServiceMain.start(MeteringConfig.local(withMetrics,
        TestInfra.newDatabase(owner, "metering"), kafka, "localhost:" + identity.port()), runner,
        Clock.systemUTC());
    identityChannel = NettyChannelBuilder.forAddress("localhost", identity.port()).usePlaintext().build();
    walletChannel = NettyChannelBuilder.forAddress("localhost", wallet.server().port()).usePlaintext().build();
    meteringChannel = NettyChannelBuilder.forAddress("localhost", metering.server().port()).usePlaintext().build();
  }

  IdentityServiceGrpc.IdentityServiceBlockingStub identity(Caller c) {
    return IdentityServiceGrpc.newBlockingStub(identityChannel).withCallCredentials(signer.credentials(c))
        .withDeadlineAfter(20, TimeUnit.SECONDS);
  }

  WalletServiceGrpc.WalletServiceBlockingStub wallet(Caller c) {
    return WalletServiceGrpc.newBlockingStub(walletChannel).withCallCredentials(signer.credentials(c))
        .withDeadlineAfter(20, TimeUnit.SECONDS);
  }

  MeteringServiceGrpc.MeteringServiceBlockingStub metering(Caller c) {
    return MeteringServiceGrpc.newBlockingStub(meteringChannel).withCallCredentials(signer.credentials(c))
        .withDeadlineAfter(60, TimeUnit.SECONDS);
  }

  TestUser newUser(String label) {
    int n = USERS.incrementAndGet();
    User u = identity(Caller.PLATFORM).upsertUser(UpsertUserRequest.newBuilder()
        .setExternalId("ext-" + label + "-" + n + "-" + System.nanoTime()).setEmail(label + "." + n + "@example.com")
        .build()).getUser();
    return new TestUser(Caller.user(u.getName()), u.getName(), u.getEmail());
  }

  Setup setup(String label, long depositNanos) {
    TestUser owner = newUser(label + "-owner");
    TestUser member = newUser(label + "-member");
    Team team = identity(owner.caller()).createTeam(CreateTeamRequest.newBuilder().setDisplayName(label).build())
        .getTeam();
    String token = identity(owner.caller()).createInvitation(CreateInvitationRequest.newBuilder()
        .setParent(team.getName()).setEmail(member.email()).build()).getToken();
    identity(member.caller()).acceptInvitation(AcceptInvitationRequest.newBuilder().setToken(token).build());
    String key = identity(member.caller()).createApiKey(CreateApiKeyRequest.newBuilder()
        .setKind(ApiKeyKind.API_KEY_KIND_TEAM).setTeam(team.getName()).setDisplayName(label + "-key").build())
        .getApiKey().getName();
    if (depositNanos > 0) {
      wallet(Caller.PLATFORM).deposit(DepositRequest.newBuilder().setWallet(team.getWallet())
          .setAmountNanos(depositNanos).setCurrencyCode("USD").setExternalReference("pay-" + label).build());
    }
    return new Setup(team, owner, member, key, team.getName() + "/members/" + member.name().substring(6));
  }

  static UsageRecord.Builder record(String eventId, String key, String meter, long quantity, Instant at) {
    return UsageRecord.newBuilder().setEventId(eventId).setApiKey(key).setMeter(meter).setQuantity(quantity)
        .setOccurredAt(ProtoTime.ts(at));
  }

  RecordUsageResponse recordUsage(UsageRecord.Builder... records) {
    RecordUsageRequest.Builder b = RecordUsageRequest.newBuilder();
    for (UsageRecord.Builder r : records) {
      b.addRecords(r);
    }
    return metering(Caller.PLATFORM).recordUsage(b.build());
  }

  Wallet walletOf(String name) {
    return wallet(Caller.PLATFORM).getWallet(GetWalletRequest.newBuilder().setName(name).build()).getWallet();
  }

  Wallet awaitBalance(String wallet, long expected) {
    return Await.value(wallet + " balance " + expected, Duration.ofSeconds(60), () -> walletOf(wallet),
        w -> w.getBalanceNanos() == expected);
  }

  /** Every usage transfer of the wallet, through all pages of the statement. */
  java.util.List<Transfer> usageTransfers(String wallet) {
    java.util.List<Transfer> all = new java.util.ArrayList<>();
    String token = "";
    do {
      ListTransfersResponse page = wallet(Caller.PLATFORM).listTransfers(ListTransfersRequest.newBuilder()
          .setWallet(wallet).addCodes(TransferCode.TRANSFER_CODE_USAGE).setPageSize(1000).setPageToken(token).build());
      all.addAll(page.getTransfersList());
      token = page.getNextPageToken();
    } while (!token.isEmpty());
    return all;
  }

  long usageDebits(String wallet) {
    return usageTransfers(wallet).stream().mapToLong(Transfer::getAmountNanos).sum();
  }

  /** Waits until metering prices {@code wallet}'s usage at {@code bps} off (it learns discounts on wallet.v1). */
  void awaitDiscountKnown(String wallet, int bps) {
    var d = dev.tally.metering.db.jooq.Tables.DISCOUNTS;
    dev.tally.common.testing.Await.until("metering knows the discount of " + wallet, java.time.Duration.ofSeconds(20),
        () -> Integer.valueOf(bps).equals(metering.db().dsl().select(d.BASIS_POINTS).from(d)
            .where(d.BILLING_ACCOUNT.eq(wallet)).fetchOne(d.BASIS_POINTS)));
  }

  /** What the service's Prometheus endpoint answers now. */
  static String scrape(int metricsPort) throws Exception {
    var r = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(
        "http://localhost:" + metricsPort + "/metrics")).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode());
    return r.body();
  }

  void assertReconciled() {
    ReconcileResponse r = wallet(Caller.PLATFORM).reconcile(ReconcileRequest.getDefaultInstance());
    assertTrue(r.getBalanced(), "ledger out of balance: " + r.getMismatchedAccountsList());
  }


  static void assertResult(RecordResult r, RecordStatus status, String reason) {
    assertEquals(status, r.getStatus(), r.toString());
    assertEquals(reason, r.getReason(), r.toString());
  }

  @Override
  public void close() {
    identityChannel.shutdownNow();
    walletChannel.shutdownNow();
    meteringChannel.shutdownNow();
    runner.closeAll();
  }
}
