package dev.tally.wallet;

import dev.tally.wallet.db.HoldDao;
import dev.tally.common.testing.GrpcAssertions;
import static dev.tally.wallet.WalletFixture.DOLLAR;
import static dev.tally.wallet.WalletFixture.reserve;
import static dev.tally.common.testing.GrpcAssertions.assertFails;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.identity.config.IdentityPolicy;
import dev.tally.proto.identity.v1.Team;
import dev.tally.proto.wallet.v1.*;
import dev.tally.wallet.WalletFixture.TestUser;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class HoldsAndLimitsTest {
  private static WalletFixture f;

  @BeforeAll
  static void start() throws Exception {
    f = new WalletFixture(HoldsAndLimitsTest.class, IdentityPolicy.defaults(), Instant.parse("2026-11-10T12:00:00Z"));
  }

  @AfterEach
  void reconciled() {
    f.assertReconciled();
  }

  @AfterAll
  static void stop() {
    f.close();
  }

  private static SetSpendingLimitRequest limit(String wallet, Period period, long nanos) {
    return SetSpendingLimitRequest.newBuilder().setWallet(wallet).setPeriod(period).setLimitNanos(nanos).build();
  }

  @Test
  void sixtyFourConcurrentReservesNeverOverCommitTheLimitOrTheBalance() throws Exception {
    TestUser owner = f.newUser("race-owner");
    Team team = f.newTeam(owner, "Race");
    f.deposit(team.getWallet(), 10 * DOLLAR, "pay_race");
    f.as(owner).setSpendingLimit(limit(team.getName(), Period.PERIOD_DAY, 5 * DOLLAR));
    List<Callable<Boolean>> calls = new ArrayList<>();
    for (int i = 0; i < 64; i++) {
      calls.add(() -> {
        try {
          f.internal().reserve(reserve(team.getWallet(), DOLLAR / 10, "", ""));
          return true;
        } catch (StatusRuntimeException e) {
          assertEquals("SPENDING_LIMIT_REACHED", GrpcAssertions.reason(e));
          return false;
        }
      });
    }
    int granted = WalletFixture.countTrue(calls);
    assertEquals(50, granted, "exactly the limit's worth of holds");
    Wallet w = f.get(team.getWallet());
    assertEquals(5 * DOLLAR, w.getHeldNanos());
    assertTrue(w.getHeldNanos() <= w.getSpendingLimits(0).getLimitNanos());
    assertTrue(w.getHeldNanos() <= w.getBalanceNanos());
  }

  @Test
  void sixtyFourConcurrentReservesNeverOverCommitTheBalance() throws Exception {
    TestUser owner = f.newUser("race2-owner");
    Team team = f.newTeam(owner, "Race2");
    f.deposit(team.getWallet(), 2 * DOLLAR, "pay_race2");
    List<Callable<Boolean>> calls = new ArrayList<>();
    for (int i = 0; i < 64; i++) {
      calls.add(() -> {
        try {
          f.internal().reserve(reserve(team.getWallet(), DOLLAR / 20, "", ""));
          return true;
        } catch (StatusRuntimeException e) {
          assertTrue(List.of("INSUFFICIENT_BALANCE", "WALLET_SUSPENDED").contains(GrpcAssertions.reason(e)));
          return false;
        }
      });
    }
    int granted = WalletFixture.countTrue(calls);
    Wallet w = f.get(team.getWallet());
    assertEquals(granted * (DOLLAR / 20), w.getHeldNanos());
    assertTrue(w.getHeldNanos() <= w.getBalanceNanos(), "holds exceed the balance");
    assertTrue(w.getAvailableNanos() >= 0);
    // Reserving stops once the available balance reaches the suspension threshold ($0.05).
    assertTrue(w.getAvailableNanos() <= w.getSuspendThresholdNanos());
    assertEquals(WalletStatus.WALLET_STATUS_SUSPENDED, w.getStatus());
  }

  @Test
  void quotasOfKeyAndMemberAreEnforcedWithTheirReason() {
    TestUser owner = f.newUser("q-owner");
    TestUser member = f.newUser("q-member");
    Team team = f.newTeam(owner, "Quotas");
    f.join(owner, team, member, "roles/member");
    f.deposit(team.getWallet(), 100 * DOLLAR, "pay_quota");
    String m = team.getName() + "/members/" + member.id();
    f.as(owner).setQuota(SetQuotaRequest.newBuilder().setWallet(team.getName()).setSubject(m)
        .setPeriod(Period.PERIOD_MONTH).setLimitNanos(3 * DOLLAR).build());
    f.as(owner).setQuota(SetQuotaRequest.newBuilder().setWallet(team.getName()).setSubject("apiKeys/k1")
        .setPeriod(Period.PERIOD_LIFETIME).setLimitNanos(DOLLAR).build());
    f.internal().reserve(reserve(team.getWallet(), DOLLAR, m, "apiKeys/k1"));
    assertFails(Status.Code.RESOURCE_EXHAUSTED, "QUOTA_EXCEEDED",
        () -> f.internal().reserve(reserve(team.getWallet(), 1, m, "apiKeys/k1")));
    f.internal().reserve(reserve(team.getWallet(), 2 * DOLLAR, m, "apiKeys/k2"));
    assertFails(Status.Code.RESOURCE_EXHAUSTED, "QUOTA_EXCEEDED",
        () -> f.internal().reserve(reserve(team.getWallet(), 1, m, "apiKeys/k3")));
    // Another member is not bound by this member's quota.
    f.internal().reserve(reserve(team.getWallet(), 5 * DOLLAR, team.getName() + "/members/other", ""));
    Wallet w = f.get(team.getWallet());
    assertEquals(2, w.getQuotasCount());
    assertFails(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", () -> f.as(owner).setQuota(SetQuotaRequest.newBuilder()
        .setWallet(team.getName()).setSubject("teams/other-team/members/x").setPeriod(Period.PERIOD_DAY)
        .setLimitNanos(1).build()));
  }

  @Test
  void settleChargesTheActualAndReleaseReturnsTheHold() {
    TestUser owner = f.newUser("settle-owner");
    Team team = f.newTeam(owner, "Settle");
    f.deposit(team.getWallet(), 10 * DOLLAR, "pay_settle");
    Hold h1 = f.internal().reserve(reserve(team.getWallet(), 2 * DOLLAR, "", "")).getHold();
    Hold h2 = f.internal().reserve(reserve(team.getWallet(), 3 * DOLLAR, "", "")).getHold();
    assertEquals(5 * DOLLAR, f.get(team.getWallet()).getAvailableNanos());
    Hold settled = f.internal().settle(SettleRequest.newBuilder().setHold(h1.getName()).setActualNanos(DOLLAR)
        .build()).getHold();
    assertEquals(HoldState.HOLD_STATE_SETTLED, settled.getState());
    assertEquals(DOLLAR, settled.getSettledNanos());
    assertEquals(0, settled.getOverageNanos(), "it fit the estimate");
    // Above the estimate: the actual cost is charged and the overage recorded on the hold.
    Hold h3 = f.internal().reserve(reserve(team.getWallet(), DOLLAR, "", "")).getHold();
    Hold over = f.internal().settle(SettleRequest.newBuilder().setHold(h3.getName()).setActualNanos(DOLLAR + DOLLAR / 4)
        .build()).getHold();
    assertEquals(DOLLAR + DOLLAR / 4, over.getSettledNanos());
    assertEquals(DOLLAR / 4, over.getOverageNanos());
    f.internal().release(ReleaseRequest.newBuilder().setHold(h2.getName()).build());
    Wallet w = f.get(team.getWallet());
    assertEquals(9 * DOLLAR - DOLLAR - DOLLAR / 4, w.getBalanceNanos());
    assertEquals(0, w.getHeldNanos());
    assertFails(Status.Code.FAILED_PRECONDITION, "HOLD_NOT_PENDING",
        () -> f.internal().release(ReleaseRequest.newBuilder().setHold(h2.getName()).build()));
    assertFails(Status.Code.NOT_FOUND, "NOT_FOUND", () -> f.internal().release(ReleaseRequest.newBuilder()
        .setHold(team.getWallet() + "/holds/nope").build()));
    assertFails(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN",
        () -> f.internalAs(owner.caller()).reserve(reserve(team.getWallet(), 1, "", "")));
  }

  /**
   * Effective limits read the balance and the holds in one snapshot: with holds of one member reserved and
   * released while they are read, what the balance row shows held always equals what the member's row shows.
   */
  @Test
  void effectiveLimitsShowTheBalanceAndTheHoldsOfOneMoment() throws Exception {
    TestUser owner = f.newUser("snap-owner");
    Team team = f.newTeam(owner, "Snapshot");
    f.deposit(team.getWallet(), 100 * DOLLAR, "pay_snap");
    String member = team.getName() + "/members/" + owner.id();
    f.as(owner).setQuota(SetQuotaRequest.newBuilder().setWallet(team.getName()).setSubject(member)
        .setPeriod(Period.PERIOD_DAY).setLimitNanos(50 * DOLLAR).build());
    java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      List<Future<?>> churn = new ArrayList<>();
      for (int t = 0; t < 2; t++) {
        churn.add(pool.submit(() -> {
          while (!stop.get()) {
            Hold h = f.internal().reserve(reserve(team.getWallet(), DOLLAR, member, "")).getHold();
            f.internal().release(ReleaseRequest.newBuilder().setHold(h.getName()).build());
          }
          return null;
        }));
      }
      int reads = 0;
      long end = System.nanoTime() + Duration.ofSeconds(3).toNanos();
      while (System.nanoTime() < end) {
        GetEffectiveLimitsResponse r = f.as(owner).getEffectiveLimits(GetEffectiveLimitsRequest.newBuilder()
            .setWallet(team.getName()).setSubject(member).build());
        EffectiveLimit own = r.getLimits(0);
        EffectiveLimit balance = r.getLimits(r.getLimitsCount() - 1);
        assertEquals(LimitScope.LIMIT_SCOPE_BALANCE, balance.getScope());
        assertEquals(balance.getLimitNanos() - balance.getRemainingNanos(), own.getHeldNanos(), "read " + reads);
        reads++;
      }
      stop.set(true);
      for (Future<?> c : churn) {
        c.get();
      }
      assertTrue(reads > 20, "reads " + reads);
    } finally {
      stop.set(true);
      pool.shutdownNow();
    }
  }

  @Test
  void expiredHoldsReleaseThemselves() {
    TestUser owner = f.newUser("exp-owner");
    Team team = f.newTeam(owner, "Expiring");
    f.deposit(team.getWallet(), DOLLAR, "pay_exp");
    f.internal().reserve(ReserveRequest.newBuilder().setWallet(team.getWallet()).setAmountNanos(DOLLAR / 2)
        .setTtl(com.google.protobuf.Duration.newBuilder().setSeconds(60)).build());
    assertEquals(DOLLAR / 2, f.get(team.getWallet()).getHeldNanos());
    f.clock.advance(Duration.ofSeconds(61));
    f.wallet.housekeeper().runOnce();
    assertEquals(0, f.get(team.getWallet()).getHeldNanos());
    f.clock.advance(Duration.ofSeconds(-61));
  }

  @Test
  void periodResetRestoresSpendingAndLateEventsCountInTheirOwnPeriod() {
    TestUser owner = f.newUser("period-owner");
    Team team = f.newTeam(owner, "Periods");
    f.deposit(team.getWallet(), 100 * DOLLAR, "pay_period");
    f.as(owner).setSpendingLimit(limit(team.getName(), Period.PERIOD_DAY, 2 * DOLLAR));
    Instant today = f.clock.instant();
    f.usage("period-1", team.getWallet(), owner.name(), "", 2 * DOLLAR, today, "");
    f.awaitBalance(team.getWallet(), 98 * DOLLAR);
    assertFails(Status.Code.RESOURCE_EXHAUSTED, "SPENDING_LIMIT_REACHED",
        () -> f.internal().reserve(reserve(team.getWallet(), 1, "", "")));
    f.clock.advance(Duration.ofDays(1));
    try {
      Wallet w = f.get(team.getWallet());
      assertEquals(0, w.getSpendingLimits(0).getSpentNanos());
      f.internal().reserve(reserve(team.getWallet(), DOLLAR, "", ""));
      // A late event from yesterday counts in yesterday's window, not today's.
      f.usage("period-late", team.getWallet(), owner.name(), "", DOLLAR / 2, today, "");
      f.awaitBalance(team.getWallet(), 97 * DOLLAR + DOLLAR / 2);
      assertEquals(0, f.get(team.getWallet()).getSpendingLimits(0).getSpentNanos());
    } finally {
      f.clock.advance(Duration.ofDays(-1));
    }
  }

  @Test
  void aLimitBelowWhatWasSpentIsAcceptedAndStopsSpendingAtOnceAndClearRemovesIt() {
    TestUser owner = f.newUser("below-owner");
    Team team = f.newTeam(owner, "Below");
    f.deposit(team.getWallet(), 10 * DOLLAR, "pay_below");
    f.usage("below-1", team.getWallet(), owner.name(), "", 3 * DOLLAR, f.clock.instant(), "");
    f.awaitBalance(team.getWallet(), 7 * DOLLAR);
    // Lowering a cap below this period's spend is how an admin stops spending now: accepted, and it blocks.
    Wallet w = f.as(owner).setSpendingLimit(limit(team.getName(), Period.PERIOD_MONTH, 2 * DOLLAR)).getWallet();
    assertEquals(3 * DOLLAR, w.getSpendingLimits(0).getSpentNanos());
    assertEquals(0, w.getSpendingLimits(0).getRemainingNanos());
    assertFails(Status.Code.RESOURCE_EXHAUSTED, "SPENDING_LIMIT_REACHED",
        () -> f.internal().reserve(reserve(team.getWallet(), 1, "", "")));
    Wallet cleared = f.as(owner).setSpendingLimit(SetSpendingLimitRequest.newBuilder().setWallet(team.getName())
        .setPeriod(Period.PERIOD_MONTH).setClear(true).build()).getWallet();
    assertEquals(0, cleared.getSpendingLimitsCount());
    f.internal().reserve(reserve(team.getWallet(), 1, "", ""));
  }

  @Test
  void aLimitSetAfterSpendingCountsTheSpendAlreadyInItsWindow() {
    TestUser owner = f.newUser("late-owner");
    TestUser member = f.newUser("late-member");
    Team team = f.newTeam(owner, "Late limits");
    f.join(owner, team, member, "roles/member");
    f.deposit(team.getWallet(), 10 * DOLLAR, "pay_late_limits");
    String m = team.getName() + "/members/" + member.id();
    // Spent before any limit exists (no spend window is kept for what nothing reads)...
    f.usage("late-1", team.getWallet(), member.name(), "apiKeys/late-key", 3 * DOLLAR, f.clock.instant(), "");
    f.awaitBalance(team.getWallet(), 7 * DOLLAR);
    // ...and still counted by limits set afterwards, whatever their subject and period.
    Wallet keyCapped = f.as(owner).setQuota(SetQuotaRequest.newBuilder().setWallet(team.getName())
        .setSubject("apiKeys/late-key").setPeriod(Period.PERIOD_WEEK).setLimitNanos(2 * DOLLAR).build()).getWallet();
    assertEquals(3 * DOLLAR, keyCapped.getQuotas(0).getSpentNanos(), "the key's week already holds its spend");
    assertFails(Status.Code.RESOURCE_EXHAUSTED, "QUOTA_EXCEEDED",
        () -> f.internal().reserve(reserve(team.getWallet(), 1, "", "apiKeys/late-key")));
    assertEquals(3 * DOLLAR, f.as(owner).setSpendingLimit(limit(team.getName(), Period.PERIOD_DAY, 2 * DOLLAR))
        .getWallet().getSpendingLimits(0).getSpentNanos(), "so does the team's day");
    f.as(owner).setSpendingLimit(SetSpendingLimitRequest.newBuilder().setWallet(team.getName())
        .setPeriod(Period.PERIOD_DAY).setClear(true).build());
    f.as(owner).setQuota(SetQuotaRequest.newBuilder().setWallet(team.getName()).setSubject(m)
        .setPeriod(Period.PERIOD_LIFETIME).setLimitNanos(4 * DOLLAR).build());
    assertFails(Status.Code.RESOURCE_EXHAUSTED, "QUOTA_EXCEEDED",
        () -> f.internal().reserve(reserve(team.getWallet(), DOLLAR + 1, m, "")));
    f.internal().reserve(reserve(team.getWallet(), DOLLAR, m, ""));
    // Spend after the limit keeps counting on top of what was there.
    f.usage("late-2", team.getWallet(), member.name(), "apiKeys/late-key", DOLLAR / 2, f.clock.instant(), "");
    f.awaitBalance(team.getWallet(), 7 * DOLLAR - DOLLAR / 2);
    Quota q = f.get(team.getWallet()).getQuotasList().stream().filter(x -> x.getSubject().equals(m)).findFirst()
        .orElseThrow();
    assertEquals(3 * DOLLAR + DOLLAR / 2, q.getSpentNanos());
  }

  @Test
  void aReserveBatchAnswersEachItemAloneInOrderAndAnItemOutOfTimeReservesNothing() throws Exception {
    MemberWithQuota q = memberWithDailyQuota("batch", 3 * DOLLAR, 2 * DOLLAR);
    TestUser owner = q.owner();
    Team team = q.team();
    String m = q.member();
    java.util.function.Function<ReserveRequest, ReserveBatchItem> item = r -> ReserveBatchItem.newBuilder()
        .setReserve(r).build();
    ReserveBatchResponse answer = f.internal().reserveBatch(ReserveBatchRequest.newBuilder()
        .addItems(item.apply(reserve(team.getWallet(), DOLLAR, m, "")))
        .addItems(item.apply(reserve(team.getWallet(), 2 * DOLLAR, m, ""))) // the member's quota has $1 left now
        .addItems(item.apply(reserve(team.getWallet(), DOLLAR, "", ""))) // no member: only the balance counts
        .addItems(ReserveBatchItem.newBuilder().setReserve(reserve(team.getWallet(), DOLLAR / 2, "", ""))
            .setTimeLeft(com.google.protobuf.Duration.newBuilder().setNanos(1))) // its caller is gone
        .addItems(item.apply(reserve(team.getWallet(), 2 * DOLLAR, "", ""))) // $1 available is not enough
        .build());
    assertEquals(5, answer.getResultsCount());
    assertEquals(DOLLAR, answer.getResults(0).getReserved().getHold().getAmountNanos());
    assertEquals(2 * DOLLAR, answer.getResults(0).getReserved().getAvailableNanos());
    assertRefused(answer.getResults(1), Status.Code.RESOURCE_EXHAUSTED, "QUOTA_EXCEEDED");
    assertEquals(DOLLAR, answer.getResults(2).getReserved().getAvailableNanos(), "decided after the first");
    assertRefused(answer.getResults(3), Status.Code.DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED");
    assertRefused(answer.getResults(4), Status.Code.FAILED_PRECONDITION, "INSUFFICIENT_BALANCE");
    Wallet w = f.get(team.getWallet());
    assertEquals(2 * DOLLAR, w.getHeldNanos(), "the two reserved items, nothing for the others");
    // A batch is internal to admission: a member cannot send one.
    assertFails(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN", () -> f.internalAs(owner.caller()).reserveBatch(ReserveBatchRequest.newBuilder()
        .addItems(item.apply(reserve(team.getWallet(), 1, "", ""))).build()));
  }

  @Test
  void aWaveOfExpiredHoldsIsWorkedOffInBoundedPassesAndNeverFreesMoreThanExpired() {
    TestUser owner = f.newUser("wave-owner");
    Team team = f.newTeam(owner, "Wave");
    f.deposit(team.getWallet(), 10 * DOLLAR, "pay_wave");
    int holds = dev.tally.wallet.db.HoldDao.DUE_HOLDS_PER_PASS + 500;
    long each = 1_000;
    for (int sent = 0; sent < holds; sent += 1_000) {
      ReserveBatchRequest.Builder batch = ReserveBatchRequest.newBuilder();
      for (int i = sent; i < Math.min(holds, sent + 1_000); i++) {
        batch.addItems(ReserveBatchItem.newBuilder().setReserve(reserve(team.getWallet(), each, "", "").toBuilder()
            .setTtl(com.google.protobuf.Duration.newBuilder().setSeconds(60))));
      }
      assertTrue(f.internal().reserveBatch(batch.build()).getResultsList().stream().allMatch(r -> r.hasReserved()));
    }
    assertEquals(holds * each, f.get(team.getWallet()).getHeldNanos());
    f.clock.advance(java.time.Duration.ofSeconds(61));
    try {
      f.wallet.housekeeper().runOnce();
      assertEquals(500, f.wallet.db().dsl().fetchCount(dev.tally.wallet.db.jooq.Tables.HOLDS,
          dev.tally.wallet.db.jooq.Tables.HOLDS.WALLET.eq(team.getWallet()),
          dev.tally.wallet.db.jooq.Tables.HOLDS.STATE.eq("pending")), "one pass expires at most its bound");
      Wallet w = f.get(team.getWallet()); // reading the wallet is a pass of its own
      assertEquals(0, w.getHeldNanos(), "the next pass the rest");
      assertEquals(10 * DOLLAR, w.getAvailableNanos(), "released, not charged (release is the default)");
      f.assertReconciled();
    } finally {
      f.clock.advance(java.time.Duration.ofSeconds(-61));
    }
  }

  /** A team with {@code balance} whose owner, as a member, has a daily quota of {@code quota}. */
  private record MemberWithQuota(TestUser owner, Team team, String member) {}

  private static MemberWithQuota memberWithDailyQuota(String tag, long balance, long quota) {
    TestUser owner = f.newUser(tag + "-owner");
    Team team = f.newTeam(owner, tag);
    f.deposit(team.getWallet(), balance, "pay_" + tag);
    String member = team.getName() + "/members/" + owner.id();
    f.as(owner).setQuota(SetQuotaRequest.newBuilder().setWallet(team.getName()).setSubject(member)
        .setPeriod(Period.PERIOD_DAY).setLimitNanos(quota).build());
    return new MemberWithQuota(owner, team, member);
  }

  private static void assertRefused(ReserveBatchResult r, Status.Code code, String reason) throws Exception {
    assertTrue(r.hasError(), r.toString());
    assertEquals(code.value(), r.getError().getCode(), r.toString());
    com.google.rpc.ErrorInfo info = r.getError().getDetailsList().stream()
        .filter(a -> a.is(com.google.rpc.ErrorInfo.class)).findFirst().orElseThrow()
        .unpack(com.google.rpc.ErrorInfo.class);
    assertEquals(reason, info.getReason(), r.toString());
  }

  @Test
  void aReservationWhoseCallerGaveUpCreatesNoHold() {
    TestUser owner = f.newUser("gone-owner");
    Team team = f.newTeam(owner, "Gone");
    f.deposit(team.getWallet(), 10 * DOLLAR, "pay_gone");
    long before = f.wallet.reserves().abandoned();
    io.grpc.Context.CancellableContext gone = io.grpc.Context.current().withCancellation();
    gone.cancel(null);
    var call = new dev.tally.wallet.holds.ReserveBatcher.Call<>(dev.tally.common.auth.Caller.PLATFORM, "test/Reserve",
        "", ReserveRequest.getDefaultInstance(), ReserveResponse.parser(), new dev.tally.wallet.holds.HoldManager
        .Request(team.getWallet(), DOLLAR, "", "", java.time.Duration.ofMinutes(10)), r -> ReserveResponse
        .getDefaultInstance(), new java.util.concurrent.CompletableFuture<ReserveResponse>());
    io.grpc.StatusRuntimeException e = org.junit.jupiter.api.Assertions.assertThrows(
        io.grpc.StatusRuntimeException.class, () -> gone.call(() -> f.wallet.reserves().reserve(call)));
    assertEquals(Status.Code.CANCELLED, e.getStatus().getCode());
    assertEquals(before + 1, f.wallet.reserves().abandoned());
    Wallet w = f.get(team.getWallet());
    assertEquals(0, w.getHeldNanos(), "nothing reserved for a caller who is gone");
    assertEquals(10 * DOLLAR, w.getAvailableNanos());
  }

  @Test
  @org.junit.jupiter.api.Timeout(60) // without shedding the third call would wait behind the lock held here
  void beyondCapacityReservesAreShedAtOnceWithARetryDelayAndTheQueuedOnesStillDecided() throws Exception {
    TestUser owner = f.newUser("shed-owner");
    Team team = f.newTeam(owner, "Shed");
    f.deposit(team.getWallet(), 10 * DOLLAR, "pay_shed");
    var batcher = f.wallet.reserves().withMaxWaiting(1);
    java.util.function.IntFunction<dev.tally.wallet.holds.ReserveBatcher.Call<ReserveResponse>> call = n ->
        new dev.tally.wallet.holds.ReserveBatcher.Call<>(dev.tally.common.auth.Caller.PLATFORM, "test/Reserve", "",
            ReserveRequest.getDefaultInstance(), ReserveResponse.parser(), new dev.tally.wallet.holds.HoldManager
            .Request(team.getWallet(), DOLLAR, "", "", java.time.Duration.ofMinutes(10)), r -> ReserveResponse
            .newBuilder().setAvailableNanos(r.available()).build(), new java.util.concurrent.CompletableFuture<>());
    java.util.concurrent.CountDownLatch locked = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
    ExecutorService pool = Executors.newFixedThreadPool(3);
    try {
      // Someone else holds the wallet's lock: the first call's batch waits for it, the second call queues.
      Future<?> blocker = pool.submit(() -> f.wallet.db().transaction(tx -> {
        tx.dsl().execute("select 1 from wallets where name = ? for update", team.getWallet());
        locked.countDown();
        release.await();
        return null;
      }));
      locked.await();
      Future<ReserveResponse> first = pool.submit(() -> batcher.reserve(call.apply(1)));
      Thread.sleep(300);
      Future<ReserveResponse> second = pool.submit(() -> batcher.reserve(call.apply(2)));
      Thread.sleep(300);
      long t0 = System.nanoTime();
      io.grpc.StatusRuntimeException shed = org.junit.jupiter.api.Assertions.assertThrows(
          io.grpc.StatusRuntimeException.class, () -> batcher.reserve(call.apply(3)));
      assertTrue(System.nanoTime() - t0 < 100_000_000L, "shed at once, not after waiting");
      assertEquals(Status.Code.UNAVAILABLE, shed.getStatus().getCode());
      com.google.rpc.Status details = io.grpc.protobuf.StatusProto.fromThrowable(shed);
      assertTrue(details.getDetailsList().stream().anyMatch(d -> d.is(com.google.rpc.RetryInfo.class)), "RetryInfo");
      assertTrue(details.getDetailsList().stream().anyMatch(d -> d.toString().contains("ADMISSION_OVERLOADED")));
      assertEquals(1, batcher.shed());
      release.countDown();
      blocker.get(10, java.util.concurrent.TimeUnit.SECONDS);
      long a = first.get(10, java.util.concurrent.TimeUnit.SECONDS).getAvailableNanos();
      long b = second.get(10, java.util.concurrent.TimeUnit.SECONDS).getAvailableNanos();
      assertEquals(java.util.Set.of(9 * DOLLAR, 8 * DOLLAR), java.util.Set.of(a, b), "both queued calls decided");
      assertEquals(2 * DOLLAR, f.get(team.getWallet()).getHeldNanos(), "the shed call reserved nothing");
    } finally {
      release.countDown();
      pool.shutdownNow();
    }
  }

  /** Holds live in PostgreSQL: a restarted wallet service neither loses one nor counts one twice. */
  @Test
  void aWalletServiceRestartLosesNoHoldAndCountsNoneTwice() throws Exception {
    MemberWithQuota q = memberWithDailyQuota("restart", 10 * DOLLAR, 5 * DOLLAR);
    Team team = q.team();
    String member = q.member();
    for (int i = 0; i < 3; i++) {
      f.internal().reserve(reserve(team.getWallet(), DOLLAR, member, ""));
    }
    f.restartWallet();
    Wallet w = f.get(team.getWallet());
    assertEquals(3 * DOLLAR, w.getHeldNanos(), "every hold survived, once");
    assertEquals(7 * DOLLAR, w.getAvailableNanos());
    // The member's quota still counts the three holds: two more dollars fit, a third does not.
    f.internal().reserve(reserve(team.getWallet(), 2 * DOLLAR, member, ""));
    assertFails(Status.Code.RESOURCE_EXHAUSTED, "QUOTA_EXCEEDED",
        () -> f.internal().reserve(reserve(team.getWallet(), 1, member, "")));
    assertEquals(5 * DOLLAR, f.get(team.getWallet()).getHeldNanos());
  }

  @Test
  void suspensionAtTheThresholdAndResumeOnDeposit() {
    TestUser owner = f.newUser("susp-owner");
    Team team = f.newTeam(owner, "Suspend");
    f.deposit(team.getWallet(), DOLLAR, "pay_susp_1");
    f.usage("susp-1", team.getWallet(), owner.name(), "", DOLLAR - 50_000_000L, f.clock.instant(), "");
    Wallet w = f.awaitBalance(team.getWallet(), 50_000_000L);
    assertEquals(WalletStatus.WALLET_STATUS_SUSPENDED, w.getStatus());
    assertFails(Status.Code.FAILED_PRECONDITION, "WALLET_SUSPENDED",
        () -> f.internal().reserve(reserve(team.getWallet(), 1, "", "")));
    // Admitted usage still posts, past zero: the wallet shows the debt.
    f.usage("susp-2", team.getWallet(), owner.name(), "", DOLLAR / 10, f.clock.instant(), "");
    w = f.awaitBalance(team.getWallet(), 50_000_000L - DOLLAR / 10);
    assertTrue(w.getBalanceNanos() < 0);
    Wallet resumed = f.deposit(team.getWallet(), DOLLAR, "pay_susp_2");
    assertEquals(WalletStatus.WALLET_STATUS_ACTIVE, resumed.getStatus());
    f.internal().reserve(reserve(team.getWallet(), DOLLAR / 2, "", ""));
  }
}
