package dev.tally.wallet;

import static dev.tally.wallet.WalletFixture.DOLLAR;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.identity.config.IdentityPolicy;
import dev.tally.proto.identity.v1.Team;
import dev.tally.proto.wallet.v1.*;
import dev.tally.wallet.WalletFixture.TestUser;
import dev.tally.wallet.config.WalletPolicy;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** With TALLY_HOLD_EXPIRY=charge, a hold whose usage never arrives is charged at its estimate when it expires. */
class ExpiredHoldChargeTest {
  private static WalletFixture f;

  @BeforeAll
  static void start() throws Exception {
    f = new WalletFixture(ExpiredHoldChargeTest.class, IdentityPolicy.defaults(),
        Instant.parse("2026-11-10T12:00:00Z"), WalletPolicy.defaults().withChargeExpiredHolds(true));
  }

  @AfterAll
  static void stop() {
    f.close();
  }

  @Test
  void anExpiredHoldIsChargedAtItsEstimateOnTheStatementAndAgainstItsLimits() {
    TestUser owner = f.newUser("charge-exp-owner");
    Team team = f.newTeam(owner, "Charge on expiry");
    f.deposit(team.getWallet(), 10 * DOLLAR, "pay_charge_exp");
    String member = team.getName() + "/members/" + owner.id();
    Hold h = f.internal().reserve(ReserveRequest.newBuilder().setWallet(team.getWallet()).setAmountNanos(2 * DOLLAR)
        .setMember(member).setApiKey("apiKeys/exp-key")
        .setTtl(com.google.protobuf.Duration.newBuilder().setSeconds(60)).build()).getHold();
    f.clock.advance(Duration.ofSeconds(61));
    f.wallet.housekeeper().runOnce();
    Wallet w = f.get(team.getWallet());
    assertEquals(0, w.getHeldNanos());
    assertEquals(8 * DOLLAR, w.getBalanceNanos(), "the estimate was charged");
    List<Transfer> usage = f.platform().listTransfers(ListTransfersRequest.newBuilder().setWallet(team.getWallet())
        .addCodes(TransferCode.TRANSFER_CODE_USAGE).build()).getTransfersList();
    assertEquals(1, usage.size());
    assertEquals(2 * DOLLAR, usage.getFirst().getAmountNanos());
    assertEquals("apiKeys/exp-key", usage.getFirst().getApiKey());
    assertTrue(usage.getFirst().getDescription().contains("expired without usage"), usage.getFirst().getDescription());
    assertEquals(2 * DOLLAR, f.get(team.getWallet()).getPeriodSpendNanos(), "it counts as the month's spend");
    f.assertReconciled();
    f.clock.advance(Duration.ofSeconds(-61));
  }
}
