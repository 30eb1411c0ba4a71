package dev.tally.wallet;

import static dev.tally.wallet.WalletFixture.DOLLAR;
import static dev.tally.common.testing.GrpcAssertions.assertFails;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Timestamp;
import dev.tally.identity.config.IdentityPolicy;
import dev.tally.proto.identity.v1.Team;
import dev.tally.proto.wallet.v1.*;
import dev.tally.wallet.WalletFixture.TestUser;
import io.grpc.Status;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class GrantsPlansDiscountTest {
  private static final Instant MID_NOVEMBER = Instant.parse("2026-11-16T00:00:00Z");
  private static WalletFixture f;

  @BeforeAll
  static void start() throws Exception {
    f = new WalletFixture(GrantsPlansDiscountTest.class, IdentityPolicy.defaults(), MID_NOVEMBER);
  }

  @AfterEach
  void reconciled() {
    f.clock.set(MID_NOVEMBER);
    f.assertReconciled();
  }

  @AfterAll
  static void stop() {
    f.close();
  }

  private List<Transfer> usageTransfers(String wallet) {
    return f.platform().listTransfers(ListTransfersRequest.newBuilder().setWallet(wallet)
        .addCodes(TransferCode.TRANSFER_CODE_USAGE).build()).getTransfersList();
  }

  @Test
  void grantedCreditIsSpentBeforePaidMoneyInPriorityOrder() {
    TestUser owner = f.newUser("grant-owner");
    Team team = f.newTeam(owner, "Grants");
    f.deposit(team.getWallet(), 10 * DOLLAR, "pay_grant");
    f.platform().grantCredits(GrantCreditsRequest.newBuilder().setWallet(team.getWallet()).setAmountNanos(DOLLAR)
        .setPriority(5).setRequestId("grant-low").build());
    Wallet w = f.platform().grantCredits(GrantCreditsRequest.newBuilder().setWallet(team.getWallet())
        .setAmountNanos(2 * DOLLAR).setPriority(1).setRequestId("grant-high").build()).getWallet();
    assertEquals(3 * DOLLAR, w.getGrantedBalanceNanos());
    assertEquals(13 * DOLLAR, w.getBalanceNanos());
    f.usage("grant-use-1", team.getWallet(), owner.name(), "", 4 * DOLLAR, f.clock.instant(), "");
    w = f.awaitBalance(team.getWallet(), 9 * DOLLAR);
    assertEquals(0, w.getGrantedBalanceNanos());
    assertEquals(9 * DOLLAR, w.getPaidBalanceNanos());
    List<Transfer> usage = usageTransfers(team.getWallet());
    assertEquals(2, usage.size());
    long fromGranted = usage.stream().filter(t -> t.getDebitAccount().endsWith("/granted"))
        .mapToLong(Transfer::getAmountNanos).sum();
    assertEquals(3 * DOLLAR, fromGranted);
    assertFails(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN", () -> f.as(owner).grantCredits(
        GrantCreditsRequest.newBuilder().setWallet(team.getWallet()).setAmountNanos(DOLLAR).setRequestId("x").build()));
  }

  @Test
  void planGrantsProRataAtOnceThenRenewsAndExpiresAtPeriodEnd() {
    TestUser owner = f.newUser("plan-owner");
    Team team = f.newTeam(owner, "Plans");
    // Pro, $20 per seat per month, 3 seats, subscribed exactly half-way through November (15 of 30 days left).
    Wallet w = f.platform().setPlan(SetPlanRequest.newBuilder().setWallet(team.getName()).setPlan("plans/pro")
        .setSeats(3).build()).getWallet();
    assertEquals(30 * DOLLAR, w.getGrantedBalanceNanos());
    assertEquals("plans/pro", w.getPlan().getPlan());
    // Two more seats a quarter of the month later: pro rata for what is left.
    f.clock.set(Instant.parse("2026-11-23T12:00:00Z"));
    w = f.platform().setPlan(SetPlanRequest.newBuilder().setWallet(team.getName()).setPlan("plans/pro")
        .setSeats(5).build()).getWallet();
    assertEquals(30 * DOLLAR + 10 * DOLLAR, w.getGrantedBalanceNanos()); // 2 × $20 × 7.5/30
    f.usage("plan-use", team.getWallet(), owner.name(), "", 15 * DOLLAR, f.clock.instant(), "");
    f.awaitBalance(team.getWallet(), 25 * DOLLAR);
    // December: the unused November grant expires through a transfer, the full December grant arrives.
    f.clock.set(Instant.parse("2026-12-01T00:00:01Z"));
    f.wallet.housekeeper().runOnce();
    w = f.get(team.getWallet());
    assertEquals(5 * 20 * DOLLAR, w.getGrantedBalanceNanos());
    List<Transfer> expiries = f.platform().listTransfers(ListTransfersRequest.newBuilder().setWallet(team.getWallet())
        .addCodes(TransferCode.TRANSFER_CODE_GRANT_EXPIRY).build()).getTransfersList();
    assertEquals(25 * DOLLAR, expiries.stream().mapToLong(Transfer::getAmountNanos).sum());
    assertFails(Status.Code.NOT_FOUND, "NOT_FOUND", () -> f.platform().setPlan(SetPlanRequest.newBuilder()
        .setWallet(team.getName()).setPlan("plans/platinum").setSeats(1).build()));
    assertEquals(3, f.platform().listPlans(ListPlansRequest.getDefaultInstance()).getPlansCount());
  }

  @Test
  void promotionalGrantExpiresThroughATransfer() {
    TestUser owner = f.newUser("promo-owner");
    Team team = f.newTeam(owner, "Promo");
    Instant expiry = Instant.parse("2026-11-20T00:00:00Z");
    f.platform().grantCredits(GrantCreditsRequest.newBuilder().setWallet(team.getWallet()).setAmountNanos(DOLLAR)
        .setExpireTime(Timestamp.newBuilder().setSeconds(expiry.getEpochSecond())).setRequestId("promo-1").build());
    assertEquals(DOLLAR, f.get(team.getWallet()).getGrantedBalanceNanos());
    f.clock.set(expiry.plusSeconds(1));
    f.wallet.housekeeper().runOnce();
    assertEquals(0, f.get(team.getWallet()).getGrantedBalanceNanos());
  }

  @Test
  void discountIsAppliedToUsageAndRecordedOnTheTransfer() {
    TestUser owner = f.newUser("disc-owner");
    Team team = f.newTeam(owner, "Discount");
    f.deposit(team.getWallet(), 10 * DOLLAR, "pay_disc");
    assertFails(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN", () -> f.as(owner).setDiscount(
        SetDiscountRequest.newBuilder().setWallet(team.getName()).setDiscountBasisPoints(5000).build()));
    Wallet w = f.platform().setDiscount(SetDiscountRequest.newBuilder().setWallet(team.getWallet())
        .setDiscountBasisPoints(2_000).build()).getWallet();
    assertEquals(2_000, w.getDiscountBasisPoints());
    f.usage("disc-1", team.getWallet(), owner.name(), "", DOLLAR, f.clock.instant(), "");
    f.awaitBalance(team.getWallet(), 10 * DOLLAR - 800_000_000L);
    Transfer t = usageTransfers(team.getWallet()).getFirst();
    assertEquals(800_000_000L, t.getAmountNanos());
    assertEquals(DOLLAR, t.getListAmountNanos());
    assertEquals(200_000_000L, t.getDiscountNanos());
    // Half-even rounding once per event: 3 nanos at 50 % is 1.5 → 2 (even), 5 at 50 % is 2.5 → 2.
    f.platform().setDiscount(SetDiscountRequest.newBuilder().setWallet(team.getWallet())
        .setDiscountBasisPoints(5_000).build());
    f.usage("disc-2", team.getWallet(), owner.name(), "", 3, f.clock.instant(), "");
    f.usage("disc-3", team.getWallet(), owner.name(), "", 5, f.clock.instant(), "");
    f.awaitBalance(team.getWallet(), 10 * DOLLAR - 800_000_000L - 1 - 3);
  }
}
