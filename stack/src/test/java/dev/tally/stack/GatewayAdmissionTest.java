package dev.tally.stack;

import static dev.tally.common.testing.GrpcAssertions.errorInfo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.common.error.Reasons;
import dev.tally.common.grpc.ProtoTime;
import dev.tally.common.testing.Await;
import dev.tally.common.testing.TestInfra;
import dev.tally.gateway.config.GatewayConfig;
import dev.tally.proto.admission.v1.*;
import dev.tally.proto.identity.v1.*;
import dev.tally.proto.wallet.v1.*;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Admission through the gateway: hard and soft mode, holds, quotas, bad input and throttling. */
class GatewayAdmissionTest {
  private static final long DOLLAR = 1_000_000_000L;
  private static TallyStack stack;
  private static GatewayClient gw;
  private static int users;

  @BeforeAll
  static void start() throws Exception {
    stack = TallyStack.start(new StackConfig(Files.createTempDirectory("tally-adm"), true, 0, 0, 0, 0, 0, -1, "", ""),
        TestInfra.newDatabase(GatewayAdmissionTest.class, "identity"), TestInfra.kafka());
    gw = new GatewayClient(stack.gatewayPort(), GatewayConfig.DEV_PLATFORM_TOKEN);
  }

  @AfterAll
  static void stop() {
    gw.close();
    stack.close();
  }

  /** A team with a member's team key and {@code dollars} on its wallet. */
  private record Team(String name, String wallet, String owner, String member, String key, String keyName) {}

  private static Team team(long nanos) {
    int n = ++users;
    var identity = IdentityServiceGrpc.newBlockingStub(gw.channel).withDeadlineAfter(20, TimeUnit.SECONDS);
    String owner = identity.withCallCredentials(gw.platform()).upsertUser(UpsertUserRequest.newBuilder()
        .setExternalId("adm-owner-" + n).setEmail("adm-owner-" + n + "@acme.test").build()).getUser().getName();
    dev.tally.proto.identity.v1.Team t = identity.withCallCredentials(gw.asUser(owner))
        .createTeam(CreateTeamRequest.newBuilder().setDisplayName("Admission " + n).build()).getTeam();
    CreateApiKeyResponse key = identity.withCallCredentials(gw.asUser(owner)).createApiKey(CreateApiKeyRequest
        .newBuilder().setKind(ApiKeyKind.API_KEY_KIND_TEAM).setTeam(t.getName()).setDisplayName("k").build());
    if (nanos > 0) {
      wallet(gw.platform()).deposit(DepositRequest.newBuilder().setWallet(t.getName()).setAmountNanos(nanos)
          .setCurrencyCode("USD").setExternalReference("adm-pay-" + n).build());
    }
    return new Team(t.getName(), t.getWallet(), owner, owner, key.getSecret(), key.getApiKey().getName());
  }

  /** A new user invited by the team's Owner with the Member role, who accepted. */
  private static User joinAsMember(Team t, String label) {
    var identity = IdentityServiceGrpc.newBlockingStub(gw.channel).withDeadlineAfter(20, TimeUnit.SECONDS);
    String id = label + "-" + (++users);
    User m = identity.withCallCredentials(gw.platform()).upsertUser(UpsertUserRequest.newBuilder()
        .setExternalId(id).setEmail(id + "@acme.test").build()).getUser();
    String token = identity.withCallCredentials(gw.asUser(t.owner())).createInvitation(CreateInvitationRequest
        .newBuilder().setParent(t.name()).setEmail(m.getEmail()).setRole("roles/member").build()).getToken();
    identity.withCallCredentials(gw.asUser(m.getName())).acceptInvitation(AcceptInvitationRequest.newBuilder()
        .setToken(token).build());
    return m;
  }

  private static WalletServiceGrpc.WalletServiceBlockingStub wallet(io.grpc.CallCredentials c) {
    return WalletServiceGrpc.newBlockingStub(gw.channel).withCallCredentials(c).withDeadlineAfter(20, TimeUnit.SECONDS);
  }

  private static AdmissionServiceGrpc.AdmissionServiceBlockingStub admission() {
    return AdmissionServiceGrpc.newBlockingStub(gw.channel).withCallCredentials(gw.platform())
        .withDeadlineAfter(20, TimeUnit.SECONDS);
  }

  private static AdmitResponse admitCost(String secret, long cost) {
    return admission().admit(AdmitRequest.newBuilder().setApiKeySecret(secret).setMeter("requests")
        .setEstimatedCostNanos(cost).build());
  }

  private static String reason(StatusRuntimeException e) {
    return Reasons.of(e, "");
  }

  @Test
  void sixtyFourConcurrentAdmitsNeverOverCommitTheBalance() throws Exception {
    Team t = team(DOLLAR);
    ExecutorService pool = Executors.newFixedThreadPool(16);
    List<Callable<Boolean>> calls = new ArrayList<>();
    for (int i = 0; i < 64; i++) {
      calls.add(() -> {
        try {
          admitCost(t.key(), DOLLAR / 32);
          return true;
        } catch (StatusRuntimeException e) {
          assertTrue(List.of("INSUFFICIENT_BALANCE", "WALLET_SUSPENDED").contains(reason(e)), reason(e));
          return false;
        }
      });
    }
    int allowed = 0;
    try {
      for (Future<Boolean> f : pool.invokeAll(calls)) {
        allowed += f.get() ? 1 : 0;
      }
    } finally {
      pool.shutdownNow();
    }
    int admitted = allowed;
    // Exact once the gateway's lease is given back (refused callers give it back; an idle one after a second).
    Wallet w = Await.value("only the holds held", Duration.ofSeconds(10), () -> wallet(gw.platform())
        .getWallet(GetWalletRequest.newBuilder().setName(t.wallet()).build()).getWallet(),
        v -> v.getHeldNanos() == admitted * (DOLLAR / 32));
    assertTrue(w.getHeldNanos() <= w.getBalanceNanos(), "held " + w.getHeldNanos());
    // 31 of 32 fit: after the 31st, $1/32 is left, at or below the $0.05 suspension threshold.
    assertEquals(31, allowed);
  }

  /**
   * Two gateways, two keys of one member, limits at every level of the chain: 64 concurrent Admits never
   * reserve more than the tightest limit that applies to each (key quota $1, member quota $1.50, wallet
   * limit $10, balance $10), and every refusal names the limit that fired.
   */
  @Test
  void concurrentAdmitsThroughTwoGatewaysNeverExceedAnyLimitInTheChain() throws Exception {
    Team t = team(10 * DOLLAR);
    var identity = IdentityServiceGrpc.newBlockingStub(gw.channel).withDeadlineAfter(20, TimeUnit.SECONDS)
        .withCallCredentials(gw.asUser(t.owner()));
    CreateApiKeyResponse second = identity.createApiKey(CreateApiKeyRequest.newBuilder()
        .setKind(ApiKeyKind.API_KEY_KIND_TEAM).setTeam(t.name()).setDisplayName("second").build());
    String member = t.name() + "/members/" + t.owner().substring("users/".length());
    var asOwner = wallet(gw.asUser(t.owner()));
    for (String keyName : List.of(t.keyName(), second.getApiKey().getName())) {
      asOwner.setQuota(SetQuotaRequest.newBuilder().setWallet(t.name()).setSubject(keyName)
          .setPeriod(Period.PERIOD_DAY).setLimitNanos(DOLLAR).build());
    }
    asOwner.setQuota(SetQuotaRequest.newBuilder().setWallet(t.name()).setSubject(member)
        .setPeriod(Period.PERIOD_DAY).setLimitNanos(DOLLAR + DOLLAR / 2).build());
    asOwner.setSpendingLimit(SetSpendingLimitRequest.newBuilder().setWallet(t.name()).setPeriod(Period.PERIOD_MONTH)
        .setLimitNanos(10 * DOLLAR).build());
    dev.tally.common.app.ServiceRunner runner = new dev.tally.common.app.ServiceRunner();
    int port = dev.tally.gateway.GatewayMain.start(GatewayConfig.fromEnv(dev.tally.common.config.Env.of(
        TallyStack.TEST_SECRETS).with(java.util.Map.of("TALLY_GRPC_PORT", "0", "TALLY_METRICS_PORT", "-1",
        "TALLY_IDENTITY_TARGET", "localhost:" + stack.identityPort(), "TALLY_WALLET_TARGET",
        "localhost:" + stack.walletPort(), "TALLY_METERING_TARGET", "localhost:" + stack.meteringPort(),
        "TALLY_KAFKA_BOOTSTRAP", TestInfra.kafka().bootstrapServers()))), runner).server().port();
    GatewayClient other = new GatewayClient(port, GatewayConfig.DEV_PLATFORM_TOKEN);
    ExecutorService pool = Executors.newFixedThreadPool(32);
    java.util.Map<String, java.util.concurrent.atomic.AtomicInteger> allowedPerKey = new java.util.concurrent.ConcurrentHashMap<>();
    java.util.Set<String> reasons = java.util.concurrent.ConcurrentHashMap.newKeySet();
    try {
      List<Callable<Void>> calls = new ArrayList<>();
      for (int i = 0; i < 64; i++) {
        GatewayClient via = i % 2 == 0 ? gw : other;
        String secret = (i / 2) % 2 == 0 ? t.key() : second.getSecret();
        calls.add(() -> {
          try {
            AdmitResponse a = AdmissionServiceGrpc.newBlockingStub(via.channel).withCallCredentials(via.platform())
                .withDeadlineAfter(20, TimeUnit.SECONDS).admit(AdmitRequest.newBuilder().setApiKeySecret(secret)
                    .setMeter("requests").setEstimatedCostNanos(DOLLAR / 10).build());
            allowedPerKey.computeIfAbsent(a.getApiKey(), k -> new java.util.concurrent.atomic.AtomicInteger())
                .incrementAndGet();
          } catch (StatusRuntimeException e) {
            reasons.add(e.getStatus().getCode() + " " + reason(e));
          }
          return null;
        });
      }
      for (Future<Void> f : pool.invokeAll(calls)) {
        f.get();
      }
    } finally {
      pool.shutdownNow();
      other.close();
      runner.closeAll();
    }
    int allowed = allowedPerKey.values().stream().mapToInt(java.util.concurrent.atomic.AtomicInteger::get).sum();
    allowedPerKey.values().forEach(n -> assertTrue(n.get() <= 10, "a key's $1 quota holds " + n.get() + " × $0.10"));
    assertTrue(allowed <= 15, "the member's $1.50 quota admits at most 15 × $0.10, whichever gateway and key: "
        + allowed);
    assertEquals(java.util.Set.of("RESOURCE_EXHAUSTED QUOTA_EXCEEDED"), reasons);
    // The second gateway gave its leases back as it stopped, this one once they idle: then only holds count.
    Await.value("the leases given back", Duration.ofSeconds(10), () -> wallet(gw.platform())
        .getWallet(GetWalletRequest.newBuilder().setName(t.wallet()).build()).getWallet().getHeldNanos(),
        held -> held == allowed * (DOLLAR / 10));

    // What a lease kept from a caller of the other gateway is not lost: a third key (without a quota of its
    // own, so that the member's fires) is admitted for the rest of the member's quota, exactly, and then
    // refused with the limit that fired, its numbers, and when waiting helps.
    String third = identity.createApiKey(CreateApiKeyRequest.newBuilder().setKind(ApiKeyKind.API_KEY_KIND_TEAM)
        .setTeam(t.name()).setDisplayName("third").build()).getSecret();
    int later = 0;
    StatusRuntimeException denied = null;
    while (denied == null && later <= 15) {
      try {
        admitCost(third, DOLLAR / 10);
        later++;
      } catch (StatusRuntimeException e) {
        denied = e;
      }
    }
    assertEquals(15, allowed + later, "concurrently " + allowed + ", then " + later);
    assertNotNull(denied);
    com.google.rpc.Status details = io.grpc.protobuf.StatusProto.fromThrowable(denied);
    com.google.rpc.ErrorInfo info = details.getDetailsList().stream().filter(d -> d.is(com.google.rpc.ErrorInfo.class))
        .findFirst().orElseThrow().unpack(com.google.rpc.ErrorInfo.class);
    assertEquals("QUOTA_EXCEEDED", info.getReason());
    assertEquals("member", info.getMetadataOrThrow("scope"));
    assertEquals(member, info.getMetadataOrThrow("subject"));
    assertEquals("day", info.getMetadataOrThrow("period"));
    assertEquals(Long.toString(DOLLAR + DOLLAR / 2), info.getMetadataOrThrow("limit_nanos"));
    assertEquals("0", info.getMetadataOrThrow("spent_nanos"));
    assertEquals(Long.toString(15 * (DOLLAR / 10)), info.getMetadataOrThrow("held_nanos"));
    assertEquals(Long.toString(DOLLAR / 10), info.getMetadataOrThrow("requested_nanos"));
    java.time.Instant reset = java.time.Instant.parse(info.getMetadataOrThrow("reset_time"));
    assertTrue(reset.isAfter(java.time.Instant.now()) && reset.isBefore(java.time.Instant.now().plus(Duration.ofDays(1))));
    assertTrue(details.getDetailsList().stream().anyMatch(d -> d.is(com.google.rpc.RetryInfo.class)),
        "waiting for the day's reset helps");
  }

  /**
   * Effective limits: every limit on a key's chain, narrowest first, with spend, holds, what remains and the
   * reset; Owners read any subject, a member only their own.
   */
  @Test
  void effectiveLimitsListTheChainAsAdmitChecksItAndMembersSeeTheirOwn() {
    Team t = team(10 * DOLLAR);
    String ownerMember = t.name() + "/members/" + t.owner().substring("users/".length());
    var asOwner = wallet(gw.asUser(t.owner()));
    asOwner.setQuota(SetQuotaRequest.newBuilder().setWallet(t.name()).setSubject(t.keyName())
        .setPeriod(Period.PERIOD_DAY).setLimitNanos(DOLLAR).build());
    asOwner.setQuota(SetQuotaRequest.newBuilder().setWallet(t.name()).setSubject(ownerMember)
        .setPeriod(Period.PERIOD_WEEK).setLimitNanos(3 * DOLLAR).build());
    asOwner.setSpendingLimit(SetSpendingLimitRequest.newBuilder().setWallet(t.name()).setPeriod(Period.PERIOD_MONTH)
        .setLimitNanos(5 * DOLLAR).build());
    admitCost(t.key(), DOLLAR / 4); // a hold of $0.25 counts against all three
    // The gateway's lease holds more until it is given back (idle for a second): then only the hold counts.
    GetEffectiveLimitsResponse r = Await.value("the lease given back", Duration.ofSeconds(10),
        () -> asOwner.getEffectiveLimits(GetEffectiveLimitsRequest.newBuilder().setWallet(t.name())
            .setSubject(t.keyName()).build()), l -> l.getLimits(0).getHeldNanos() == DOLLAR / 4);
    assertEquals(ownerMember, r.getMember(), "a team key's member is its owner");
    assertEquals(List.of(LimitScope.LIMIT_SCOPE_KEY, LimitScope.LIMIT_SCOPE_MEMBER, LimitScope.LIMIT_SCOPE_TEAM,
        LimitScope.LIMIT_SCOPE_BALANCE), r.getLimitsList().stream().map(EffectiveLimit::getScope).toList());
    EffectiveLimit key = r.getLimits(0);
    assertEquals(t.keyName(), key.getSubject());
    assertEquals(Period.PERIOD_DAY, key.getPeriod());
    assertEquals(DOLLAR / 4, key.getHeldNanos());
    assertEquals(DOLLAR - DOLLAR / 4, key.getRemainingNanos());
    assertTrue(key.hasResetTime());
    assertEquals("key", key.getSource());
    assertEquals(3 * DOLLAR - DOLLAR / 4, r.getLimits(1).getRemainingNanos());
    assertEquals(5 * DOLLAR - DOLLAR / 4, r.getLimits(2).getRemainingNanos());
    EffectiveLimit balance = r.getLimits(3);
    assertEquals(10 * DOLLAR, balance.getLimitNanos());
    assertEquals(10 * DOLLAR - DOLLAR / 4, balance.getRemainingNanos());
    // The team alone: its spending limit and the balance.
    assertEquals(2, asOwner.getEffectiveLimits(GetEffectiveLimitsRequest.newBuilder().setWallet(t.name()).build())
        .getLimitsCount());

    // A plain member reads their own limits, not the owner's.
    User m = joinAsMember(t, "eff-member");
    String self = t.name() + "/members/" + m.getName().substring("users/".length());
    var asMember = wallet(gw.asUser(m.getName()));
    assertEquals(self, asMember.getEffectiveLimits(GetEffectiveLimitsRequest.newBuilder().setWallet(t.name())
        .setSubject(self).build()).getMember());
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> asMember.getEffectiveLimits(
        GetEffectiveLimitsRequest.newBuilder().setWallet(t.name()).setSubject(t.keyName()).build()));
    assertEquals(Status.Code.PERMISSION_DENIED, e.getStatus().getCode());
    assertEquals("ROLE_FORBIDDEN", reason(e));
    StatusRuntimeException bad = assertThrows(StatusRuntimeException.class, () -> asOwner.getEffectiveLimits(
        GetEffectiveLimitsRequest.newBuilder().setWallet(t.name()).setSubject("nobody").build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, bad.getStatus().getCode());
  }

  /** Team defaults cap each member and key on its own; an override replaces the default of its period. */
  @Test
  void teamDefaultsCapEachMemberAndKeyAndOverridesReplaceThem() {
    Team t = team(10 * DOLLAR);
    String ownerMember = t.name() + "/members/" + t.owner().substring("users/".length());
    var asOwner = wallet(gw.asUser(t.owner()));
    asOwner.setQuota(SetQuotaRequest.newBuilder().setWallet(t.name()).setSubject(t.name() + "/members/*")
        .setPeriod(Period.PERIOD_MONTH).setLimitNanos(DOLLAR).build());
    asOwner.setQuota(SetQuotaRequest.newBuilder().setWallet(t.name()).setSubject("apiKeys/*")
        .setPeriod(Period.PERIOD_DAY).setLimitNanos(2 * DOLLAR).build());
    admitCost(t.key(), 3 * DOLLAR / 4);
    StatusRuntimeException member = assertThrows(StatusRuntimeException.class, () -> admitCost(t.key(), DOLLAR / 2));
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, member.getStatus().getCode());
    assertEquals("QUOTA_EXCEEDED", reason(member));
    assertEquals("member", errorInfo(member).getMetadataOrThrow("scope"));
    assertEquals(ownerMember, errorInfo(member).getMetadataOrThrow("subject"), "the member, not the default");
    assertEquals(Long.toString(DOLLAR), errorInfo(member).getMetadataOrThrow("limit_nanos"));

    GetEffectiveLimitsResponse limits = asOwner.getEffectiveLimits(GetEffectiveLimitsRequest.newBuilder()
        .setWallet(t.name()).setSubject(t.keyName()).build());
    assertEquals(List.of("team_default", "team_default", "wallet"),
        limits.getLimitsList().stream().map(EffectiveLimit::getSource).toList());
    assertEquals(List.of(t.keyName(), ownerMember, t.wallet()),
        limits.getLimitsList().stream().map(EffectiveLimit::getSubject).toList());
    assertEquals(3 * DOLLAR / 4, limits.getLimits(1).getHeldNanos());

    // The owner's own monthly quota replaces the default for them; the key default still applies.
    asOwner.setQuota(SetQuotaRequest.newBuilder().setWallet(t.name()).setSubject(ownerMember)
        .setPeriod(Period.PERIOD_MONTH).setLimitNanos(5 * DOLLAR).build());
    admitCost(t.key(), DOLLAR / 2);
    assertEquals("member", asOwner.getEffectiveLimits(GetEffectiveLimitsRequest.newBuilder().setWallet(t.name())
        .setSubject(ownerMember).build()).getLimits(0).getSource());
    // Changing the key default applies to the existing key at once.
    asOwner.setQuota(SetQuotaRequest.newBuilder().setWallet(t.name()).setSubject("apiKeys/*")
        .setPeriod(Period.PERIOD_DAY).setLimitNanos(DOLLAR).build());
    StatusRuntimeException key = assertThrows(StatusRuntimeException.class, () -> admitCost(t.key(), DOLLAR / 2));
    assertEquals("key", errorInfo(key).getMetadataOrThrow("scope"));
    assertEquals(t.keyName(), errorInfo(key).getMetadataOrThrow("subject"));
  }

  /** Soft mode reads the same defaults from the state it caches. */
  @Test
  void softModeEnforcesTeamDefaults() {
    Team t = team(10 * DOLLAR);
    wallet(gw.asUser(t.owner())).setQuota(SetQuotaRequest.newBuilder().setWallet(t.name()).setSubject("apiKeys/*")
        .setPeriod(Period.PERIOD_MONTH).setLimitNanos(DOLLAR / 100).build());
    wallet(gw.platform()).setAdmissionMode(SetAdmissionModeRequest.newBuilder().setWallet(t.name())
        .setMode(AdmissionMode.ADMISSION_MODE_SOFT).build());
    // A probe far below the default (a hard-mode attempt holds it; a thousand fit) until gateways decide.
    Await.value("soft mode reaches the gateway", Duration.ofSeconds(10), () -> admitCost(t.key(), DOLLAR / 100_000),
        r -> r.getHold().isEmpty());
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> admitCost(t.key(), DOLLAR / 10));
    assertEquals("QUOTA_EXCEEDED", reason(e));
    assertEquals(t.keyName(), errorInfo(e).getMetadataOrThrow("subject"));
  }

  /** A team's billing day and time zone anchor its windows: months from the 15th, in Berlin. */
  @Test
  void billingPeriodsAnchorTheTeamsWindows() {
    Team t = team(10 * DOLLAR);
    var asOwner = wallet(gw.asUser(t.owner()));
    asOwner.setSpendingLimit(SetSpendingLimitRequest.newBuilder().setWallet(t.name()).setPeriod(Period.PERIOD_MONTH)
        .setLimitNanos(5 * DOLLAR).build());
    Wallet w = asOwner.setBillingPeriod(SetBillingPeriodRequest.newBuilder().setWallet(t.name()).setBillingDay(15)
        .setTimeZone("Europe/Berlin").build()).getWallet();
    java.time.ZoneId berlin = java.time.ZoneId.of("Europe/Berlin");
    java.time.LocalDate today = java.time.LocalDate.now(berlin);
    java.time.LocalDate start = today.getDayOfMonth() >= 15 ? today.withDayOfMonth(15)
        : today.minusMonths(1).withDayOfMonth(15);
    assertEquals(start.atStartOfDay(berlin).toInstant(), ProtoTime.instant(w.getPeriodStartTime()));
    assertEquals(start.plusMonths(1).atStartOfDay(berlin).toInstant(), ProtoTime.instant(w.getPeriodEndTime()));
    assertEquals(15, w.getBillingDay());
    assertEquals("Europe/Berlin", w.getTimeZone());
    EffectiveLimit month = asOwner.getEffectiveLimits(GetEffectiveLimitsRequest.newBuilder().setWallet(t.name())
        .build()).getLimits(0);
    assertEquals(start.plusMonths(1).atStartOfDay(berlin).toInstant(), ProtoTime.instant(month.getResetTime()));
    StatusRuntimeException bad = assertThrows(StatusRuntimeException.class, () -> asOwner.setBillingPeriod(
        SetBillingPeriodRequest.newBuilder().setWallet(t.name()).setBillingDay(1).setTimeZone("Berlin").build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, bad.getStatus().getCode());
    StatusRuntimeException member = assertThrows(StatusRuntimeException.class, () -> wallet(gw.asUser(
        joinAsMember(t, "anchor-member").getName())).setBillingPeriod(SetBillingPeriodRequest.newBuilder()
        .setWallet(t.name()).setBillingDay(1).setTimeZone("UTC").build()));
    assertEquals(Status.Code.PERMISSION_DENIED, member.getStatus().getCode());
  }

  private static AdmitResponse admitUse(String secret, String meter, String model) {
    return admission().admit(AdmitRequest.newBuilder().setApiKeySecret(secret).setMeter(meter).setModel(model)
        .setEstimatedQuantity(1).build());
  }

  /** The reason Admit refuses {@code meter}/{@code model} with, or "" when it admits. */
  private static String refusal(String secret, String meter, String model) {
    try {
      admitUse(secret, meter, model);
      return "";
    } catch (StatusRuntimeException e) {
      return reason(e);
    }
  }

  /** Keys restricted to meters and models, by the team's default and on the key itself; both apply. */
  @Test
  void restrictedKeysAreRefusedOtherMetersAndModelsAtAdmitAndRecordUsage() {
    Team t = team(10 * DOLLAR);
    var identity = IdentityServiceGrpc.newBlockingStub(gw.channel).withDeadlineAfter(20, TimeUnit.SECONDS);
    admitUse(t.key(), "requests", ""); // cached by the gateway before anything is restricted
    identity.withCallCredentials(gw.asUser(t.owner())).setKeyRestrictions(SetKeyRestrictionsRequest.newBuilder()
        .setParent(t.name()).addAllowedMeters("output_tokens").addAllowedMeters("meters/input_tokens").build());
    Await.until("the team default reaches the gateway", Duration.ofSeconds(10),
        () -> refusal(t.key(), "requests", "").equals("METER_NOT_ALLOWED"));
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> admitUse(t.key(), "requests", ""));
    assertEquals(Status.Code.PERMISSION_DENIED, e.getStatus().getCode());
    assertEquals("input_tokens,output_tokens", errorInfo(e).getMetadataOrThrow("allowed"));
    admitUse(t.key(), "output_tokens", "any-model");

    // The key narrows further to one model; it can never widen past the team's meters.
    var key = identity.withCallCredentials(gw.asUser(t.owner())).setKeyRestrictions(SetKeyRestrictionsRequest
        .newBuilder().setParent(t.keyName()).addAllowedModels("llama-3-8b").addAllowedMeters("gpu_seconds")
        .addAllowedMeters("output_tokens").build()).getApiKey();
    assertEquals(List.of("gpu_seconds", "output_tokens"), key.getAllowedMetersList());
    Await.until("the key's own list reaches the gateway", Duration.ofSeconds(10),
        () -> refusal(t.key(), "output_tokens", "gpt-4o").equals("MODEL_NOT_ALLOWED"));
    admitUse(t.key(), "output_tokens", "llama-3-8b");
    assertEquals("METER_NOT_ALLOWED", refusal(t.key(), "gpu_seconds", "llama-3-8b"), "outside the team's default");
    assertEquals("METER_NOT_ALLOWED", refusal(t.key(), "input_tokens", "llama-3-8b"), "outside the key's own");

    // RecordUsage rejects what the key may not be used for, record by record.
    var results = dev.tally.proto.metering.v1.MeteringServiceGrpc.newBlockingStub(gw.channel)
        .withCallCredentials(gw.platform()).withDeadlineAfter(20, TimeUnit.SECONDS).recordUsage(
            dev.tally.proto.metering.v1.RecordUsageRequest.newBuilder()
                .addRecords(usage("restricted-1", t.keyName(), "output_tokens", "gpt-4o"))
                .addRecords(usage("restricted-2", t.keyName(), "requests", "llama-3-8b"))
                .addRecords(usage("restricted-3", t.keyName(), "output_tokens", "llama-3-8b")).build())
        .getResultsList();
    assertEquals(List.of("MODEL_NOT_ALLOWED", "METER_NOT_ALLOWED", ""),
        results.stream().map(dev.tally.proto.metering.v1.RecordResult::getReason).toList());

    // Only those who manage every key set the team's default.
    User m = joinAsMember(t, "restrict-member");
    StatusRuntimeException member = assertThrows(StatusRuntimeException.class, () -> identity
        .withCallCredentials(gw.asUser(m.getName())).setKeyRestrictions(SetKeyRestrictionsRequest.newBuilder()
            .setParent(t.name()).build()));
    assertEquals(Status.Code.PERMISSION_DENIED, member.getStatus().getCode());
    StatusRuntimeException bad = assertThrows(StatusRuntimeException.class, () -> identity
        .withCallCredentials(gw.asUser(t.owner())).setKeyRestrictions(SetKeyRestrictionsRequest.newBuilder()
            .setParent(t.name()).addAllowedMeters("Not A Meter").build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, bad.getStatus().getCode());
    // Lifting the default and the key's lists frees the key again.
    identity.withCallCredentials(gw.asUser(t.owner())).setKeyRestrictions(SetKeyRestrictionsRequest.newBuilder()
        .setParent(t.name()).build());
    identity.withCallCredentials(gw.asUser(t.owner())).setKeyRestrictions(SetKeyRestrictionsRequest.newBuilder()
        .setParent(t.keyName()).build());
    Await.until("unrestricted again", Duration.ofSeconds(10), () -> refusal(t.key(), "requests", "").isEmpty());
  }

  private static dev.tally.proto.metering.v1.UsageRecord usage(String id, String key, String meter, String model) {
    return dev.tally.proto.metering.v1.UsageRecord.newBuilder().setEventId(id).setApiKey(key).setMeter(meter)
        .setModel(model).setQuantity(1).setOccurredAt(ProtoTime.ts(java.time.Instant.now())).build();
  }

  /** A member asks for more; the Owner approves (the cap becomes the member's) or denies; all audited. */
  @Test
  void limitIncreaseRequestsAreAskedByMembersAndDecidedByOwners() {
    Team t = team(10 * DOLLAR);
    var identity = IdentityServiceGrpc.newBlockingStub(gw.channel).withDeadlineAfter(20, TimeUnit.SECONDS);
    User m = joinAsMember(t, "req-member");
    String self = t.name() + "/members/" + m.getName().substring("users/".length());
    var asOwner = wallet(gw.asUser(t.owner()));
    var asMember = wallet(gw.asUser(m.getName()));
    asOwner.setQuota(SetQuotaRequest.newBuilder().setWallet(t.name()).setSubject(self).setPeriod(Period.PERIOD_DAY)
        .setLimitNanos(DOLLAR).build());

    LimitRequest asked = asMember.requestLimitIncrease(RequestLimitIncreaseRequest.newBuilder().setWallet(t.name())
        .setSubject(self).setPeriod(Period.PERIOD_DAY).setLimitNanos(3 * DOLLAR).setReason("batch job tonight")
        .build()).getRequest();
    assertEquals(LimitRequestState.LIMIT_REQUEST_STATE_PENDING, asked.getState());
    assertEquals(DOLLAR, asked.getCurrentLimitNanos());
    assertEquals(m.getName(), asked.getRequestedBy());
    StatusRuntimeException notForTeam = assertThrows(StatusRuntimeException.class, () -> asMember
        .requestLimitIncrease(RequestLimitIncreaseRequest.newBuilder().setWallet(t.name())
            .setPeriod(Period.PERIOD_MONTH).setLimitNanos(DOLLAR).setReason("more").build()));
    assertEquals(Status.Code.PERMISSION_DENIED, notForTeam.getStatus().getCode());
    StatusRuntimeException memberDecides = assertThrows(StatusRuntimeException.class, () -> asMember
        .approveLimitRequest(ApproveLimitRequestRequest.newBuilder().setName(asked.getName()).build()));
    assertEquals(Status.Code.PERMISSION_DENIED, memberDecides.getStatus().getCode());
    assertEquals(1, asMember.listLimitRequests(ListLimitRequestsRequest.newBuilder().setWallet(t.name()).build())
        .getRequestsCount(), "a member sees their own");

    LimitRequest approved = asOwner.approveLimitRequest(ApproveLimitRequestRequest.newBuilder()
        .setName(asked.getName()).setNote("ok for tonight").build()).getRequest();
    assertEquals(LimitRequestState.LIMIT_REQUEST_STATE_APPROVED, approved.getState());
    assertEquals(t.owner(), approved.getDecidedBy());
    assertEquals(3 * DOLLAR, asOwner.getEffectiveLimits(GetEffectiveLimitsRequest.newBuilder().setWallet(t.name())
        .setSubject(self).build()).getLimits(0).getLimitNanos(), "the asked cap is the member's now");
    StatusRuntimeException twice = assertThrows(StatusRuntimeException.class, () -> asOwner.denyLimitRequest(
        DenyLimitRequestRequest.newBuilder().setName(asked.getName()).build()));
    assertEquals("REQUEST_NOT_PENDING", reason(twice));

    LimitRequest again = asMember.requestLimitIncrease(RequestLimitIncreaseRequest.newBuilder().setWallet(t.name())
        .setSubject(self).setPeriod(Period.PERIOD_DAY).setLimitNanos(50 * DOLLAR).setReason("more").build())
        .getRequest();
    LimitRequest denied = asOwner.denyLimitRequest(DenyLimitRequestRequest.newBuilder().setName(again.getName())
        .setNote("too much").build()).getRequest();
    assertEquals(LimitRequestState.LIMIT_REQUEST_STATE_DENIED, denied.getState());
    assertEquals("too much", denied.getDecisionNote());
    assertEquals(List.of(again.getName(), asked.getName()), asOwner.listLimitRequests(ListLimitRequestsRequest
        .newBuilder().setWallet(t.name()).build()).getRequestsList().stream().map(LimitRequest::getName).toList());
    Await.until("each step audited", Duration.ofSeconds(20), () -> {
      List<String> actions = identity.withCallCredentials(gw.asUser(t.owner())).listAuditEvents(
          ListAuditEventsRequest.newBuilder().setParent(t.name()).setPageSize(500).build()).getAuditEventsList()
          .stream().map(AuditEvent::getAction).toList();
      return actions.contains("wallet.limit_request.create") && actions.contains("wallet.limit_request.approve")
          && actions.contains("wallet.limit_request.deny");
    });
  }

  /** A team with a discount is held, limited and told its net price, in hard and in soft mode. */
  @Test
  void admitEstimatesAtTheTeamsNetPrice() {
    Team t = team(10 * DOLLAR);
    wallet(gw.platform()).setDiscount(SetDiscountRequest.newBuilder().setWallet(t.name()).setDiscountBasisPoints(2_000)
        .build());
    AdmitResponse hard = admitCost(t.key(), DOLLAR);
    assertEquals(DOLLAR * 8 / 10, hard.getEstimatedCostNanos(), "20 % off the list estimate");
    assertEquals(10 * DOLLAR - DOLLAR * 8 / 10, hard.getAvailableNanos());
    Await.value("the hold at its net price, the gateway's lease given back", Duration.ofSeconds(10),
        () -> wallet(gw.platform()).getWallet(GetWalletRequest.newBuilder().setName(t.wallet()).build()).getWallet(),
        w -> w.getHeldNanos() == DOLLAR * 8 / 10);
    wallet(gw.platform()).setAdmissionMode(SetAdmissionModeRequest.newBuilder().setWallet(t.name())
        .setMode(AdmissionMode.ADMISSION_MODE_SOFT).build());
    AdmitResponse soft = Await.value("soft mode reaches the gateway", Duration.ofSeconds(10),
        () -> admitCost(t.key(), DOLLAR), r -> r.getHold().isEmpty());
    assertEquals(DOLLAR * 8 / 10, soft.getEstimatedCostNanos());
    // A full discount holds nothing and still admits.
    wallet(gw.platform()).setAdmissionMode(SetAdmissionModeRequest.newBuilder().setWallet(t.name())
        .setMode(AdmissionMode.ADMISSION_MODE_HARD).build());
    wallet(gw.platform()).setDiscount(SetDiscountRequest.newBuilder().setWallet(t.name())
        .setDiscountBasisPoints(10_000).build());
    AdmitResponse free = Await.value("hard mode again", Duration.ofSeconds(10), () -> admitCost(t.key(), DOLLAR),
        r -> !r.getHold().isEmpty());
    assertEquals(0, free.getEstimatedCostNanos());
  }

  /** A long stream asks for more on its hold: granted under the chain's limits, refused without change. */
  @Test
  void extendHoldAddsToTheEstimateUnderTheSameChecks() {
    Team t = team(10 * DOLLAR);
    wallet(gw.asUser(t.owner())).setQuota(SetQuotaRequest.newBuilder().setWallet(t.name()).setSubject(t.keyName())
        .setPeriod(Period.PERIOD_DAY).setLimitNanos(2 * DOLLAR).build());
    AdmitResponse a = admitCost(t.key(), DOLLAR);
    ExtendHoldResponse more = admission().extendHold(ExtendHoldRequest.newBuilder().setHold(a.getHold())
        .setAdditionalCostNanos(DOLLAR / 2).setRequestId("stream-1-more").build());
    assertEquals(DOLLAR + DOLLAR / 2, more.getHeldNanos());
    assertEquals(10 * DOLLAR - DOLLAR - DOLLAR / 2, more.getAvailableNanos());
    assertTrue(!ProtoTime.instant(more.getHoldExpireTime()).isBefore(ProtoTime.instant(a.getHoldExpireTime())),
        "the hold lives on");
    // A retry of the same extension counts once.
    assertEquals(DOLLAR + DOLLAR / 2, admission().extendHold(ExtendHoldRequest.newBuilder().setHold(a.getHold())
        .setAdditionalCostNanos(DOLLAR / 2).setRequestId("stream-1-more").build()).getHeldNanos());
    // Beyond the key's $2 quota (the hold's own $1.50 counts): refused, and the hold stays as it was.
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> admission().extendHold(
        ExtendHoldRequest.newBuilder().setHold(a.getHold()).setAdditionalCostNanos(DOLLAR).build()));
    assertEquals("QUOTA_EXCEEDED", reason(e));
    Wallet w = wallet(gw.platform()).getWallet(GetWalletRequest.newBuilder().setName(t.wallet()).build()).getWallet();
    assertEquals(DOLLAR + DOLLAR / 2, w.getHeldNanos());
    admission().releaseHold(ReleaseHoldRequest.newBuilder().setHold(a.getHold()).build());
    StatusRuntimeException closed = assertThrows(StatusRuntimeException.class, () -> admission().extendHold(
        ExtendHoldRequest.newBuilder().setHold(a.getHold()).setAdditionalCostNanos(1).build()));
    assertEquals("HOLD_NOT_PENDING", reason(closed));
    assertEquals(0, wallet(gw.platform()).getWallet(GetWalletRequest.newBuilder().setName(t.wallet()).build())
        .getWallet().getHeldNanos());
  }

  /**
   * Admit is idempotent on its request id: a retry gets the hold the first call got (answered from the
   * gateway's memory, on the transport thread once the key is known), another id a hold of its own.
   */
  @Test
  void aRetriedAdmitGetsTheHoldOfItsFirstCall() {
    Team t = team(DOLLAR);
    admitCost(t.key(), 1_000); // the key is known and leased from: what follows needs no waiting
    AdmitRequest ask = AdmitRequest.newBuilder().setApiKeySecret(t.key()).setMeter("requests")
        .setEstimatedCostNanos(DOLLAR / 4).setRequestId("call-7").build();
    AdmitResponse first = admission().admit(ask);
    for (int i = 0; i < 3; i++) {
      AdmitResponse again = admission().admit(ask);
      assertEquals(first.getHold(), again.getHold());
      assertEquals(first.getEstimatedCostNanos(), again.getEstimatedCostNanos());
    }
    AdmitResponse other = admission().admit(ask.toBuilder().setRequestId("call-8").build());
    assertTrue(!other.getHold().equals(first.getHold()), "another request id, another hold");
  }

  @Test
  void releaseHoldGivesTheEstimateBack() {
    Team t = team(DOLLAR);
    AdmitResponse a = admitCost(t.key(), DOLLAR / 2);
    assertEquals(DOLLAR / 2, a.getAvailableNanos());
    admission().releaseHold(ReleaseHoldRequest.newBuilder().setHold(a.getHold()).build());
    assertEquals(0, wallet(gw.platform()).getWallet(GetWalletRequest.newBuilder().setName(t.wallet()).build())
        .getWallet().getHeldNanos());
  }

  /**
   * A subject calling steadily keeps one lease: at its renewal point, with money left, the gateway has the
   * wallet extend it in place instead of granting a new one and closing the old (each a wallet transaction).
   * Every admission's hold is named under its lease, so the leases used are seen in the answers.
   */
  @Test
  void aLeaseInSteadyUseIsExtendedInPlaceNotReplaced() throws Exception {
    Team t = team(100 * DOLLAR);
    long until = System.nanoTime() + Duration.ofSeconds(2).toNanos();
    while (System.nanoTime() < until) { // the first leases, sized up to the subject's rate
      admitCost(t.key(), 1_000);
      Thread.sleep(20);
    }
    java.util.Set<String> leases = new java.util.TreeSet<>();
    // Longer than any lease is used before its renewal point (4/5 of 7 s of a 10 s lease), shorter than the
    // time its money lasts at this rate (3/4 of what 14 s of the rate takes).
    until = System.nanoTime() + Duration.ofSeconds(7).toNanos();
    int admitted = 0;
    while (System.nanoTime() < until) {
      String hold = admitCost(t.key(), 1_000).getHold();
      leases.add(dev.tally.common.admission.SubHoldIds.leaseOf(hold.substring(hold.lastIndexOf('/') + 1)));
      admitted++;
      Thread.sleep(20);
    }
    assertTrue(admitted > 50, admitted + " admitted");
    assertEquals(1, leases.size(), "one lease, extended in place: " + leases);
  }

  @Test
  void softModeDecidesOnCachedStateWithoutHolds() throws Exception {
    Team t = team(DOLLAR);
    wallet(gw.platform()).setAdmissionMode(SetAdmissionModeRequest.newBuilder().setWallet(t.name())
        .setMode(AdmissionMode.ADMISSION_MODE_SOFT).build());
    AdmitResponse a = Await.value("soft mode reaches the gateway", Duration.ofSeconds(10),
        () -> admitCost(t.key(), DOLLAR / 10), r -> r.getHold().isEmpty());
    assertEquals(t.wallet(), a.getBillingAccount());
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> admitCost(t.key(), 2 * DOLLAR));
    assertEquals("INSUFFICIENT_BALANCE", reason(e));
    com.google.rpc.ErrorInfo soft = errorInfo(e);
    assertEquals("balance", soft.getMetadataOrThrow("scope"), "soft mode decides by the same rules");
    assertEquals(Long.toString(2 * DOLLAR), soft.getMetadataOrThrow("requested_nanos"));
    wallet(gw.asUser(t.owner())).setQuota(SetQuotaRequest.newBuilder().setWallet(t.name()).setSubject(t.keyName())
        .setPeriod(Period.PERIOD_MONTH).setLimitNanos(DOLLAR / 100).build());
    Await.until("quota reaches the gateway", Duration.ofSeconds(10), () -> {
      try {
        admitCost(t.key(), DOLLAR / 10);
        return false;
      } catch (StatusRuntimeException x) {
        return "QUOTA_EXCEEDED".equals(reason(x)) && x.getStatus().getCode() == Status.Code.RESOURCE_EXHAUSTED;
      }
    });
  }

  @Test
  void badAdmissionsAreClearlyRefused() {
    Team t = team(DOLLAR);
    StatusRuntimeException meter = assertThrows(StatusRuntimeException.class, () -> admission().admit(AdmitRequest
        .newBuilder().setApiKeySecret(t.key()).setMeter("warp_drive").setEstimatedQuantity(1).build()));
    assertEquals(Status.Code.NOT_FOUND, meter.getStatus().getCode(), "as SetPrice answers an unknown meter");
    assertEquals("UNKNOWN_METER", reason(meter));
    assertEquals("meter", errorInfo(meter).getMetadataOrThrow("field"));
    StatusRuntimeException noEstimate = assertThrows(StatusRuntimeException.class, () -> admission().admit(
        AdmitRequest.newBuilder().setApiKeySecret(t.key()).setMeter("requests").build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, noEstimate.getStatus().getCode());
    StatusRuntimeException unknown = assertThrows(StatusRuntimeException.class,
        () -> admitCost("tly_" + "q".repeat(43), 1));
    assertEquals(Status.Code.UNAUTHENTICATED, unknown.getStatus().getCode());
    assertEquals("KEY_INVALID", reason(unknown));
    StatusRuntimeException notPlatform = assertThrows(StatusRuntimeException.class, () -> AdmissionServiceGrpc
        .newBlockingStub(gw.channel).withCallCredentials(gw.apiKey(t.key())).admit(AdmitRequest.newBuilder()
            .setApiKeySecret(t.key()).setMeter("requests").setEstimatedCostNanos(1).build()));
    assertEquals(Status.Code.PERMISSION_DENIED, notPlatform.getStatus().getCode());
    Team broke = team(0);
    StatusRuntimeException poor = assertThrows(StatusRuntimeException.class, () -> admitCost(broke.key(), 1));
    assertEquals("INSUFFICIENT_BALANCE", reason(poor));
  }

  @Test
  void repeatedBadCredentialsFromOneAddressAreThrottled() {
    var stub = IdentityServiceGrpc.newBlockingStub(gw.channel).withCallCredentials(GatewayClient.bearer("nope-nope", null))
        .withDeadlineAfter(10, TimeUnit.SECONDS);
    String last = "";
    for (int i = 0; i < 40 && !last.equals("AUTH_THROTTLED"); i++) {
      last = reason(assertThrows(StatusRuntimeException.class,
          () -> stub.getUser(GetUserRequest.newBuilder().setName("users/me").build())));
    }
    assertEquals("AUTH_THROTTLED", last);
  }
}
