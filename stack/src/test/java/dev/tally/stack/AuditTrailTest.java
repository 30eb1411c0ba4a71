package dev.tally.stack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.common.testing.Await;
import dev.tally.proto.identity.v1.*;
import dev.tally.proto.metering.v1.MeteringServiceGrpc;
import dev.tally.proto.metering.v1.SetPriceRequest;
import dev.tally.proto.wallet.v1.*;
import io.grpc.CallCredentials;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * One ListAuditEvents for every administrative action of the suite: each wallet and metering change appears
 * exactly once (also when the call is replayed), with actor, target and before/after; a deleted team's log
 * stays readable by the platform and the former Owner, the deletion included.
 */
class AuditTrailTest {
  private static final long DOLLAR = 1_000_000_000L;
  private static TallyStack stack;
  private static GatewayClient gw;

  @BeforeAll
  static void start() throws Exception {
    gw = GatewayClient.startStack(AuditTrailTest.class, s -> stack = s);
  }

  @AfterAll
  static void stop() {
    gw.close();
    stack.close();
  }

  private static IdentityServiceGrpc.IdentityServiceBlockingStub identity(CallCredentials c) {
    return gw.identity(c);
  }

  private static WalletServiceGrpc.WalletServiceBlockingStub wallet(CallCredentials c) {
    return gw.wallet(c);
  }

  private static List<AuditEvent> log(CallCredentials who, String parent) {
    return identity(who).listAuditEvents(ListAuditEventsRequest.newBuilder().setParent(parent).setPageSize(500)
        .build()).getAuditEventsList();
  }

  private static Map<String, Long> counts(List<AuditEvent> events) {
    return events.stream().collect(Collectors.groupingBy(AuditEvent::getAction, Collectors.counting()));
  }

  @Test
  void everyAdministrativeActionIsInTheOneLogExactlyOnceAndOutlivesTheTeam() {
    User owner = identity(gw.platform()).upsertUser(UpsertUserRequest.newBuilder().setExternalId("audit|owner")
        .setEmail("owner@audit.test").build()).getUser();
    CallCredentials asOwner = gw.asUser(owner.getName());
    Team team = identity(asOwner).createTeam(CreateTeamRequest.newBuilder().setDisplayName("Audited").build())
        .getTeam();
    String w = team.getWallet();
    var platform = wallet(gw.platform());
    DepositRequest deposit = DepositRequest.newBuilder().setWallet(w).setAmountNanos(5 * DOLLAR)
        .setCurrencyCode("USD").setExternalReference("audit-pay").setRequestId("audit-dep").build();
    platform.deposit(deposit);
    platform.deposit(deposit); // a replay changes nothing and is not audited again
    platform.grantCredits(GrantCreditsRequest.newBuilder().setWallet(w).setAmountNanos(DOLLAR).setRequestId("g1")
        .build());
    platform.setDiscount(SetDiscountRequest.newBuilder().setWallet(w).setDiscountBasisPoints(1_000).build());
    platform.setPlan(SetPlanRequest.newBuilder().setWallet(w).setPlan("plans/starter").setSeats(2).build());
    platform.setAdmissionMode(SetAdmissionModeRequest.newBuilder().setWallet(w)
        .setMode(AdmissionMode.ADMISSION_MODE_SOFT).build());
    wallet(asOwner).setSpendingLimit(SetSpendingLimitRequest.newBuilder().setWallet(w).setPeriod(Period.PERIOD_MONTH)
        .setLimitNanos(3 * DOLLAR).build());
    wallet(asOwner).setQuota(SetQuotaRequest.newBuilder().setWallet(w)
        .setSubject(team.getName() + "/members/" + owner.getName().substring("users/".length()))
        .setPeriod(Period.PERIOD_DAY).setLimitNanos(DOLLAR).build());
    wallet(asOwner).setAutoRefill(SetAutoRefillRequest.newBuilder().setWallet(w).setEnabled(true)
        .setThresholdNanos(DOLLAR).setAmountNanos(10 * DOLLAR).build());
    MeteringServiceGrpc.newBlockingStub(gw.channel).withCallCredentials(gw.platform())
        .withDeadlineAfter(20, TimeUnit.SECONDS).setPrice(SetPriceRequest.newBuilder().setMeter("requests")
            .setPriceNanos(2_000).setPerQuantity(1).build());

    List<String> walletActions = List.of("wallet.deposit", "wallet.grant_credits", "wallet.set_discount",
        "wallet.set_plan", "wallet.set_admission_mode", "wallet.set_spending_limit", "wallet.set_quota",
        "wallet.set_auto_refill");
    Map<String, Long> seen = Await.value("the wallet's actions in the team's log", Duration.ofSeconds(30),
        () -> counts(log(asOwner, team.getName())), c -> c.keySet().containsAll(walletActions));
    for (String action : walletActions) {
      assertEquals(1L, seen.get(action), action + " exactly once: " + seen);
    }
    AuditEvent limit = log(asOwner, team.getName()).stream()
        .filter(e -> e.getAction().equals("wallet.set_spending_limit")).findFirst().orElseThrow();
    assertEquals(owner.getName(), limit.getActor().getUser());
    assertEquals(w, limit.getTarget());
    assertEquals("none", limit.getDetailsMap().get("before.limit_nanos"));
    assertEquals(Long.toString(3 * DOLLAR), limit.getDetailsMap().get("after.limit_nanos"));
    Map<String, Long> platformLog = Await.value("the price change in the platform's log", Duration.ofSeconds(30),
        () -> counts(log(gw.platform(), "platform")), c -> c.containsKey("price.set"));
    assertEquals(1L, platformLog.get("price.set"));
    assertTrue(log(gw.platform(), "platform").stream().noneMatch(e -> e.getDetailsMap().values().stream()
        .anyMatch(v -> v.startsWith("tly_"))), "no secret in the log");

    // The team goes; its log stays, for the platform and for the former Owner, with the deletion in it.
    identity(asOwner).deleteTeam(DeleteTeamRequest.newBuilder().setName(team.getName()).build());
    Map<String, Long> afterForPlatform = counts(log(gw.platform(), team.getName()));
    Map<String, Long> afterForOwner = counts(log(asOwner, team.getName()));
    assertEquals(1L, afterForPlatform.get("team.delete"));
    assertEquals(afterForPlatform, afterForOwner);
    assertTrue(afterForOwner.keySet().containsAll(walletActions));
    walletActions.forEach(a -> assertEquals(1L, afterForOwner.get(a), a));
    assertTrue(afterForOwner.values().stream().allMatch(v -> v == 1L), "every action once: " + afterForOwner);
  }
}
