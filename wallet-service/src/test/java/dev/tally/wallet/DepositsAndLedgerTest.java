package dev.tally.wallet;

import dev.tally.common.money.MoneyBounds;
import static dev.tally.wallet.WalletFixture.DOLLAR;
import static dev.tally.common.testing.GrpcAssertions.assertFails;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

class DepositsAndLedgerTest {
  private static WalletFixture f;

  @BeforeAll
  static void start() throws Exception {
    f = new WalletFixture(DepositsAndLedgerTest.class, IdentityPolicy.defaults(), Instant.parse("2026-11-10T12:00:00Z"));
  }

  @AfterEach
  void reconciled() {
    f.assertReconciled();
  }

  @AfterAll
  static void stop() {
    f.close();
  }

  private DepositRequest.Builder deposit(String wallet, long amount, String ref) {
    return DepositRequest.newBuilder().setWallet(wallet).setAmountNanos(amount).setCurrencyCode("USD")
        .setExternalReference(ref);
  }

  @Test
  void thePlatformRecordsAPaymentAndTheStatementShowsIt() {
    TestUser owner = f.newUser("dep-owner");
    Team team = f.newTeam(owner, "Depositors");
    DepositResponse r = f.platform().deposit(deposit(team.getName(), 25 * DOLLAR, "pay_1").build());
    assertEquals(team.getWallet(), r.getWallet().getName());
    assertEquals(25 * DOLLAR, r.getWallet().getBalanceNanos());
    assertEquals(25 * DOLLAR, r.getWallet().getPaidBalanceNanos());
    assertEquals(25 * DOLLAR, r.getWallet().getAvailableNanos());
    assertEquals(WalletStatus.WALLET_STATUS_ACTIVE, r.getWallet().getStatus());
    assertEquals(TransferCode.TRANSFER_CODE_DEPOSIT, r.getTransfer().getCode());
    assertEquals("system/deposits/USD", r.getTransfer().getDebitAccount());
    assertEquals(team.getWallet(), r.getTransfer().getCreditAccount());
    List<Transfer> statement = f.as(owner).listTransfers(ListTransfersRequest.newBuilder()
        .setWallet(team.getName()).build()).getTransfersList();
    assertEquals(List.of(r.getTransfer().getName()), statement.stream().map(Transfer::getName).toList());
  }

  @Test
  void depositIsIdempotentOnThePaymentReference() {
    TestUser owner = f.newUser("idem-owner");
    Team team = f.newTeam(owner, "Idem");
    DepositResponse first = f.platform().deposit(deposit(team.getName(), 10 * DOLLAR, "pay_idem").build());
    DepositResponse again = f.platform().deposit(deposit(team.getName(), 10 * DOLLAR, "pay_idem").build());
    assertEquals(first.getTransfer(), again.getTransfer());
    assertEquals(10 * DOLLAR, again.getWallet().getBalanceNanos());
    assertFails(Status.Code.ALREADY_EXISTS, "IDEMPOTENCY_KEY_REUSED",
        () -> f.platform().deposit(deposit(team.getName(), 11 * DOLLAR, "pay_idem").build()));
    assertEquals(10 * DOLLAR, f.get(team.getWallet()).getBalanceNanos());
  }

  @Test
  void onlyThePlatformDepositsAdminsMayViewMembersMayNotAndStrangersSeeNothing() {
    TestUser owner = f.newUser("acl-owner");
    TestUser admin = f.newUser("acl-admin");
    TestUser member = f.newUser("acl-member");
    TestUser stranger = f.newUser("acl-stranger");
    Team team = f.newTeam(owner, "ACL");
    f.join(owner, team, admin, "roles/admin");
    f.join(owner, team, member, "roles/member");
    assertFails(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN",
        () -> f.as(admin).deposit(deposit(team.getName(), DOLLAR, "pay_admin").build()));
    assertFails(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN",
        () -> f.as(owner).deposit(deposit(team.getName(), 1_000_000 * DOLLAR, "pay_minted").build()));
    assertFails(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN", () -> f.as(owner).setPlan(SetPlanRequest
        .newBuilder().setWallet(team.getName()).setPlan("plans/pro").setSeats(100).build()));
    assertFails(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN", () -> f.as(owner).setAdmissionMode(
        SetAdmissionModeRequest.newBuilder().setWallet(team.getName()).setMode(AdmissionMode.ADMISSION_MODE_SOFT)
            .build()));
    assertEquals(0, f.get(team.getWallet()).getBalanceNanos());
    assertEquals(team.getWallet(), f.as(admin).getWallet(GetWalletRequest.newBuilder().setName(team.getName()).build())
        .getWallet().getName());
    assertFails(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN",
        () -> f.as(member).getWallet(GetWalletRequest.newBuilder().setName(team.getName()).build()));
    assertFails(Status.Code.NOT_FOUND, "NOT_FOUND",
        () -> f.as(stranger).getWallet(GetWalletRequest.newBuilder().setName(team.getWallet()).build()));
    assertFails(Status.Code.NOT_FOUND, "NOT_FOUND",
        () -> f.as(stranger).getWallet(GetWalletRequest.newBuilder().setName(owner.wallet()).build()));
  }

  @Test
  void withoutTheMovePolicyPersonalMoneyStaysWhenCreatingOrJoiningATeam() {
    TestUser owner = f.newUser("stay-owner");
    TestUser joiner = f.newUser("stay-joiner");
    f.deposit(owner.wallet(), 4 * DOLLAR, "pay_stay_1");
    f.deposit(joiner.wallet(), 2 * DOLLAR, "pay_stay_2");
    Team team = f.newTeam(owner, "Stay");
    f.join(owner, team, joiner, "roles/member");
    f.deposit(team.getWallet(), DOLLAR, "pay_stay_team");
    assertEquals(DOLLAR, f.get(team.getWallet()).getBalanceNanos());
    assertEquals(4 * DOLLAR, f.get(owner.wallet()).getBalanceNanos());
    assertEquals(2 * DOLLAR, f.get(joiner.wallet()).getBalanceNanos());
  }

  @Test
  void thePlatformDepositsToAPersonalWalletAndItsUserCannot() {
    TestUser u = f.newUser("personal");
    assertFails(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN",
        () -> f.as(u).deposit(deposit("users/me", 1_000 * DOLLAR, "pay_self").build()));
    Wallet w = f.platform().deposit(deposit(u.name(), 3 * DOLLAR, "pay_personal").build()).getWallet();
    assertEquals(u.wallet(), w.getName());
    assertEquals(u.name(), w.getOwner());
    assertEquals(3 * DOLLAR, f.as(u).getWallet(GetWalletRequest.newBuilder().setName("users/me").build())
        .getWallet().getBalanceNanos());
  }

  @Test
  void badDepositsAreRejectedWithTheFieldAndTheLedgerIsUnchanged() {
    TestUser owner = f.newUser("bad-owner");
    Team team = f.newTeam(owner, "Bad");
    f.platform().deposit(deposit(team.getName(), DOLLAR, "pay_ok").build());
    long transfers = f.transferCount(team.getWallet());
    var stub = f.platform();
    assertFails(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT",
        () -> stub.deposit(deposit(team.getName(), 0, "pay_zero").build()));
    assertFails(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT",
        () -> stub.deposit(deposit(team.getName(), -5, "pay_neg").build()));
    assertFails(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT",
        () -> stub.deposit(deposit(team.getName(), Long.MAX_VALUE, "pay_huge").build()));
    assertFails(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT",
        () -> stub.deposit(deposit(team.getName(), DOLLAR, "pay_eur").setCurrencyCode("EUR").build()));
    assertFails(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT",
        () -> stub.deposit(deposit(team.getName(), DOLLAR, "pay_lower").setCurrencyCode("usd").build()));
    assertFails(Status.Code.NOT_FOUND, "NOT_FOUND",
        () -> stub.deposit(deposit("teams/no-such-team", DOLLAR, "pay_ghost").build()));
    assertFails(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT",
        () -> stub.deposit(deposit("accounts/42", DOLLAR, "pay_shape").build()));
    assertEquals(transfers, f.transferCount(team.getWallet()));
    assertEquals(DOLLAR, f.get(team.getWallet()).getBalanceNanos());
  }

  @Test
  void internalAndOperatorCallsRefuseUsers() {
    TestUser owner = f.newUser("internal-owner");
    Team team = f.newTeam(owner, "Internal");
    var stub = f.as(owner);
    var internal = f.internalAs(owner.caller());
    assertFails(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN",
        () -> internal.listWalletStates(ListWalletStatesRequest.getDefaultInstance()));
    assertFails(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN",
        () -> stub.reconcile(ReconcileRequest.getDefaultInstance()));
    assertFails(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN",
        () -> internal.settle(SettleRequest.newBuilder().setHold(team.getWallet() + "/holds/h").build()));
    assertFails(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN",
        () -> internal.release(ReleaseRequest.newBuilder().setHold(team.getWallet() + "/holds/h").build()));
    // The platform sees every wallet's admission state, page by page.
    f.deposit(team.getWallet(), DOLLAR, "pay_internal");
    ListWalletStatesResponse page = f.internal().listWalletStates(ListWalletStatesRequest.newBuilder()
        .setPageSize(1000).build());
    WalletState state = page.getStatesList().stream().filter(x -> x.getWallet().equals(team.getWallet()))
        .findFirst().orElseThrow();
    assertEquals(DOLLAR, state.getAvailableNanos());
    assertEquals(WalletStatus.WALLET_STATUS_ACTIVE, state.getStatus());
  }

  @Test
  void statementFiltersByCodeAndPaginates() {
    TestUser owner = f.newUser("stmt-owner");
    Team team = f.newTeam(owner, "Statement");
    for (int i = 0; i < 5; i++) {
      f.deposit(team.getWallet(), DOLLAR, "pay_stmt_" + i);
    }
    f.usage("stmt-usage-1", team.getWallet(), owner.name(), "", DOLLAR / 2, f.clock.instant(), "");
    f.awaitBalance(team.getWallet(), 4 * DOLLAR + DOLLAR / 2);
    ListTransfersResponse usage = f.as(owner).listTransfers(ListTransfersRequest.newBuilder()
        .setWallet(team.getName()).addCodes(TransferCode.TRANSFER_CODE_USAGE).build());
    assertEquals(1, usage.getTransfersCount());
    assertEquals(DOLLAR / 2, usage.getTransfers(0).getAmountNanos());
    assertEquals("stmt-usage-1", usage.getTransfers(0).getUsageEventId());
    int seen = 0;
    String token = "";
    do {
      ListTransfersResponse page = f.as(owner).listTransfers(ListTransfersRequest.newBuilder()
          .setWallet(team.getName()).setPageSize(2).setPageToken(token).build());
      seen += page.getTransfersCount();
      token = page.getNextPageToken();
    } while (!token.isEmpty());
    assertEquals(6, seen);
  }

  @Test
  void sharedAccountsCannotOverflowAndAWalletHasABound() {
    // Twelve billion-dollar payments: the shared deposits account passes 2^63 nanos and stays exact.
    for (int i = 0; i < 12; i++) {
      TestUser u = f.newUser("whale" + i);
      f.platform().deposit(deposit(u.name(), MoneyBounds.MAX_REQUEST_NANOS, "pay_whale_" + i).build());
    }
    assertTrue(f.platform().reconcile(ReconcileRequest.getDefaultInstance()).getBalanced());
    // One wallet stops at its bound with a reason, the ledger unchanged.
    TestUser rich = f.newUser("rich");
    for (int i = 0; i < 4; i++) {
      f.platform().deposit(deposit(rich.name(), MoneyBounds.MAX_REQUEST_NANOS, "pay_rich_" + i).build());
    }
    assertFails(Status.Code.FAILED_PRECONDITION, "BALANCE_LIMIT_EXCEEDED",
        () -> f.platform().deposit(deposit(rich.name(), DOLLAR, "pay_rich_more").build()));
    assertEquals(MoneyBounds.MAX_WALLET_BALANCE_NANOS, f.get(rich.wallet()).getBalanceNanos());
    assertTrue(f.platform().reconcile(ReconcileRequest.getDefaultInstance()).getBalanced());
  }
}
