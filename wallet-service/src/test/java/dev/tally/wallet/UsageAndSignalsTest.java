package dev.tally.wallet;

import static dev.tally.wallet.WalletFixture.DOLLAR;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tally.common.kafka.Topics;
import dev.tally.identity.config.IdentityPolicy;
import dev.tally.proto.events.v1.RefillRequested;
import dev.tally.proto.events.v1.WalletEvent;
import dev.tally.proto.identity.v1.Team;
import dev.tally.proto.wallet.v1.*;
import dev.tally.wallet.WalletFixture.TestUser;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class UsageAndSignalsTest {
  private static WalletFixture f;

  @BeforeAll
  static void start() throws Exception {
    f = new WalletFixture(UsageAndSignalsTest.class, IdentityPolicy.defaults(), Instant.parse("2026-11-10T12:00:00Z"));
  }

  @AfterEach
  void reconciled() {
    f.assertReconciled();
  }

  @AfterAll
  static void stop() {
    f.close();
  }

  @Test
  void theSameEventThreeTimesIsChargedOnceAndAConflictingReplayNever() {
    TestUser owner = f.newUser("once-owner");
    Team team = f.newTeam(owner, "Once");
    f.deposit(team.getWallet(), 10 * DOLLAR, "pay_once");
    for (int i = 0; i < 3; i++) {
      f.usage("once-1", team.getWallet(), owner.name(), "apiKeys/k", DOLLAR, f.clock.instant(), "");
    }
    f.usage("once-1", team.getWallet(), owner.name(), "apiKeys/k", 7 * DOLLAR, f.clock.instant(), "");
    f.usage("once-2", team.getWallet(), owner.name(), "apiKeys/k", DOLLAR / 4, f.clock.instant(), "");
    f.awaitBalance(team.getWallet(), 10 * DOLLAR - DOLLAR - DOLLAR / 4);
    List<Transfer> usage = f.platform().listTransfers(ListTransfersRequest.newBuilder().setWallet(team.getWallet())
        .addCodes(TransferCode.TRANSFER_CODE_USAGE).build()).getTransfersList();
    assertEquals(2, usage.size());
    assertEquals(2, usage.stream().map(Transfer::getUsageEventId).distinct().count());
    assertEquals(1, f.platform().listTransfers(ListTransfersRequest.newBuilder().setWallet(team.getWallet())
        .setApiKey("apiKeys/k").addCodes(TransferCode.TRANSFER_CODE_USAGE).setPageSize(1).build())
        .getTransfersCount());
  }

  @Test
  void usageSettlesItsHold() {
    TestUser owner = f.newUser("hold-owner");
    Team team = f.newTeam(owner, "Holding");
    f.deposit(team.getWallet(), 10 * DOLLAR, "pay_hold");
    Hold hold = f.internal().reserve(ReserveRequest.newBuilder().setWallet(team.getWallet())
        .setAmountNanos(3 * DOLLAR).build()).getHold();
    f.usage("hold-use", team.getWallet(), owner.name(), "", 2 * DOLLAR, f.clock.instant(), hold.getName());
    Wallet w = f.awaitBalance(team.getWallet(), 8 * DOLLAR);
    assertEquals(0, w.getHeldNanos());
    assertEquals(8 * DOLLAR, w.getAvailableNanos());
  }

  @Test
  void thresholdsLowBalanceAndRefillAreSignalledOncePerCrossing() throws Exception {
    TestUser owner = f.newUser("sig-owner");
    Team team = f.newTeam(owner, "Signals");
    f.deposit(team.getWallet(), 10 * DOLLAR, "pay_sig");
    f.as(owner).setSpendingLimit(SetSpendingLimitRequest.newBuilder().setWallet(team.getName())
        .setPeriod(Period.PERIOD_MONTH).setLimitNanos(8 * DOLLAR).build());
    f.as(owner).setAutoRefill(SetAutoRefillRequest.newBuilder().setWallet(team.getName()).setEnabled(true)
        .setThresholdNanos(5 * DOLLAR).setAmountNanos(20 * DOLLAR).build());
    // Spend $9 of $10 in steps: 50, 80 and 100 % of the $8 limit, the $5 refill threshold and the $1 low balance.
    long[] spends = {3 * DOLLAR, DOLLAR / 2, DOLLAR, DOLLAR, DOLLAR / 2, DOLLAR, DOLLAR, DOLLAR / 2, DOLLAR / 2};
    long balance = 10 * DOLLAR;
    for (int i = 0; i < spends.length; i++) {
      f.usage("sig-" + i, team.getWallet(), owner.name(), "", spends[i], f.clock.instant(), "");
      balance -= spends[i];
      f.awaitBalance(team.getWallet(), balance); // one at a time: each crossing is its own step
    }
    List<WalletEvent> events = walletEvents(team.getWallet(), e -> e.hasLowBalance());
    List<Integer> crossed = events.stream().filter(WalletEvent::hasThresholdCrossed)
        .map(e -> e.getThresholdCrossed().getPercent()).toList();
    assertEquals(List.of(50, 80, 100), crossed);
    assertEquals(1, events.stream().filter(WalletEvent::hasRefillRequested).count());
    assertEquals(20 * DOLLAR, events.stream().filter(WalletEvent::hasRefillRequested).findFirst().orElseThrow()
        .getRefillRequested().getAmountNanos());
    assertEquals(1, events.stream().filter(WalletEvent::hasLowBalance).count());
    assertEquals(0, events.stream().filter(WalletEvent::hasLowBalanceResolved).count());

    // A deposit lifts the balance back above the $1 low-balance threshold: resolved, once.
    f.deposit(team.getWallet(), 5 * DOLLAR, "pay_sig_2");
    balance += 5 * DOLLAR;
    f.deposit(team.getWallet(), DOLLAR, "pay_sig_3");
    balance += DOLLAR;
    List<WalletEvent> recovered = walletEvents(team.getWallet(), WalletEvent::hasLowBalanceResolved).stream()
        .filter(WalletEvent::hasLowBalanceResolved).toList();
    assertEquals(1, recovered.size());
    assertEquals(6 * DOLLAR, recovered.getFirst().getLowBalanceResolved().getBalanceNanos());

    // Raising the limit to $20 puts the $9 spent at 45 %: the alert that fired (100 %) is resolved, once.
    f.as(owner).setSpendingLimit(SetSpendingLimitRequest.newBuilder().setWallet(team.getName())
        .setPeriod(Period.PERIOD_MONTH).setLimitNanos(20 * DOLLAR).build());
    f.as(owner).setSpendingLimit(SetSpendingLimitRequest.newBuilder().setWallet(team.getName())
        .setPeriod(Period.PERIOD_MONTH).setLimitNanos(21 * DOLLAR).build()); // nothing more to resolve
    List<WalletEvent> resolved = walletEvents(team.getWallet(), WalletEvent::hasThresholdResolved).stream()
        .filter(WalletEvent::hasThresholdResolved).toList();
    assertEquals(1, resolved.size());
    assertEquals(100, resolved.getFirst().getThresholdResolved().getPercent());
    assertEquals(20 * DOLLAR, resolved.getFirst().getThresholdResolved().getLimitNanos());
    assertEquals(9 * DOLLAR, resolved.getFirst().getThresholdResolved().getSpentNanos());
    assertEquals("LIMIT_RAISED", resolved.getFirst().getThresholdResolved().getReason());
    // Spending past 50 % of the new limit alerts again, from where it stands now.
    f.usage("sig-again", team.getWallet(), owner.name(), "", 2 * DOLLAR, f.clock.instant(), "");
    f.awaitBalance(team.getWallet(), balance - 2 * DOLLAR);
    assertEquals(List.of(50, 80, 100, 50), walletEvents(team.getWallet(), e -> e.hasThresholdCrossed()
        && e.getThresholdCrossed().getLimitNanos() == 21 * DOLLAR).stream().filter(WalletEvent::hasThresholdCrossed)
        .map(e -> e.getThresholdCrossed().getPercent()).toList());
  }

  @Test
  void alertsFireAtTheLimitsOwnPercentages() throws Exception {
    TestUser owner = f.newUser("alerts-owner");
    Team team = f.newTeam(owner, "Alerts");
    f.deposit(team.getWallet(), 10 * DOLLAR, "pay_alerts");
    Wallet w = f.as(owner).setSpendingLimit(SetSpendingLimitRequest.newBuilder().setWallet(team.getName())
        .setPeriod(Period.PERIOD_MONTH).setLimitNanos(4 * DOLLAR).addAlertPercents(90).addAlertPercents(25).build())
        .getWallet();
    assertEquals(List.of(25, 90), w.getSpendingLimits(0).getAlertPercentsList());
    f.usage("alert-1", team.getWallet(), owner.name(), "", DOLLAR + DOLLAR / 5, f.clock.instant(), ""); // 30 %
    f.awaitBalance(team.getWallet(), 10 * DOLLAR - DOLLAR - DOLLAR / 5);
    f.usage("alert-2", team.getWallet(), owner.name(), "", 2 * DOLLAR + DOLLAR / 2, f.clock.instant(), ""); // 92.5 %
    f.awaitBalance(team.getWallet(), 10 * DOLLAR - 3 * DOLLAR - DOLLAR * 7 / 10);
    assertEquals(List.of(25, 90), walletEvents(team.getWallet(), e -> e.hasThresholdCrossed()
        && e.getThresholdCrossed().getPercent() == 90).stream().filter(WalletEvent::hasThresholdCrossed)
        .map(e -> e.getThresholdCrossed().getPercent()).toList());
  }

  @Test
  void anAlertEndsWithItsWindow() throws Exception {
    TestUser owner = f.newUser("reset-owner");
    Team team = f.newTeam(owner, "Reset alerts");
    f.deposit(team.getWallet(), 10 * DOLLAR, "pay_reset");
    f.as(owner).setSpendingLimit(SetSpendingLimitRequest.newBuilder().setWallet(team.getName())
        .setPeriod(Period.PERIOD_DAY).setLimitNanos(DOLLAR).addAlertPercents(50).build());
    f.usage("reset-1", team.getWallet(), owner.name(), "", DOLLAR * 6 / 10, f.clock.instant(), "");
    f.awaitBalance(team.getWallet(), 10 * DOLLAR - DOLLAR * 6 / 10);
    f.wallet.housekeeper().runOnce(); // the day is not over: nothing to resolve
    f.clock.advance(Duration.ofDays(1));
    try {
      f.wallet.housekeeper().runOnce();
      f.wallet.housekeeper().runOnce(); // once only
    } finally {
      f.clock.advance(Duration.ofDays(-1));
    }
    List<WalletEvent> resolved = walletEvents(team.getWallet(), WalletEvent::hasThresholdResolved).stream()
        .filter(WalletEvent::hasThresholdResolved).toList();
    assertEquals(1, resolved.size());
    assertEquals("PERIOD_RESET", resolved.getFirst().getThresholdResolved().getReason());
    assertEquals(50, resolved.getFirst().getThresholdResolved().getPercent());
    assertEquals(DOLLAR * 6 / 10, resolved.getFirst().getThresholdResolved().getSpentNanos());
  }

  @Test
  void autoRefillTopsUpToATargetWithinAMonthlyCapAndSwitchesOffAfterFailedPayments() throws Exception {
    TestUser owner = f.newUser("refill-owner");
    Team team = f.newTeam(owner, "Refill rules");
    f.deposit(team.getWallet(), 10 * DOLLAR, "pay_refill_rules");
    f.as(owner).setAutoRefill(SetAutoRefillRequest.newBuilder().setWallet(team.getName()).setEnabled(true)
        .setThresholdNanos(5 * DOLLAR).setTargetBalanceNanos(20 * DOLLAR).setMonthlyCapNanos(25 * DOLLAR)
        .setMaxFailedAttempts(2).build());
    f.usage("refill-1", team.getWallet(), owner.name(), "", 6 * DOLLAR, f.clock.instant(), "");
    f.awaitBalance(team.getWallet(), 4 * DOLLAR);
    List<RefillRequested> asked = refills(team.getWallet(), 1);
    assertEquals(16 * DOLLAR, asked.getFirst().getAmountNanos(), "up to the $20 target");
    // The card is declined twice: asked again after the first, switched off after the second.
    f.platform().reportRefillFailed(ReportRefillFailedRequest.newBuilder().setWallet(team.getWallet())
        .setRefillId(asked.getFirst().getRefillId()).build());
    asked = refills(team.getWallet(), 2);
    Wallet off = f.platform().reportRefillFailed(ReportRefillFailedRequest.newBuilder().setWallet(team.getWallet())
        .setRefillId(asked.get(1).getRefillId()).build()).getWallet();
    assertEquals(false, off.getAutoRefill().getEnabled());
    assertEquals(2, off.getAutoRefill().getFailedAttempts());
    assertEquals(1, walletEvents(team.getWallet(), WalletEvent::hasAutoRefillDisabled).stream()
        .filter(WalletEvent::hasAutoRefillDisabled).count());
    // Back on with a $10 monthly cap: $10 asked (not $16); once paid, nothing more this month.
    f.as(owner).setAutoRefill(SetAutoRefillRequest.newBuilder().setWallet(team.getName()).setEnabled(true)
        .setThresholdNanos(5 * DOLLAR).setTargetBalanceNanos(20 * DOLLAR).setMonthlyCapNanos(10 * DOLLAR).build());
    asked = refills(team.getWallet(), 3);
    assertEquals(10 * DOLLAR, asked.get(2).getAmountNanos(), "within the monthly cap");
    f.deposit(team.getWallet(), 10 * DOLLAR, asked.get(2).getRefillId());
    f.usage("refill-2", team.getWallet(), owner.name(), "", 10 * DOLLAR, f.clock.instant(), "");
    Wallet capped = f.awaitBalance(team.getWallet(), 4 * DOLLAR);
    // Below the threshold again, but the month's cap is used up: nothing more is asked (a request would count).
    assertEquals(10 * DOLLAR, capped.getAutoRefill().getRequestedThisMonthNanos());
  }

  /** The wallet's RefillRequested events once at least {@code atLeast} arrived. */
  private static List<RefillRequested> refills(String wallet, int atLeast) throws Exception {
    int[] seen = {0};
    return walletEvents(wallet, e -> e.hasRefillRequested() && ++seen[0] >= atLeast).stream()
        .filter(WalletEvent::hasRefillRequested).map(WalletEvent::getRefillRequested).toList();
  }

  private static void publish(dev.tally.proto.events.v1.UsageEvent e) throws Exception {
    f.producer.send(new org.apache.kafka.clients.producer.ProducerRecord<>(Topics.USAGE, e.getBillingAccount(),
        e.toByteArray())).get(30, java.util.concurrent.TimeUnit.SECONDS);
  }

  /**
   * A correction reverses what its event costs now (its earlier corrections included) and charges the new cost
   * in its place, also when it arrives in the same batch as the event; a correction of an event the wallet
   * never charged is parked, not applied.
   */
  @Test
  void correctionsReverseAndReplaceAndOneOfNothingIsParked() throws Exception {
    TestUser owner = f.newUser("corr-owner");
    Team team = f.newTeam(owner, "Corrections");
    f.deposit(team.getWallet(), 10 * DOLLAR, "pay_corr");
    var original = dev.tally.proto.events.v1.UsageEvent.newBuilder().setEventId("corr-1")
        .setBillingAccount(team.getWallet()).setUser(owner.name()).setMeter("output_tokens").setQuantity(1)
        .setCostNanos(2 * DOLLAR).setCurrencyCode("USD").setOccurredAt(dev.tally.common.grpc.ProtoTime.ts(
            f.clock.instant())).build();
    var amend = original.toBuilder().setEventId("corr-1~a").setCorrects("corr-1").setCostNanos(DOLLAR / 2)
        .setReversedCostNanos(2 * DOLLAR).setCorrectionReason("measured again").build();
    var amendAgain = original.toBuilder().setEventId("corr-1~b").setCorrects("corr-1").setCostNanos(DOLLAR)
        .setReversedCostNanos(DOLLAR / 2).setCorrectionReason("and again").build();
    publish(original);
    publish(amend);
    publish(amendAgain);
    publish(amend); // delivered twice: claimed once
    f.awaitBalance(team.getWallet(), 9 * DOLLAR);
    publish(original.toBuilder().setEventId("corr-void").setCorrects("corr-1").setCostNanos(0)
        .setCorrectionReason("not ours").build());
    f.awaitBalance(team.getWallet(), 10 * DOLLAR);
    publish(original.toBuilder().setEventId("corr-orphan").setCorrects("never-charged").setCostNanos(DOLLAR)
        .setCorrectionReason("?").build());
    dev.tally.common.testing.Await.until("the orphan correction is parked", Duration.ofSeconds(30),
        () -> f.get(team.getWallet()).getParkedUsageEvents() == 1);
    assertEquals(10 * DOLLAR, f.get(team.getWallet()).getBalanceNanos());
  }

  /**
   * A metered session accrues every second it runs exactly once, across a restart of the wallet service:
   * what it charged is the rate times the time it ran, priced from its start, and the wallet paid just that.
   */
  @Test
  void aSessionAccruesExactlyOnceAcrossARestart() throws Exception {
    TestUser owner = f.newUser("session-owner");
    Team team = f.newTeam(owner, "Sessions");
    f.deposit(team.getWallet(), 10 * DOLLAR, "pay_session");
    // $0.01 per 1,000 units, 1,000 units a second: a cent a second; 60 s of runway held.
    Session open = f.internal().openSession(OpenSessionRequest.newBuilder().setWallet(team.getWallet())
        .setUser(owner.name()).setMeter("gpu_seconds").setRatePerSecond(1_000).setPriceNanos(DOLLAR / 100)
        .setPerQuantity(1_000).setMinRunwaySeconds(60).setStopThresholdSeconds(5).setRequestId("session-1")
        .build()).getSession();
    assertEquals(60 * DOLLAR / 100, f.get(team.getWallet()).getHeldNanos(), "the minimum runway is held");
    f.clock.advance(Duration.ofSeconds(5));
    try {
      dev.tally.common.testing.Await.until("five seconds accrued", Duration.ofSeconds(10), () -> f.platform()
          .listSessions(ListSessionsRequest.newBuilder().setWallet(team.getWallet()).build()).getSessions(0)
          .getAccruedQuantity() == 5_000);
      f.restartWallet();
      f.clock.advance(Duration.ofSeconds(3));
      Session closed = f.internal().closeSession(CloseSessionRequest.newBuilder().setSession(open.getName()).build())
          .getSession();
      assertEquals(8_000, closed.getAccruedQuantity(), "eight seconds, none lost or doubled by the restart");
      assertEquals(8 * DOLLAR / 100, closed.getAccruedCostNanos());
      assertEquals("ENDED", closed.getState());
      Wallet w = f.awaitBalance(team.getWallet(), 10 * DOLLAR - 8 * DOLLAR / 100);
      assertEquals(0, w.getHeldNanos(), "the hold is given back");
      assertEquals(closed, f.internal().closeSession(CloseSessionRequest.newBuilder().setSession(open.getName())
          .build()).getSession(), "ending twice changes nothing");
    } finally {
      f.clock.advance(Duration.ofSeconds(-8));
    }
  }

  private static List<WalletEvent> walletEvents(String wallet, java.util.function.Predicate<WalletEvent> last) {
    return dev.tally.common.testing.TopicReader.readUntil(Topics.WALLET, wallet, WalletEvent.parser(), last);
  }
}
