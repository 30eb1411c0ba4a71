package dev.tally.stack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.common.error.Reasons;
import dev.tally.common.grpc.ProtoTime;
import dev.tally.common.testing.Await;
import dev.tally.common.kafka.Topics;
import dev.tally.common.testing.TestInfra;
import dev.tally.common.testing.TopicReader;
import dev.tally.proto.events.v1.WalletEvent;
import dev.tally.gateway.config.GatewayConfig;
import dev.tally.proto.admission.v1.AdmissionServiceGrpc;
import dev.tally.proto.admission.v1.AdmitRequest;
import dev.tally.proto.admission.v1.AdmitResponse;
import dev.tally.proto.admission.v1.EndSessionRequest;
import dev.tally.proto.admission.v1.StartSessionRequest;
import dev.tally.proto.identity.v1.*;
import dev.tally.proto.metering.v1.*;
import dev.tally.proto.wallet.v1.*;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The whole story of a platform's Teams product, through the gateway only, on real PostgreSQL and Kafka. */
class GatewayEndToEndTest {
  private static final long DOLLAR = 1_000_000_000L;
  private static TallyStack stack;
  private static GatewayClient gw;

  @BeforeAll
  static void start() throws Exception {
    stack = TallyStack.start(new StackConfig(Files.createTempDirectory("tally-e2e"), true, 0, 0, 0, 0, 0, -1, "", ""),
        TestInfra.newDatabase(GatewayEndToEndTest.class, "identity"), TestInfra.kafka());
    gw = new GatewayClient(stack.gatewayPort(), GatewayConfig.DEV_PLATFORM_TOKEN);
  }

  @AfterAll
  static void stop() {
    gw.close();
    stack.close();
  }

  private static IdentityServiceGrpc.IdentityServiceBlockingStub identity(io.grpc.CallCredentials c) {
    return IdentityServiceGrpc.newBlockingStub(gw.channel).withCallCredentials(c).withDeadlineAfter(20, TimeUnit.SECONDS);
  }

  private static WalletServiceGrpc.WalletServiceBlockingStub wallet(io.grpc.CallCredentials c) {
    return WalletServiceGrpc.newBlockingStub(gw.channel).withCallCredentials(c).withDeadlineAfter(20, TimeUnit.SECONDS);
  }

  private static MeteringServiceGrpc.MeteringServiceBlockingStub metering(io.grpc.CallCredentials c) {
    return MeteringServiceGrpc.newBlockingStub(gw.channel).withCallCredentials(c).withDeadlineAfter(20, TimeUnit.SECONDS);
  }

  private static AdmitResponse admit(String secret, long estimatedTokens) {
    return AdmissionServiceGrpc.newBlockingStub(gw.channel).withCallCredentials(gw.platform())
        .withDeadlineAfter(20, TimeUnit.SECONDS).admit(AdmitRequest.newBuilder().setApiKeySecret(secret)
            .setMeter("output_tokens").setEstimatedQuantity(estimatedTokens).build());
  }

  private static RecordResult record(String eventId, String key, String meter, long quantity, String hold) {
    return metering(gw.platform()).recordUsage(RecordUsageRequest.newBuilder().addRecords(UsageRecord.newBuilder()
        .setEventId(eventId).setApiKey(key).setMeter(meter).setQuantity(quantity)
        .setOccurredAt(ProtoTime.ts(Instant.now())).setHold(hold)).build()).getResults(0);
  }

  private static Wallet walletOf(io.grpc.CallCredentials c, String name) {
    return wallet(c).getWallet(GetWalletRequest.newBuilder().setName(name).build()).getWallet();
  }

  private static dev.tally.proto.wallet.v1.WalletInternalServiceGrpc.WalletInternalServiceBlockingStub internalWallet(
      io.grpc.CallCredentials c) {
    return dev.tally.proto.wallet.v1.WalletInternalServiceGrpc.newBlockingStub(gw.channel).withCallCredentials(c)
        .withDeadlineAfter(20, TimeUnit.SECONDS);
  }

  private static void assertUnimplemented(org.junit.jupiter.api.function.Executable call) {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call);
    assertEquals(Status.Code.UNIMPLEMENTED, e.getStatus().getCode(), e.getStatus().toString());
  }

  private static void assertDenied(Status.Code code, String reason, org.junit.jupiter.api.function.Executable call) {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call);
    assertEquals(code, e.getStatus().getCode(), e.getStatus().toString());
    assertEquals(reason, Reasons.of(e, ""), e.getStatus().toString());
  }

  /** Waits until {@code secret} is refused by Admit; returns how long that took. */
  private static Duration untilDenied(String secret) {
    long t0 = System.nanoTime();
    Await.until("key denied", Duration.ofSeconds(5), () -> {
      try {
        admit(secret, 1);
        return false;
      } catch (StatusRuntimeException e) {
        return true;
      }
    });
    return Duration.ofNanos(System.nanoTime() - t0);
  }

  @Test
  void aTeamFromSignUpToDeletionThroughTheGatewayOnly() {
    // Users signed in through the platform token.
    User owner = identity(gw.platform()).upsertUser(UpsertUserRequest.newBuilder().setExternalId("auth0|owner")
        .setEmail("owner@acme.test").setDisplayName("Olive Owner").build()).getUser();
    User member = identity(gw.platform()).upsertUser(UpsertUserRequest.newBuilder().setExternalId("auth0|member")
        .setEmail("member@acme.test").setDisplayName("Milo Member").build()).getUser();
    var asOwner = gw.asUser(owner.getName());
    var asMember = gw.asUser(member.getName());

    // A team; a member invited by email accepts.
    Team team = identity(asOwner).createTeam(CreateTeamRequest.newBuilder().setDisplayName("Acme AI")
        .setRequestId("e2e-team").build()).getTeam();
    String token = identity(asOwner).createInvitation(CreateInvitationRequest.newBuilder().setParent(team.getName())
        .setEmail("member@acme.test").build()).getToken();
    assertEquals("roles/member", identity(asMember).acceptInvitation(AcceptInvitationRequest.newBuilder()
        .setToken(token).build()).getMember().getRole());

    // A team key; the platform records the owner's payment (a customer can never mint money itself).
    CreateApiKeyResponse key = identity(asMember).createApiKey(CreateApiKeyRequest.newBuilder()
        .setKind(ApiKeyKind.API_KEY_KIND_TEAM).setTeam(team.getName()).setDisplayName("prod").build());
    String keyName = key.getApiKey().getName();
    assertDenied(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN", () -> wallet(asOwner).deposit(DepositRequest
        .newBuilder().setWallet(team.getName()).setAmountNanos(1_000_000 * DOLLAR).setCurrencyCode("USD")
        .setExternalReference("minted").build()));
    assertDenied(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN", () -> wallet(gw.apiKey(key.getSecret()))
        .deposit(DepositRequest.newBuilder().setWallet(team.getName()).setAmountNanos(1_000_000 * DOLLAR)
            .setCurrencyCode("USD").setExternalReference("minted-by-key").build()));
    wallet(gw.platform()).deposit(DepositRequest.newBuilder().setWallet(team.getName()).setAmountNanos(DOLLAR)
        .setCurrencyCode("USD").setExternalReference("stripe_pi_1").build());

    // Admit + RecordUsage spend it down: 10 calls of 1,000 output tokens ($0.0006 each).
    for (int i = 0; i < 10; i++) {
      AdmitResponse allowed = admit(key.getSecret(), 2_000);
      assertEquals(team.getWallet(), allowed.getBillingAccount());
      assertEquals(member.getName(), allowed.getUser());
      assertFalse(allowed.getHold().isEmpty());
      assertEquals(RecordStatus.RECORD_STATUS_ACCEPTED,
          record("call-" + i, keyName, "output_tokens", 1_000, allowed.getHold()).getStatus());
    }
    long spent = 10 * 600_000L;
    Await.until("balance after usage", Duration.ofSeconds(30),
        () -> walletOf(asOwner, team.getName()).getBalanceNanos() == DOLLAR - spent);
    // Every hold settled by its usage; the gateway's lease given back once idle.
    Await.until("nothing held", Duration.ofSeconds(10), () -> walletOf(asOwner, team.getName()).getHeldNanos() == 0);

    // Usage visible per key and per member.
    Await.until("usage rollups", Duration.ofSeconds(30), () -> metering(asMember).getUsageSummary(
        GetUsageSummaryRequest.newBuilder().setSubject(keyName).build()).getCalls() == 10);
    GetUsageSummaryResponse byMember = metering(asOwner).getUsageSummary(GetUsageSummaryRequest.newBuilder()
        .setSubject(team.getName() + "/members/" + member.getName().substring(6)).build());
    assertEquals(spent, byMember.getSpendNanos());
    assertEquals(10_000, byMember.getOutputTokens());

    // A spending limit reached → RESOURCE_EXHAUSTED; raised → allowed again.
    wallet(asOwner).setSpendingLimit(SetSpendingLimitRequest.newBuilder().setWallet(team.getName())
        .setPeriod(Period.PERIOD_DAY).setLimitNanos(spent + 1_000_000L).build());
    assertDenied(Status.Code.RESOURCE_EXHAUSTED, "SPENDING_LIMIT_REACHED", () -> admit(key.getSecret(), 2_000));
    wallet(asOwner).setSpendingLimit(SetSpendingLimitRequest.newBuilder().setWallet(team.getName())
        .setPeriod(Period.PERIOD_DAY).setLimitNanos(10 * DOLLAR).build());
    admit(key.getSecret(), 2_000);

    // The balance falls to $0.05 → WALLET_SUSPENDED; a deposit resumes it.
    // Burn the balance down to about $0.05; the last admission's open hold takes available below it.
    long toSpend = DOLLAR - spent - 50_000_000L;
    record("gpu-burn", keyName, "gpu_seconds", toSpend / 300, "");
    Await.until("suspension", Duration.ofSeconds(30), () -> walletOf(asOwner, team.getName()).getStatus()
        == WalletStatus.WALLET_STATUS_SUSPENDED);
    // The suspension reaches the gateway's lease through wallet.v1 (a fraction of a second; the lease's money
    // is held, so nothing admitted meanwhile is unpaid), then every Admit is refused.
    Await.until("suspension at the gateway", Duration.ofSeconds(5), () -> {
      try {
        admit(key.getSecret(), 10);
        return false;
      } catch (StatusRuntimeException e) {
        return "WALLET_SUSPENDED".equals(Reasons.of(e, ""));
      }
    });
    assertDenied(Status.Code.FAILED_PRECONDITION, "WALLET_SUSPENDED", () -> admit(key.getSecret(), 10));
    wallet(gw.platform()).deposit(DepositRequest.newBuilder().setWallet(team.getName()).setAmountNanos(5 * DOLLAR)
        .setCurrencyCode("USD").setExternalReference("stripe_pi_2").build());
    admit(key.getSecret(), 10);
    // Both changes are signalled once, for backends and webhooks.
    List<WalletEvent> changes = TopicReader.readUntil(Topics.WALLET, team.getWallet(), WalletEvent.parser(),
        WalletEvent::hasWalletResumed);
    assertEquals(1, changes.stream().filter(WalletEvent::hasWalletSuspended).count());
    assertEquals(1, changes.stream().filter(WalletEvent::hasWalletResumed).count());

    // The key revoked → denied on the gateway within a second.
    identity(asMember).revokeApiKey(RevokeApiKeyRequest.newBuilder().setName(keyName).build());
    Duration revocation = untilDenied(key.getSecret());
    assertTrue(revocation.compareTo(Duration.ofSeconds(1)) < 0, "revocation took " + revocation);
    assertDenied(Status.Code.PERMISSION_DENIED, "KEY_REVOKED", () -> admit(key.getSecret(), 10));

    // The member removed → their (new) team key denied.
    String key2 = identity(asMember).createApiKey(CreateApiKeyRequest.newBuilder()
        .setKind(ApiKeyKind.API_KEY_KIND_TEAM).setTeam(team.getName()).setDisplayName("second").build()).getSecret();
    admit(key2, 10);
    identity(asOwner).removeMember(RemoveMemberRequest.newBuilder()
        .setName(team.getName() + "/members/" + member.getName().substring(6)).build());
    Duration removal = untilDenied(key2);
    assertTrue(removal.compareTo(Duration.ofSeconds(1)) < 0, "removal took " + removal);

    // The team deleted → the owner's personal wallet holds the remainder.
    long remainder = Await.value("holds released", Duration.ofSeconds(30),
        () -> walletOf(asOwner, team.getName()), w -> w.getBalanceNanos() > 0).getBalanceNanos();
    identity(asOwner).deleteTeam(DeleteTeamRequest.newBuilder().setName(team.getName()).build());
    Await.until("refund to the owner", Duration.ofSeconds(30),
        () -> walletOf(asOwner, "users/me").getBalanceNanos() == remainder);
    assertTrue(wallet(gw.platform()).getWallet(GetWalletRequest.newBuilder().setName(team.getWallet()).build())
        .getWallet().getBalanceNanos() == 0);
  }

  @Test
  void callsWithoutValidCredentialsAreUnauthenticatedAndInternalMethodsAreClosed() {
    var none = IdentityServiceGrpc.newBlockingStub(gw.channel).withDeadlineAfter(10, TimeUnit.SECONDS);
    assertDenied(Status.Code.UNAUTHENTICATED, "UNAUTHENTICATED",
        () -> none.getUser(GetUserRequest.newBuilder().setName("users/me").build()));
    assertDenied(Status.Code.UNAUTHENTICATED, "KEY_INVALID", () -> identity(gw.apiKey("tly_" + "n".repeat(43)))
        .getUser(GetUserRequest.newBuilder().setName("users/me").build()));
    assertDenied(Status.Code.UNAUTHENTICATED, "UNAUTHENTICATED", () -> identity(GatewayClient.bearer("wrong-token", null))
        .getUser(GetUserRequest.newBuilder().setName("users/me").build()));
    // The internal services are not served by the gateway at all, not even to the platform.
    assertUnimplemented(() -> dev.tally.proto.identity.v1.IdentityInternalServiceGrpc.newBlockingStub(gw.channel)
        .withCallCredentials(gw.platform()).withDeadlineAfter(20, TimeUnit.SECONDS)
        .verifyApiKey(VerifyApiKeyRequest.newBuilder().setSecret("tly_" + "x".repeat(43)).build()));
    assertUnimplemented(() -> internalWallet(gw.platform())
        .reserve(ReserveRequest.newBuilder().setWallet("wallets/team-x").setAmountNanos(1).build()));
    assertUnimplemented(() -> internalWallet(gw.platform())
        .reserveBatch(dev.tally.proto.wallet.v1.ReserveBatchRequest.newBuilder().addItems(
            dev.tally.proto.wallet.v1.ReserveBatchItem.newBuilder().setReserve(ReserveRequest.newBuilder()
                .setWallet("wallets/team-x").setAmountNanos(1))).build()));
  }

  @Test
  void anApiKeyAuthenticatesItsOwnerAndTheDeadlineTravels() {
    User u = identity(gw.platform()).upsertUser(UpsertUserRequest.newBuilder().setExternalId("auth0|keyuser")
        .setEmail("keyuser@acme.test").build()).getUser();
    String secret = identity(gw.asUser(u.getName())).createApiKey(CreateApiKeyRequest.newBuilder()
        .setKind(ApiKeyKind.API_KEY_KIND_PERSONAL).setDisplayName("cli").build()).getSecret();
    assertEquals(u.getName(), identity(gw.apiKey(secret)).getUser(GetUserRequest.newBuilder().setName("users/me")
        .build()).getUser().getName());
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> IdentityServiceGrpc
        .newBlockingStub(gw.channel).withCallCredentials(gw.apiKey(secret)).withDeadlineAfter(1, TimeUnit.MICROSECONDS)
        .getUser(GetUserRequest.newBuilder().setName("users/me").build()));
    assertEquals(Status.Code.DEADLINE_EXCEEDED, e.getStatus().getCode());
  }

  /** A forwarded call's request id comes back once: the gateway's, not also the upstream service's copy. */
  @Test
  void theRequestIdComesBackOnceThroughTheGateway() {
    io.grpc.Metadata headers = new io.grpc.Metadata();
    headers.put(dev.tally.common.grpc.RequestIds.HEADER, "req-e2e-once");
    for (boolean fails : List.of(false, true)) {
      var trailers = new java.util.concurrent.atomic.AtomicReference<io.grpc.Metadata>();
      var stub = identity(gw.platform()).withInterceptors(io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(headers),
          io.grpc.stub.MetadataUtils.newCaptureMetadataInterceptor(new java.util.concurrent.atomic.AtomicReference<>(),
              trailers));
      try {
        if (fails) {
          stub.getUser(GetUserRequest.newBuilder().setName("users/nobody").build());
        } else {
          stub.upsertUser(UpsertUserRequest.newBuilder().setExternalId("auth0|request-id")
              .setEmail("request-id@acme.test").build());
        }
      } catch (StatusRuntimeException refused) {
        assertTrue(fails, refused.toString());
      }
      assertEquals(List.of("req-e2e-once"), com.google.common.collect.ImmutableList.copyOf(
          trailers.get().getAll(dev.tally.common.grpc.RequestIds.HEADER)), "failing: " + fails);
    }
  }

  @Test
  void planFiguresShowWhatWasGrantedAndFewerSeatsTakeNothingBack() {
    User owner = identity(gw.platform()).upsertUser(UpsertUserRequest.newBuilder().setExternalId("auth0|planner")
        .setEmail("planner@acme.test").build()).getUser();
    Team team = identity(gw.asUser(owner.getName())).createTeam(CreateTeamRequest.newBuilder()
        .setDisplayName("Seats").build()).getTeam();
    Wallet two = wallet(gw.platform()).setPlan(SetPlanRequest.newBuilder().setWallet(team.getWallet())
        .setPlan("plans/starter").setSeats(2).build()).getWallet();
    long granted = two.getPlan().getGrantedThisPeriodNanos();
    assertTrue(granted > 0 && granted <= 2 * 5 * DOLLAR, "pro rata for the rest of the month: " + granted);
    assertEquals(two.getGrantedBalanceNanos(), granted);
    Wallet three = wallet(gw.platform()).setPlan(SetPlanRequest.newBuilder().setWallet(team.getWallet())
        .setPlan("plans/starter").setSeats(3).build()).getWallet();
    long more = three.getPlan().getGrantedThisPeriodNanos() - granted;
    assertTrue(more > 0 && more <= 5 * DOLLAR, "one more seat, pro rata: " + more);
    assertEquals(three.getGrantedBalanceNanos(), three.getPlan().getGrantedThisPeriodNanos());
    Wallet one = wallet(gw.platform()).setPlan(SetPlanRequest.newBuilder().setWallet(team.getWallet())
        .setPlan("plans/starter").setSeats(1).build()).getWallet();
    assertEquals(1, one.getPlan().getSeats());
    assertEquals(three.getPlan().getGrantedThisPeriodNanos(), one.getPlan().getGrantedThisPeriodNanos(),
        "fewer seats take nothing back this period");
    assertEquals(three.getGrantedBalanceNanos(), walletOf(gw.platform(), team.getWallet()).getGrantedBalanceNanos());
    assertEquals(one.getPlan().getGrantedThisPeriodNanos(),
        walletOf(gw.platform(), team.getWallet()).getPlan().getGrantedThisPeriodNanos(), "GetWallet shows it too");
  }

  /**
   * GetUsage names list and net spend; net equals the ledger's usage debits and what RecordUsage said each
   * record costs net, whenever the discount reached metering.
   */
  @Test
  void usageReportsListAndNetSpendAndNetIsWhatTheWalletDebited() {
    OwnedTeam t = ownedTeam("net", 100 * DOLLAR);
    User owner = t.owner();
    Team team = t.team();
    String key = t.key();
    wallet(gw.platform()).setDiscount(SetDiscountRequest.newBuilder().setWallet(team.getName())
        .setDiscountBasisPoints(2_500).build());
    long list = 0;
    long net = 0;
    int n = 0;
    // Usage is priced when recorded: records go on until one carries the discount (metering hears of it on
    // wallet.v1), and every one of them says what it costs net.
    RecordResult last;
    do {
      last = record("net-" + (++n), key, "output_tokens", 1_000, "");
      list += last.getCostNanos();
      net += last.getNetCostNanos();
      assertTrue(n < 500, "the discount never reached metering");
    } while (last.getNetCostNanos() == last.getCostNanos());
    assertEquals(last.getCostNanos() * 3 / 4, last.getNetCostNanos(), "25 % off");
    long expectedNet = net;
    Await.until("debited", Duration.ofSeconds(30),
        () -> walletOf(gw.platform(), team.getWallet()).getBalanceNanos() == 100 * DOLLAR - expectedNet);
    int calls = n;
    Await.until("rolled up", Duration.ofSeconds(30), () -> metering(gw.platform()).getUsageSummary(
        GetUsageSummaryRequest.newBuilder().setSubject(team.getName()).build()).getCalls() == calls);
    GetUsageSummaryResponse summary = metering(gw.asUser(owner.getName())).getUsageSummary(
        GetUsageSummaryRequest.newBuilder().setSubject(team.getName()).build());
    assertEquals(list, summary.getListSpendNanos());
    assertEquals(net, summary.getNetSpendNanos(), "net spend is what the wallet debited");
    assertEquals(list, summary.getSpendNanos(), "the old field stays list spend");
    GetUsageResponse buckets = metering(gw.asUser(owner.getName())).getUsage(GetUsageRequest.newBuilder()
        .setSubject(team.getName()).setStartTime(ProtoTime.ts(Instant.now().minus(Duration.ofDays(1))))
        .setEndTime(ProtoTime.ts(Instant.now().plus(Duration.ofMinutes(2))))
        .setBucketWidth(BucketWidth.BUCKET_WIDTH_DAY).build());
    assertEquals(net, buckets.getBucketsList().stream().flatMap(b -> b.getGroupsList().stream())
        .mapToLong(UsageGroup::getNetSpendNanos).sum());
  }

  /** An Owner's team with a team key (its name) and {@code deposit} on its wallet. */
  private record OwnedTeam(User owner, Team team, String key) {}

  private static OwnedTeam ownedTeam(String label, long deposit) {
    User owner = identity(gw.platform()).upsertUser(UpsertUserRequest.newBuilder().setExternalId("auth0|" + label)
        .setEmail(label + "@acme.test").build()).getUser();
    Team team = identity(gw.asUser(owner.getName())).createTeam(CreateTeamRequest.newBuilder()
        .setDisplayName(label).build()).getTeam();
    String key = identity(gw.asUser(owner.getName())).createApiKey(CreateApiKeyRequest.newBuilder()
        .setKind(ApiKeyKind.API_KEY_KIND_TEAM).setTeam(team.getName()).setDisplayName(label).build())
        .getApiKey().getName();
    if (deposit > 0) {
      wallet(gw.platform()).deposit(DepositRequest.newBuilder().setWallet(team.getName()).setAmountNanos(deposit)
          .setCurrencyCode("USD").setExternalReference(label + "-pay").build());
    }
    return new OwnedTeam(owner, team, key);
  }

  /**
   * What a platform's backend sees of limits and refills, driven through the gateway: an alert at the
   * limit's own percentage and its resolution when the limit is raised, a refill up to the target, failed
   * payments switching auto-refill off, and meters that say their unit.
   */
  @Test
  void alertsResolveRefillsStopAfterFailedPaymentsAndMetersSayTheirUnit() {
    OwnedTeam t = ownedTeam("signals", 6 * DOLLAR);
    var asOwner = wallet(gw.asUser(t.owner().getName()));
    asOwner.setSpendingLimit(SetSpendingLimitRequest.newBuilder().setWallet(t.team().getName())
        .setPeriod(Period.PERIOD_DAY).setLimitNanos(10 * DOLLAR).addAlertPercents(50).build());
    asOwner.setAutoRefill(SetAutoRefillRequest.newBuilder().setWallet(t.team().getName()).setEnabled(true)
        .setThresholdNanos(5 * DOLLAR).setTargetBalanceNanos(10 * DOLLAR).setMaxFailedAttempts(2).build());
    for (int i = 0; i < 5; i++) {
      assertEquals(1_080_000_000L, record("signals-" + i, t.key(), "gpu_seconds", 3_600_000, "").getCostNanos(),
          "an hour of GPU is 3,600,000 ms");
    }
    long balance = 6 * DOLLAR - 5 * 1_080_000_000L;
    Await.until("debited", Duration.ofSeconds(30),
        () -> walletOf(gw.platform(), t.team().getWallet()).getBalanceNanos() == balance);
    asOwner.setSpendingLimit(SetSpendingLimitRequest.newBuilder().setWallet(t.team().getName())
        .setPeriod(Period.PERIOD_DAY).setLimitNanos(20 * DOLLAR).addAlertPercents(50).build());
    String wallet = t.team().getWallet();
    WalletEvent refill = TopicReader.readUntil(Topics.WALLET, wallet, WalletEvent.parser(),
        WalletEvent::hasRefillRequested).getLast();
    assertEquals(10 * DOLLAR - refill.getRefillRequested().getBalanceNanos(),
        refill.getRefillRequested().getAmountNanos(), "up to the target");
    String refillId = refill.getRefillRequested().getRefillId();
    for (int attempt = 1; attempt <= 2; attempt++) {
      wallet(gw.platform()).reportRefillFailed(ReportRefillFailedRequest.newBuilder().setWallet(t.team().getName())
          .setRefillId(refillId).setRequestId("declined-" + attempt).build());
    }
    List<WalletEvent> events = TopicReader.readUntil(Topics.WALLET, wallet, WalletEvent.parser(),
        WalletEvent::hasAutoRefillDisabled);
    WalletEvent crossed = events.stream().filter(WalletEvent::hasThresholdCrossed).findFirst().orElseThrow();
    assertEquals(50, crossed.getThresholdCrossed().getPercent(), "the limit's own percentage");
    WalletEvent resolved = events.stream().filter(WalletEvent::hasThresholdResolved).findFirst().orElseThrow();
    assertEquals("LIMIT_RAISED", resolved.getThresholdResolved().getReason());
    assertEquals(20 * DOLLAR, resolved.getThresholdResolved().getLimitNanos());
    assertEquals(2, events.getLast().getAutoRefillDisabled().getFailedAttempts());
    assertFalse(walletOf(gw.platform(), wallet).getAutoRefill().getEnabled());
    assertDenied(Status.Code.FAILED_PRECONDITION, "AUTO_REFILL_OFF", () -> wallet(gw.platform()).reportRefillFailed(
        ReportRefillFailedRequest.newBuilder().setWallet(t.team().getName()).setRefillId(refillId)
            .setRequestId("declined-3").build()));

    Meter gpu = metering(gw.asUser(t.owner().getName())).listMeters(ListMetersRequest.getDefaultInstance())
        .getMetersList().stream().filter(m -> m.getName().equals("meters/gpu_seconds")).findFirst().orElseThrow();
    assertEquals("millisecond", gpu.getBaseUnit());
    assertEquals("second", gpu.getDisplayUnit());
    assertEquals(1000, gpu.getBaseUnitsPerDisplayUnit());
  }

  /** A streamed CSV export read to the end, as a client concatenates it. */
  private static <T> List<String> csvLines(java.util.Iterator<T> chunks,
      java.util.function.Function<T, com.google.protobuf.ByteString> csv, int[] chunkCount) {
    StringBuilder all = new StringBuilder();
    while (chunks.hasNext()) {
      all.append(csv.apply(chunks.next()).toStringUtf8());
      chunkCount[0]++;
    }
    return List.of(all.toString().split("\r\n"));
  }

  /** Finance exports a team's spend and the audit log as CSV through the gateway, streamed in chunks. */
  @Test
  void billingExportsSpendAndTheAuditLogAsStreamedCsv() {
    OwnedTeam t = ownedTeam("exports", 100 * DOLLAR);
    String token = identity(gw.asUser(t.owner().getName())).createInvitation(CreateInvitationRequest.newBuilder()
        .setParent(t.team().getName()).setEmail("finance@acme.test").setRole("roles/billing").build()).getToken();
    User finance = identity(gw.platform()).upsertUser(UpsertUserRequest.newBuilder().setExternalId("auth0|finance")
        .setEmail("finance@acme.test").build()).getUser();
    identity(gw.asUser(finance.getName())).acceptInvitation(AcceptInvitationRequest.newBuilder().setToken(token)
        .build());
    // 1,000 models make 1,000 rows: more than one chunk. Two odd names check the CSV's quoting.
    List<String> models = new java.util.ArrayList<>();
    for (int i = 0; i < 998; i++) {
      models.add("model-" + i);
    }
    models.add("vendor, \"large\"");
    models.add("=HYPERLINK(\"x\")");
    Instant at = Instant.now();
    for (int from = 0; from < models.size(); from += 500) {
      RecordUsageRequest.Builder batch = RecordUsageRequest.newBuilder();
      for (int i = from; i < from + 500; i++) {
        batch.addRecords(UsageRecord.newBuilder().setEventId("export-" + i).setApiKey(t.key())
            .setMeter("output_tokens").setModel(models.get(i)).setQuantity(1_000).setOccurredAt(ProtoTime.ts(at)));
      }
      assertTrue(metering(gw.platform()).recordUsage(batch.build()).getResultsList().stream()
          .allMatch(r -> r.getStatus() == RecordStatus.RECORD_STATUS_ACCEPTED));
    }
    long spent = 1_000 * 600_000L;
    Await.until("debited", Duration.ofSeconds(30),
        () -> walletOf(gw.platform(), t.team().getWallet()).getBalanceNanos() == 100 * DOLLAR - spent);
    Await.until("rolled up", Duration.ofSeconds(30), () -> metering(gw.platform()).getUsageSummary(
        GetUsageSummaryRequest.newBuilder().setSubject(t.team().getName()).build()).getCalls() == 1_000);

    int[] chunks = {0};
    ExportUsageRequest export = ExportUsageRequest.newBuilder().setSubject(t.team().getName())
        .setStartTime(ProtoTime.ts(at.minus(Duration.ofDays(1)))).setEndTime(ProtoTime.ts(at.plus(Duration.ofDays(1))))
        .build();
    List<String> lines = csvLines(metering(gw.asUser(finance.getName())).exportUsage(export),
        ExportUsageResponse::getCsv, chunks);
    assertEquals("day,member,api_key,meter,model,calls,quantity,list_spend,net_spend,list_spend_nanos,"
        + "net_spend_nanos,currency_code", lines.get(0));
    assertEquals(1_001, lines.size(), "a header and a row per model");
    assertTrue(chunks[0] > 1, "streamed in chunks: " + chunks[0]);
    long net = 0;
    for (String line : lines.subList(1, lines.size())) {
      String[] cells = line.split(",(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)"); // commas outside quotes
      assertEquals(12, cells.length, line);
      net += Long.parseLong(cells[10]);
    }
    assertEquals(spent, net, "net spend adds up to what the wallet debited");
    assertTrue(lines.stream().anyMatch(l -> l.contains(",\"vendor, \"\"large\"\"\",")), "quoted");
    assertTrue(lines.stream().anyMatch(l -> l.contains(",\"'=HYPERLINK(\"\"x\"\")\",")), "defused");
    assertTrue(lines.get(1).startsWith(java.time.LocalDate.ofInstant(at, java.time.ZoneOffset.UTC) + ","
        + t.owner().getName() + "," + t.key() + ",output_tokens,"), lines.get(1));

    // The audit log, oldest first.
    List<String> audit = csvLines(identity(gw.asUser(t.owner().getName())).exportAuditEvents(
        ExportAuditEventsRequest.newBuilder().setParent(t.team().getName()).build()), ExportAuditEventsResponse::getCsv,
        new int[1]);
    assertEquals("time,actor_user,actor_api_key,action,target,request_id,details", audit.get(0));
    assertTrue(audit.stream().anyMatch(l -> l.contains(",api_key.create," + t.key() + ",")), audit.toString());

    // A member sees neither; finance has no audit view either.
    User member = identity(gw.platform()).upsertUser(UpsertUserRequest.newBuilder().setExternalId("auth0|exp-m")
        .setEmail("exp-m@acme.test").build()).getUser();
    String invite = identity(gw.asUser(t.owner().getName())).createInvitation(CreateInvitationRequest.newBuilder()
        .setParent(t.team().getName()).setEmail("exp-m@acme.test").build()).getToken();
    identity(gw.asUser(member.getName())).acceptInvitation(AcceptInvitationRequest.newBuilder().setToken(invite)
        .build());
    assertDenied(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN",
        () -> metering(gw.asUser(member.getName())).exportUsage(export).hasNext());
    assertDenied(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN", () -> identity(gw.asUser(finance.getName()))
        .exportAuditEvents(ExportAuditEventsRequest.newBuilder().setParent(t.team().getName()).build()).hasNext());
    assertDenied(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", () -> metering(gw.asUser(finance.getName()))
        .exportUsage(export.toBuilder().setTimeZone("Nowhere/Land").build()).hasNext());
  }

  /**
   * Errors any gRPC client can read: reflection serves the google.rpc detail types (so grpcurl and buf curl
   * print ErrorInfo instead of base64), and the gateway lists every reason of the registry.
   */
  @Test
  void aGenericReflectionClientDecodesTheErrorDetails() throws Exception {
    var answer = new java.util.concurrent.CompletableFuture<io.grpc.reflection.v1.ServerReflectionResponse>();
    var requests = io.grpc.reflection.v1.ServerReflectionGrpc.newStub(gw.channel).serverReflectionInfo(
        new io.grpc.stub.StreamObserver<>() {
          @Override
          public void onNext(io.grpc.reflection.v1.ServerReflectionResponse r) {
            answer.complete(r);
          }

          @Override
          public void onError(Throwable t) {
            answer.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {}
        });
    requests.onNext(io.grpc.reflection.v1.ServerReflectionRequest.newBuilder()
        .setFileContainingSymbol("google.rpc.ErrorInfo").build());
    var found = answer.get(20, TimeUnit.SECONDS);
    requests.onCompleted();
    assertTrue(found.hasFileDescriptorResponse(), found.toString());
    // Decode a real error's ErrorInfo with nothing but what reflection served, as grpcurl does.
    java.util.Map<String, com.google.protobuf.DescriptorProtos.FileDescriptorProto> files = new java.util.HashMap<>();
    for (com.google.protobuf.ByteString b : found.getFileDescriptorResponse().getFileDescriptorProtoList()) {
      var f = com.google.protobuf.DescriptorProtos.FileDescriptorProto.parseFrom(b);
      files.put(f.getName(), f);
    }
    var errorDetails = build(files, "google/rpc/error_details.proto", new java.util.HashMap<>());
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> identity(gw.platform())
        .getTeam(GetTeamRequest.newBuilder().setName("teams/nope").build()));
    com.google.protobuf.Any detail = io.grpc.protobuf.StatusProto.fromThrowable(e).getDetails(0);
    assertEquals("type.googleapis.com/google.rpc.ErrorInfo", detail.getTypeUrl());
    var info = com.google.protobuf.DynamicMessage.parseFrom(errorDetails.findMessageTypeByName("ErrorInfo"),
        detail.getValue());
    assertEquals("NOT_FOUND", info.getField(info.getDescriptorForType().findFieldByName("reason")));
    assertEquals("tally.dev", info.getField(info.getDescriptorForType().findFieldByName("domain")));

    var reasons = dev.tally.proto.errors.v1.ErrorReasonServiceGrpc.newBlockingStub(gw.channel)
        .withCallCredentials(gw.platform()).withDeadlineAfter(20, TimeUnit.SECONDS)
        .listErrorReasons(dev.tally.proto.errors.v1.ListErrorReasonsRequest.getDefaultInstance()).getReasonsList();
    assertEquals(Reasons.all().size(), reasons.size());
    var quota = reasons.stream().filter(r -> r.getReason().equals("QUOTA_EXCEEDED")).findFirst().orElseThrow();
    assertEquals(List.of("RESOURCE_EXHAUSTED"), quota.getCodesList());
  }

  /**
   * Usage corrections through the gateway: a void and an amendment become reversal and replacement lines,
   * never edits; the balance, the granted credit, the spending window, GetUsage and the audit log follow, and
   * the same correction twice changes nothing more.
   */
  @Test
  void usageIsVoidedAndAmendedByReversalsAndReplacements() {
    OwnedTeam t = ownedTeam("corrections", 100 * DOLLAR);
    String team = t.team().getName();
    wallet(gw.platform()).grantCredits(GrantCreditsRequest.newBuilder().setWallet(team).setAmountNanos(DOLLAR)
        .setRequestId("corrections-grant").build());
    wallet(gw.asUser(t.owner().getName())).setSpendingLimit(SetSpendingLimitRequest.newBuilder().setWallet(team)
        .setPeriod(Period.PERIOD_MONTH).setLimitNanos(50 * DOLLAR).build());
    record("fix-1", t.key(), "gpu_seconds", 3_600_000, ""); // $1.08: $1 granted, $0.08 paid
    record("fix-2", t.key(), "gpu_seconds", 3_600_000, "");
    Await.until("debited", Duration.ofSeconds(30),
        () -> walletOf(gw.platform(), t.team().getWallet()).getBalanceNanos() == 101 * DOLLAR - 2_160_000_000L);

    CorrectUsageResponse voided = metering(gw.platform()).correctUsage(CorrectUsageRequest.newBuilder()
        .setApiKey(t.key()).setEventId("fix-1").setVoid(true).setReason("duplicate request").setRequestId("void-1")
        .build());
    assertEquals("fix-1~void-1", voided.getCorrectionEventId());
    assertEquals(1_080_000_000L, voided.getPreviousCostNanos());
    assertEquals(0, voided.getCostNanos());
    CorrectUsageRequest amend = CorrectUsageRequest.newBuilder().setApiKey(t.key()).setEventId("fix-2")
        .setQuantity(1_800_000).setReason("half the time was ours").setRequestId("amend-1").build();
    assertEquals(540_000_000L, metering(gw.platform()).correctUsage(amend).getCostNanos());
    assertEquals(540_000_000L, metering(gw.platform()).correctUsage(amend).getCostNanos(), "a replay answers alike");

    long balance = 101 * DOLLAR - 540_000_000L;
    Wallet w = Await.value("corrected", Duration.ofSeconds(30), () -> walletOf(gw.platform(), t.team().getWallet()),
        x -> x.getBalanceNanos() == balance);
    assertEquals(540_000_000L, w.getSpendingLimits(0).getSpentNanos(), "the month's window follows");
    assertTrue(wallet(gw.platform()).reconcile(ReconcileRequest.getDefaultInstance()).getBalanced());
    List<Transfer> items = wallet(gw.platform()).listTransfers(ListTransfersRequest.newBuilder().setWallet(team)
        .setPageSize(100).build()).getTransfersList();
    assertTrue(items.stream().anyMatch(i -> i.getUsageEventId().equals("fix-1~void-1")
        && i.getCreditAccount().equals(t.team().getWallet() + "/granted") && i.getAmountNanos() == DOLLAR
        && i.getDescription().contains("duplicate request")), "the reversal gives the granted credit back: " + items);
    assertTrue(items.stream().anyMatch(i -> i.getUsageEventId().equals("fix-2~amend-1:replacement")
        && i.getAmountNanos() > 0), "the replacement is itemized");
    Await.until("rollups follow", Duration.ofSeconds(30), () -> {
      GetUsageSummaryResponse u = metering(gw.platform()).getUsageSummary(GetUsageSummaryRequest.newBuilder()
          .setSubject(team).build());
      return u.getCalls() == 1 && u.getListSpendNanos() == 540_000_000L && u.getNetSpendNanos() == 540_000_000L;
    });
    assertTrue(identity(gw.asUser(t.owner().getName())).listAuditEvents(ListAuditEventsRequest.newBuilder()
        .setParent(team).addActions("usage.correct").build()).getAuditEventsCount() >= 2);

    assertDenied(Status.Code.NOT_FOUND, "NOT_FOUND", () -> metering(gw.platform()).correctUsage(amend.toBuilder()
        .setEventId("never-recorded").setRequestId("amend-unknown").build()));
    assertDenied(Status.Code.ALREADY_EXISTS, "IDEMPOTENCY_KEY_REUSED", () -> metering(gw.platform()).correctUsage(
        amend.toBuilder().setQuantity(1).build()));
    assertDenied(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", () -> metering(gw.platform()).correctUsage(
        amend.toBuilder().clearRequestId().build()));
    assertDenied(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN", () -> metering(gw.asUser(t.owner().getName()))
        .correctUsage(amend.toBuilder().setRequestId("by-owner").build()));
  }

  /** A real HTTP receiver in the JVM: records each POST, answers 500 while {@code failing} says so. */
  private static final class Receiver implements AutoCloseable {
    record Post(java.util.Map<String, String> headers, String body) {}

    final java.util.concurrent.LinkedBlockingQueue<Post> posts = new java.util.concurrent.LinkedBlockingQueue<>();
    final java.util.concurrent.atomic.AtomicInteger failing = new java.util.concurrent.atomic.AtomicInteger();
    final com.sun.net.httpserver.HttpServer server;

    Receiver() throws java.io.IOException {
      server = com.sun.net.httpserver.HttpServer.create(new java.net.InetSocketAddress("127.0.0.1", 0), 0);
      server.createContext("/hooks", exchange -> {
        String body = new String(exchange.getRequestBody().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        java.util.Map<String, String> headers = new java.util.HashMap<>();
        exchange.getRequestHeaders().forEach((k, v) -> headers.put(k.toLowerCase(java.util.Locale.ROOT), v.get(0)));
        boolean fail = failing.get() != 0;
        if (failing.get() > 0) {
          failing.decrementAndGet();
        }
        posts.add(new Post(headers, body));
        exchange.sendResponseHeaders(fail ? 500 : 204, -1);
        exchange.close();
      });
      server.start();
    }

    String url() {
      return "http://127.0.0.1:" + server.getAddress().getPort() + "/hooks";
    }

    /** The next POST whose body has {@code text}, skipping others. */
    Post next(String text) throws InterruptedException {
      long until = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (System.nanoTime() < until) {
        Post p = posts.poll(200, TimeUnit.MILLISECONDS);
        if (p != null && p.body().contains(text)) {
          return p;
        }
      }
      throw new AssertionError("no webhook with " + text);
    }

    @Override
    public void close() {
      server.stop(0);
    }
  }

  /** Whether {@code signature} (t=…,v1=…[,v1=…]) signs {@code body} with {@code secret}. */
  private static boolean signedWith(String signature, String secret, String body) {
    String[] parts = signature.split(",");
    long t = Long.parseLong(parts[0].substring(2));
    String expected = dev.tally.identity.webhooks.WebhookSender.hmac(secret, t, body);
    return java.util.Arrays.stream(parts).skip(1).anyMatch(p -> p.equals("v1=" + expected));
  }

  /**
   * Webhooks through the gateway: a team's events reach a registered endpoint signed, at least once, retried
   * after a failure; failures stay visible and replayable; a rotated secret signs alongside the new one.
   */
  @Test
  void webhooksDeliverSignedEventsRetryAndReplay() throws Exception {
    try (Receiver hook = new Receiver()) {
      OwnedTeam t = ownedTeam("hooks", 10 * DOLLAR);
      CreateWebhookEndpointRequest create = CreateWebhookEndpointRequest.newBuilder().setUrl(hook.url())
          .setTeam(t.team().getName()).addEventTypes("member_joined").addEventTypes("threshold_crossed")
          .setRequestId("hook-1").build();
      CreateWebhookEndpointResponse created = identity(gw.platform()).createWebhookEndpoint(create);
      String secret = created.getSecret();
      assertTrue(secret.startsWith("whsec_"), secret);
      assertEquals("", identity(gw.platform()).createWebhookEndpoint(create).getSecret(), "shown once");
      String endpoint = created.getEndpoint().getName();

      hook.failing.set(1); // the first attempt fails: retried
      User m = identity(gw.platform()).upsertUser(UpsertUserRequest.newBuilder().setExternalId("auth0|hook-m")
          .setEmail("hook-m@acme.test").build()).getUser();
      String invite = identity(gw.asUser(t.owner().getName())).createInvitation(CreateInvitationRequest.newBuilder()
          .setParent(t.team().getName()).setEmail("hook-m@acme.test").build()).getToken();
      identity(gw.asUser(m.getName())).acceptInvitation(AcceptInvitationRequest.newBuilder().setToken(invite).build());
      Receiver.Post failed = hook.next("\"type\":\"member_joined\"");
      Receiver.Post joined = hook.next("\"type\":\"member_joined\"");
      assertEquals(failed.headers().get("tally-event-id"), joined.headers().get("tally-event-id"), "the same event");
      assertTrue(signedWith(joined.headers().get("tally-signature"), secret, joined.body()));
      assertTrue(joined.body().contains("\"team\":\"" + t.team().getName() + "\""), joined.body());
      WebhookDelivery delivered = Await.value("delivered", Duration.ofSeconds(10), () -> identity(gw.platform())
          .listWebhookDeliveries(ListWebhookDeliveriesRequest.newBuilder().setEndpoint(endpoint).build())
          .getDeliveries(0), d -> d.getState() == WebhookDeliveryState.WEBHOOK_DELIVERY_STATE_DELIVERED);
      assertEquals(2, delivered.getAttempts());
      assertEquals(204, delivered.getLastStatus());

      // Failures are visible and replayable; a rotated secret signs alongside the new one.
      String rotated = identity(gw.platform()).rotateWebhookSecret(RotateWebhookSecretRequest.newBuilder()
          .setName(endpoint).build()).getSecret();
      hook.failing.set(-1); // fails until told otherwise
      wallet(gw.asUser(t.owner().getName())).setSpendingLimit(SetSpendingLimitRequest.newBuilder()
          .setWallet(t.team().getName()).setPeriod(Period.PERIOD_DAY).setLimitNanos(DOLLAR).build());
      record("hook-usage", t.key(), "gpu_seconds", 3_600_000, "");
      hook.next("\"type\":\"threshold_crossed\"");
      WebhookDelivery pending = Await.value("the failure shows", Duration.ofSeconds(10), () -> identity(gw.platform())
          .listWebhookDeliveries(ListWebhookDeliveriesRequest.newBuilder().setEndpoint(endpoint).build())
          .getDeliveriesList().stream().filter(d -> d.getEventType().equals("threshold_crossed")).findFirst()
          .orElse(WebhookDelivery.getDefaultInstance()), d -> d.getLastStatus() == 500);
      assertEquals(WebhookDeliveryState.WEBHOOK_DELIVERY_STATE_PENDING, pending.getState());
      assertEquals("HTTP 500", pending.getLastError());
      hook.failing.set(0);
      identity(gw.platform()).replayWebhookDelivery(ReplayWebhookDeliveryRequest.newBuilder()
          .setName(pending.getName()).build());
      Receiver.Post crossed = hook.next("\"type\":\"threshold_crossed\"");
      assertTrue(signedWith(crossed.headers().get("tally-signature"), rotated, crossed.body()), "the new secret");
      assertTrue(signedWith(crossed.headers().get("tally-signature"), secret, crossed.body()), "the old, in grace");

      assertDenied(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN", () -> identity(gw.asUser(t.owner().getName()))
          .listWebhookEndpoints(ListWebhookEndpointsRequest.getDefaultInstance()));
      assertDenied(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", () -> identity(gw.platform())
          .createWebhookEndpoint(CreateWebhookEndpointRequest.newBuilder().setUrl("http://example.com/hooks").build()));
      identity(gw.platform()).deleteWebhookEndpoint(DeleteWebhookEndpointRequest.newBuilder().setName(endpoint)
          .build());
    }
  }

  /**
   * A metered GPU session through the gateway: admitted for its minimum runway, accrued by Tally every second,
   * SessionStop when the runway projected from the balance falls under the threshold, SessionResumable after a
   * top-up, and an end that settles the last interval and gives the hold back; GetUsage counts what it cost.
   */
  @Test
  void aMeteredSessionStopsWhenItsRunwayRunsOutAndEndsExactly() throws Exception {
    OwnedTeam t = ownedTeam("gpu-session", 0);
    String secret = identity(gw.asUser(t.owner().getName())).createApiKey(CreateApiKeyRequest.newBuilder()
        .setKind(ApiKeyKind.API_KEY_KIND_TEAM).setTeam(t.team().getName()).setDisplayName("pod").build()).getSecret();
    // gpu_seconds lists $1.08 an hour (300 nanos a millisecond): 1,000,000 units a second burn $0.30 a second.
    // $2.70 is 9 seconds of it.
    long burn = 300_000_000L;
    wallet(gw.platform()).deposit(DepositRequest.newBuilder().setWallet(t.team().getName()).setAmountNanos(9 * burn)
        .setCurrencyCode("USD").setExternalReference("gpu-session-pay").build());
    var admission = AdmissionServiceGrpc.newBlockingStub(gw.channel).withCallCredentials(gw.platform())
        .withDeadlineAfter(20, TimeUnit.SECONDS);
    assertDenied(Status.Code.FAILED_PRECONDITION, "INSUFFICIENT_BALANCE", () -> admission.startSession(
        StartSessionRequest.newBuilder().setApiKeySecret(secret).setMeter("gpu_seconds").setRatePerSecond(1_000_000)
            .setMinRunwaySeconds(60).build()));
    long started = System.nanoTime();
    Session session = admission.startSession(StartSessionRequest.newBuilder().setApiKeySecret(secret)
        .setMeter("gpu_seconds").setRatePerSecond(1_000_000).setMinRunwaySeconds(3).setStopThresholdSeconds(5)
        .setRequestId("pod-1").build()).getSession();
    assertEquals("RUNNING", session.getState());
    String wallet = t.team().getWallet();
    WalletEvent stop = TopicReader.readUntil(Topics.WALLET, wallet, WalletEvent.parser(), WalletEvent::hasSessionStop)
        .getLast();
    double after = (System.nanoTime() - started) / 1e9;
    assertEquals(session.getName(), stop.getSessionStop().getSession());
    assertEquals("RUNWAY_LOW", stop.getSessionStop().getReason());
    // Fired as the projection crossed the threshold: 4 s left (a second later would say 3).
    assertTrue(stop.getSessionStop().getRunwaySeconds() < 5 && stop.getSessionStop().getRunwaySeconds() >= 3,
        stop.toString());
    // Runway starts at 8 s (9 s of money less a second not yet debited) and falls a second a second.
    assertTrue(after > 2 && after < 7, "stopped after " + after + " s; projected about 3-4 s");

    wallet(gw.platform()).deposit(DepositRequest.newBuilder().setWallet(t.team().getName())
        .setAmountNanos(5 * DOLLAR).setCurrencyCode("USD").setExternalReference("gpu-session-topup").build());
    TopicReader.readUntil(Topics.WALLET, wallet, WalletEvent.parser(), WalletEvent::hasSessionResumable);
    Session ended = admission.endSession(EndSessionRequest.newBuilder().setSession(session.getName()).build())
        .getSession();
    assertEquals("ENDED", ended.getState());
    assertTrue(ended.getAccruedQuantity() >= 3_000_000, ended.toString());
    assertEquals(ended.getAccruedQuantity() * 300, ended.getAccruedCostNanos(), "priced from the start, no drift");
    long balance = 9 * burn + 5 * DOLLAR - ended.getAccruedCostNanos();
    Wallet w = Await.value("settled", Duration.ofSeconds(30), () -> walletOf(gw.platform(), wallet),
        x -> x.getBalanceNanos() == balance);
    assertEquals(0, w.getHeldNanos());
    Await.until("GetUsage counts the session", Duration.ofSeconds(30), () -> metering(gw.platform()).getUsageSummary(
        GetUsageSummaryRequest.newBuilder().setSubject(t.team().getName()).build()).getNetSpendNanos()
        == ended.getAccruedCostNanos());
    Session listed = wallet(gw.asUser(t.owner().getName())).listSessions(ListSessionsRequest.newBuilder()
        .setWallet(t.team().getName()).build()).getSessions(0);
    assertEquals(ended.getAccruedCostNanos(), listed.getAccruedCostNanos());
    assertUnimplemented(() -> internalWallet(gw.platform()).openSession(
        OpenSessionRequest.newBuilder().setWallet(wallet).setMeter("gpu_seconds").setRatePerSecond(1)
            .setPerQuantity(1).setMinRunwaySeconds(1).build()));
  }

  /** A wallet-service restart in the middle of a session loses and doubles no second of it. */
  @Test
  void aSessionSurvivesAWalletRestartWithNothingLostOrDoubled() throws Exception {
    OwnedTeam t = ownedTeam("restart-session", 10 * DOLLAR);
    String secret = identity(gw.asUser(t.owner().getName())).createApiKey(CreateApiKeyRequest.newBuilder()
        .setKind(ApiKeyKind.API_KEY_KIND_TEAM).setTeam(t.team().getName()).setDisplayName("pod").build()).getSecret();
    var admission = AdmissionServiceGrpc.newBlockingStub(gw.channel).withCallCredentials(gw.platform());
    Session session = admission.withDeadlineAfter(20, TimeUnit.SECONDS).startSession(StartSessionRequest.newBuilder()
        .setApiKeySecret(secret).setMeter("gpu_seconds").setRatePerSecond(100_000).setMinRunwaySeconds(10)
        .setRequestId("restart-pod").build()).getSession();
    Thread.sleep(2_500);
    stack.restartWallet();
    Thread.sleep(1_500);
    Session ended = Await.value("the wallet is back", Duration.ofSeconds(30), () -> {
      try {
        return admission.withDeadlineAfter(5, TimeUnit.SECONDS).endSession(EndSessionRequest.newBuilder()
            .setSession(session.getName()).build()).getSession();
      } catch (StatusRuntimeException e) {
        return null; // UNAVAILABLE while it starts: retried, as a platform would
      }
    }, s -> s != null);
    long ranMs = Duration.between(ProtoTime.instant(ended.getStartTime()), ProtoTime.instant(ended.getEndTime()))
        .toMillis();
    assertEquals(100_000 * ranMs / 1000, ended.getAccruedQuantity(), "every millisecond it ran, once");
    assertEquals(ended.getAccruedQuantity() * 300, ended.getAccruedCostNanos());
    Await.until("debited exactly once", Duration.ofSeconds(30), () -> walletOf(gw.platform(), t.team().getWallet())
        .getBalanceNanos() == 10 * DOLLAR - ended.getAccruedCostNanos());
    Await.until("and counted once", Duration.ofSeconds(30), () -> metering(gw.platform()).getUsageSummary(
        GetUsageSummaryRequest.newBuilder().setSubject(t.team().getName()).build()).getNetSpendNanos()
        == ended.getAccruedCostNanos());
  }

  /** A file descriptor from reflection's answer, its dependencies built first. */
  private static com.google.protobuf.Descriptors.FileDescriptor build(
      java.util.Map<String, com.google.protobuf.DescriptorProtos.FileDescriptorProto> files, String name,
      java.util.Map<String, com.google.protobuf.Descriptors.FileDescriptor> built) throws Exception {
    if (built.containsKey(name)) {
      return built.get(name);
    }
    var proto = files.get(name);
    assertTrue(proto != null, "reflection did not serve " + name);
    List<com.google.protobuf.Descriptors.FileDescriptor> deps = new java.util.ArrayList<>();
    for (String dep : proto.getDependencyList()) {
      deps.add(build(files, dep, built));
    }
    var file = com.google.protobuf.Descriptors.FileDescriptor.buildFrom(proto,
        deps.toArray(new com.google.protobuf.Descriptors.FileDescriptor[0]));
    built.put(name, file);
    return file;
  }
}
