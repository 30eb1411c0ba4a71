package dev.tally.wallet;

import static dev.tally.common.testing.GrpcAssertions.assertFails;
import static dev.tally.wallet.WalletFixture.DOLLAR;
import static dev.tally.wallet.WalletFixture.reserve;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.common.testing.GrpcAssertions;
import dev.tally.identity.config.IdentityPolicy;
import dev.tally.proto.identity.v1.Team;
import dev.tally.proto.wallet.v1.Period;
import dev.tally.proto.wallet.v1.ReserveRequest;
import dev.tally.proto.wallet.v1.SetQuotaRequest;
import dev.tally.proto.wallet.v1.Wallet;
import dev.tally.proto.wallet.v1.WalletInternalServiceGrpc.WalletInternalServiceBlockingStub;
import dev.tally.wallet.WalletFixture.TestUser;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Admission decides from each wallet's state kept in the replica's memory: these tests change a wallet
 * where that memory cannot see it (another replica, time passing) and check the next decision still counts
 * every hold exactly once.
 */
class AdmissionMemoryTest {
  private static WalletFixture f;
  private static WalletFixture.Replica other;

  @BeforeAll
  static void start() throws Exception {
    f = new WalletFixture(AdmissionMemoryTest.class, IdentityPolicy.defaults(), Instant.parse("2026-11-10T12:00:00Z"));
    other = f.startReplica();
  }

  @AfterEach
  void reconciled() {
    f.assertReconciled();
  }

  @AfterAll
  static void stop() {
    other.close();
    f.close();
  }

  @Test
  void holdsAndDepositsThroughAnotherReplicaCountInTheNextDecisionOfThisOne() {
    TestUser owner = f.newUser("replicas-owner");
    Team team = f.newTeam(owner, "Replicas");
    String wallet = team.getWallet();
    String member = team.getName() + "/members/" + owner.id();
    f.deposit(wallet, 10 * DOLLAR, "pay_replicas");
    f.as(owner).setQuota(SetQuotaRequest.newBuilder().setWallet(team.getName()).setSubject(member)
        .setPeriod(Period.PERIOD_DAY).setLimitNanos(6 * DOLLAR).build());
    f.internal().reserve(reserve(wallet, 2 * DOLLAR, member, "")); // this replica now knows the wallet
    other.internal().reserve(reserve(wallet, 3 * DOLLAR, member, ""));
    // What this replica remembers of the member's holds ($2) would let $3 more through the $6 quota.
    assertFails(Status.Code.RESOURCE_EXHAUSTED, "QUOTA_EXCEEDED",
        () -> f.internal().reserve(reserve(wallet, 3 * DOLLAR, member, "")));
    f.internal().reserve(reserve(wallet, DOLLAR, member, ""));
    assertFails(Status.Code.RESOURCE_EXHAUSTED, "QUOTA_EXCEEDED",
        () -> other.internal().reserve(reserve(wallet, 1, member, "")));
    // Money: $4 are available; a deposit through the other replica makes $9 reservable here.
    assertFails(Status.Code.FAILED_PRECONDITION, "INSUFFICIENT_BALANCE",
        () -> f.internal().reserve(reserve(wallet, 5 * DOLLAR, "", "")));
    other.deposit(wallet, 5 * DOLLAR, "pay_replicas_2");
    f.internal().reserve(reserve(wallet, 9 * DOLLAR, "", ""));
    assertEquals(15 * DOLLAR, f.get(wallet).getHeldNanos());
  }

  @Test
  void concurrentReservesThroughTwoReplicasNeverOverCommitTheBalance() throws Exception {
    TestUser owner = f.newUser("replicas-race-owner");
    Team team = f.newTeam(owner, "Replicas race");
    String wallet = team.getWallet();
    f.deposit(wallet, 3 * DOLLAR, "pay_replicas_race");
    // Both replicas know the wallet before the race.
    f.internal().reserve(reserve(wallet, DOLLAR / 10, "", ""));
    other.internal().reserve(reserve(wallet, DOLLAR / 10, "", ""));
    List<Callable<Boolean>> calls = new ArrayList<>();
    for (int i = 0; i < 64; i++) {
      WalletInternalServiceBlockingStub via = i % 2 == 0 ? f.internal() : other.internal();
      calls.add(() -> {
        try {
          via.reserve(reserve(wallet, DOLLAR / 20, "", ""));
          return true;
        } catch (StatusRuntimeException e) {
          assertTrue(List.of("INSUFFICIENT_BALANCE", "WALLET_SUSPENDED").contains(GrpcAssertions.reason(e)),
              e.toString());
          return false;
        }
      });
    }
    int granted = WalletFixture.countTrue(calls);
    Wallet w = f.get(wallet);
    assertEquals(2 * (DOLLAR / 10) + granted * (DOLLAR / 20), w.getHeldNanos(), "every granted hold counted once");
    assertTrue(w.getAvailableNanos() >= 0, "holds exceed the balance: " + w);
    // $2.80 were left for the race and the wallet suspends at $0.05 available: 55 holds of $0.05 fit.
    assertEquals(55, granted);
  }

  @Test
  void aHoldThatExpiredFreesItsMoneyForTheNextDecisionWithoutWaitingForTheSweep() {
    TestUser owner = f.newUser("expiry-owner");
    Team team = f.newTeam(owner, "Expiry");
    String wallet = team.getWallet();
    f.deposit(wallet, DOLLAR, "pay_expiry");
    f.internal().reserve(ReserveRequest.newBuilder().setWallet(wallet).setAmountNanos(DOLLAR / 2)
        .setTtl(com.google.protobuf.Duration.newBuilder().setSeconds(60)).build());
    f.internal().reserve(reserve(wallet, DOLLAR / 4, "", ""));
    assertFails(Status.Code.FAILED_PRECONDITION, "INSUFFICIENT_BALANCE",
        () -> f.internal().reserve(reserve(wallet, DOLLAR / 2, "", "")));
    f.clock.advance(Duration.ofSeconds(61));
    try {
      // The first hold expired a second ago; no housekeeping pass ran since.
      f.internal().reserve(reserve(wallet, DOLLAR / 2, "", ""));
      assertEquals(3 * DOLLAR / 4, f.get(wallet).getHeldNanos());
    } finally {
      f.clock.advance(Duration.ofSeconds(-61));
    }
  }
}
