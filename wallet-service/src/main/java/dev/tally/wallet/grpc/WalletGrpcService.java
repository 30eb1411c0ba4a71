package dev.tally.wallet.grpc;

import static dev.tally.common.grpc.Unary.reply;
import static dev.tally.common.grpc.ProtoTime.odt;

import dev.tally.common.auth.Caller;
import dev.tally.common.db.Database;
import dev.tally.common.kafka.ParkedEventsApi;
import dev.tally.proto.wallet.v1.*;
import dev.tally.wallet.sessions.SessionMeter;
import dev.tally.wallet.sessions.Sessions;
import dev.tally.wallet.limits.EffectiveLimits;
import dev.tally.wallet.limits.LimitRequests;
import dev.tally.wallet.ledger.Ledger;
import dev.tally.wallet.wallets.WalletBook;
import dev.tally.wallet.wallets.WalletManager;
import io.grpc.stub.StreamObserver;
import java.util.List;

/**
 * The WalletService edge: verified caller in, one transaction per call (idempotent on request_id for
 * mutations), managers do the work, protobuf out.
 */
public final class WalletGrpcService extends WalletServiceGrpc.WalletServiceImplBase {
  /** The consumer group whose parked records are usage owed to wallets. */
  public static final String USAGE_CONSUMER = "wallet-usage";
  private final Database db;
  private final Sessions sessions;
  private final SessionMeter sessionMeter;
  private final dev.tally.wallet.access.BillingAccess access;
  private final WalletManager wallets;
  private final WalletBook book;
  private final Ledger ledger;
  private final ParkedEventsApi parked;

  private final EffectiveLimits limits;
  private final LimitRequests limitRequests;

  public WalletGrpcService(Database db, WalletManager wallets, WalletBook book, Ledger ledger, ParkedEventsApi parked, EffectiveLimits limits, LimitRequests limitRequests,
      Sessions sessions, SessionMeter sessionMeter, dev.tally.wallet.access.BillingAccess access) {
    this.sessions = sessions;
    this.sessionMeter = sessionMeter;
    this.access = access;
    this.parked = parked;
    this.limits = limits;
    this.limitRequests = limitRequests;
    this.db = db;
    this.wallets = wallets;
    this.book = book;
    this.ledger = ledger;
  }

  @Override
  public void getWallet(GetWalletRequest req, StreamObserver<GetWalletResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.transaction(tx -> {
      Wallet w = WalletProtos.wallet(wallets.get(tx.dsl(), caller, req.getName()));
      long[] owed = ParkedEventsApi.parkedUsage(db, USAGE_CONSUMER, w.getName());
      return GetWalletResponse.newBuilder().setWallet(w.toBuilder().setParkedUsageEvents((int) owed[0])
          .setParkedUsageNanos(owed[1])).build();
    }));
  }

  @Override
  public void deposit(DepositRequest req, StreamObserver<DepositResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.mutate(caller, WalletServiceGrpc.getDepositMethod().getFullMethodName(), req.getRequestId(),
        req, DepositResponse.parser(), tx -> {
          var d = wallets.deposit(tx, caller, req.getWallet(), req.getAmountNanos(), req.getCurrencyCode(),
              req.getExternalReference(), req.getDescription());
          return DepositResponse.newBuilder().setTransfer(WalletProtos.transfer(d.transfer()))
              .setWallet(WalletProtos.wallet(d.wallet())).build();
        }));
  }

  @Override
  public void getEffectiveLimits(GetEffectiveLimitsRequest req, StreamObserver<GetEffectiveLimitsResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.transaction(tx -> WalletProtos.effectiveLimits(limits.of(tx.dsl(), caller, req.getWallet(),
        req.getSubject()))));
  }

  @Override
  public void requestLimitIncrease(RequestLimitIncreaseRequest req,
      StreamObserver<RequestLimitIncreaseResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.mutate(caller, WalletServiceGrpc.getRequestLimitIncreaseMethod().getFullMethodName(),
        req.getRequestId(), req, RequestLimitIncreaseResponse.parser(), tx -> RequestLimitIncreaseResponse
            .newBuilder().setRequest(WalletProtos.limitRequest(limitRequests.create(tx, caller, req.getWallet(),
                req.getSubject(), WalletProtos.period(req.getPeriod()), req.getLimitNanos(), req.getReason())))
            .build()));
  }

  @Override
  public void listLimitRequests(ListLimitRequestsRequest req, StreamObserver<ListLimitRequestsResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.transaction(tx -> {
      var page = limitRequests.list(tx.dsl(), caller, req.getWallet(), req.getState()
          == LimitRequestState.LIMIT_REQUEST_STATE_UNSPECIFIED ? "" : req.getState().name()
          .substring("LIMIT_REQUEST_STATE_".length()).toLowerCase(java.util.Locale.ROOT), req.getPageToken(),
          req.getPageSize());
      return ListLimitRequestsResponse.newBuilder().addAllRequests(page.requests().stream()
          .map(WalletProtos::limitRequest).toList()).setNextPageToken(page.nextPageToken()).build();
    }));
  }

  @Override
  public void approveLimitRequest(ApproveLimitRequestRequest req, StreamObserver<ApproveLimitRequestResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.mutate(caller, WalletServiceGrpc.getApproveLimitRequestMethod().getFullMethodName(),
        req.getRequestId(), req, ApproveLimitRequestResponse.parser(), tx -> ApproveLimitRequestResponse.newBuilder()
            .setRequest(WalletProtos.limitRequest(limitRequests.decide(tx, caller, req.getName(), true,
                req.getNote()))).build()));
  }

  @Override
  public void denyLimitRequest(DenyLimitRequestRequest req, StreamObserver<DenyLimitRequestResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.mutate(caller, WalletServiceGrpc.getDenyLimitRequestMethod().getFullMethodName(),
        req.getRequestId(), req, DenyLimitRequestResponse.parser(), tx -> DenyLimitRequestResponse.newBuilder()
            .setRequest(WalletProtos.limitRequest(limitRequests.decide(tx, caller, req.getName(), false,
                req.getNote()))).build()));
  }

  @Override
  public void listTransfers(ListTransfersRequest req, StreamObserver<ListTransfersResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.transaction(tx -> {
      var page = wallets.statement(tx.dsl(), caller, req.getWallet(),
          req.getCodesList().stream().map(WalletProtos::code).toList(),
          odt(req.getStartTime(), req.hasStartTime()), odt(req.getEndTime(), req.hasEndTime()), req.getMember(),
          req.getApiKey(), req.getPageToken(), req.getPageSize());
      long[] owed = ParkedEventsApi.parkedUsage(db, USAGE_CONSUMER, page.wallet());
      var b = ListTransfersResponse.newBuilder().setNextPageToken(page.nextPageToken())
          .setParkedUsageEvents((int) owed[0]).setParkedUsageNanos(owed[1]);
      page.transfers().forEach(t -> b.addTransfers(WalletProtos.transfer(t)));
      return b.build();
    }));
  }

  @Override
  public void setSpendingLimit(SetSpendingLimitRequest req, StreamObserver<SetSpendingLimitResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.mutate(caller, WalletServiceGrpc.getSetSpendingLimitMethod().getFullMethodName(),
        req.getRequestId(), req, SetSpendingLimitResponse.parser(), tx -> SetSpendingLimitResponse.newBuilder()
            .setWallet(WalletProtos.wallet(wallets.setSpendingLimit(tx, caller, req.getWallet(),
                WalletProtos.period(req.getPeriod()), req.getLimitNanos(), req.getClear(),
                req.getAlertPercentsList()))).build()));
  }

  @Override
  public void setQuota(SetQuotaRequest req, StreamObserver<SetQuotaResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.mutate(caller, WalletServiceGrpc.getSetQuotaMethod().getFullMethodName(),
        req.getRequestId(), req, SetQuotaResponse.parser(), tx -> SetQuotaResponse.newBuilder()
            .setWallet(WalletProtos.wallet(wallets.setQuota(tx, caller, req.getWallet(), req.getSubject(),
                WalletProtos.period(req.getPeriod()), req.getLimitNanos(), req.getClear(),
                req.getAlertPercentsList()))).build()));
  }

  @Override
  public void setBillingPeriod(SetBillingPeriodRequest req, StreamObserver<SetBillingPeriodResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.mutate(caller, WalletServiceGrpc.getSetBillingPeriodMethod().getFullMethodName(),
        req.getRequestId(), req, SetBillingPeriodResponse.parser(), tx -> SetBillingPeriodResponse.newBuilder()
            .setWallet(WalletProtos.wallet(wallets.setBillingPeriod(tx, caller, req.getWallet(), req.getBillingDay(),
                req.getTimeZone()))).build()));
  }

  @Override
  public void setDiscount(SetDiscountRequest req, StreamObserver<SetDiscountResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.mutate(caller, WalletServiceGrpc.getSetDiscountMethod().getFullMethodName(),
        req.getRequestId(), req, SetDiscountResponse.parser(), tx -> SetDiscountResponse.newBuilder()
            .setWallet(WalletProtos.wallet(wallets.setDiscount(tx, caller, req.getWallet(),
                req.getDiscountBasisPoints()))).build()));
  }

  @Override
  public void setAutoRefill(SetAutoRefillRequest req, StreamObserver<SetAutoRefillResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.mutate(caller, WalletServiceGrpc.getSetAutoRefillMethod().getFullMethodName(),
        req.getRequestId(), req, SetAutoRefillResponse.parser(), tx -> SetAutoRefillResponse.newBuilder()
            .setWallet(WalletProtos.wallet(wallets.setAutoRefill(tx, caller, req.getWallet(), req.getEnabled(),
                req.getThresholdNanos(), req.getAmountNanos(), req.getTargetBalanceNanos(), req.getMonthlyCapNanos(),
                req.getMaxFailedAttempts()))).build()));
  }

  @Override
  public void reportRefillFailed(ReportRefillFailedRequest req, StreamObserver<ReportRefillFailedResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.mutate(caller, WalletServiceGrpc.getReportRefillFailedMethod().getFullMethodName(),
        req.getRequestId(), req, ReportRefillFailedResponse.parser(), tx -> ReportRefillFailedResponse.newBuilder()
            .setWallet(WalletProtos.wallet(wallets.refillFailed(tx, caller, req.getWallet(), req.getRefillId())))
            .build()));
  }

  @Override
  public void setAdmissionMode(SetAdmissionModeRequest req, StreamObserver<SetAdmissionModeResponse> out) {
    Caller caller = Caller.current();
    String mode = req.getMode() == AdmissionMode.ADMISSION_MODE_SOFT ? "soft" : "hard";
    reply(out, () -> db.mutate(caller, WalletServiceGrpc.getSetAdmissionModeMethod().getFullMethodName(),
        req.getRequestId(), req, SetAdmissionModeResponse.parser(), tx -> SetAdmissionModeResponse.newBuilder()
            .setWallet(WalletProtos.wallet(wallets.setAdmissionMode(tx, caller, req.getWallet(), mode))).build()));
  }

  @Override
  public void setPlan(SetPlanRequest req, StreamObserver<SetPlanResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.mutate(caller, WalletServiceGrpc.getSetPlanMethod().getFullMethodName(),
        req.getRequestId(), req, SetPlanResponse.parser(), tx -> SetPlanResponse.newBuilder()
            .setWallet(WalletProtos.wallet(wallets.setPlan(tx, caller, req.getWallet(), req.getPlan(),
                req.getSeats()))).build()));
  }

  @Override
  public void listPlans(ListPlansRequest req, StreamObserver<ListPlansResponse> out) {
    reply(out, () -> {
      var b = ListPlansResponse.newBuilder();
      wallets.plans().forEach(p -> b.addPlans(WalletProtos.plan(p, book.policy().currency())));
      return b.build();
    });
  }

  @Override
  public void grantCredits(GrantCreditsRequest req, StreamObserver<GrantCreditsResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.mutate(caller, WalletServiceGrpc.getGrantCreditsMethod().getFullMethodName(),
        req.getRequestId(), req, GrantCreditsResponse.parser(), tx -> GrantCreditsResponse.newBuilder()
            .setWallet(WalletProtos.wallet(wallets.grantCredits(tx, caller, req.getWallet(), req.getAmountNanos(),
                req.getPriority(), odt(req.getExpireTime(), req.hasExpireTime()), req.getDescription()))).build()));
  }

  @Override
  public void reconcile(ReconcileRequest req, StreamObserver<ReconcileResponse> out) {
    Caller caller = Caller.current();
    WalletManager.requirePlatform(caller, "Reconcile is for operators");
    reply(out, () -> db.transaction(tx -> {
      var r = ledger.reconcile(tx.dsl());
      long[] owed = ParkedEventsApi.parkedUsage(db, USAGE_CONSUMER);
      return ReconcileResponse.newBuilder().setBalanced(r.balanced()).setAccountsChecked(r.accounts())
          .setTransfersChecked(r.transfers()).addAllMismatchedAccounts(r.mismatched())
          .setParkedUsageEvents(owed[0]).setParkedUsageNanos(owed[1]).build();
    }));
  }

  @Override
  public void listParkedEvents(ListParkedEventsRequest req, StreamObserver<ListParkedEventsResponse> out) {
    reply(out, () -> {
      var page = parked.list(Caller.current(), req.getFilter(), req.getPageSize(), req.getPageToken());
      return ListParkedEventsResponse.newBuilder().addAllParkedEvents(page.events())
          .setNextPageToken(page.nextPageToken()).build();
    });
  }

  @Override
  public void replayParkedEvents(ReplayParkedEventsRequest req, StreamObserver<ReplayParkedEventsResponse> out) {
    reply(out, () -> ReplayParkedEventsResponse.newBuilder()
        .addAllResults(parked.replay(Caller.current(), req.getIdsList())).build());
  }

  @Override
  public void listSessions(ListSessionsRequest req, StreamObserver<ListSessionsResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.transaction(tx -> {
      String wallet = access.resolve(caller, req.getWallet());
      access.requireView(caller, wallet);
      var b = ListSessionsResponse.newBuilder();
      long runway = sessionMeter.runwayOf(tx.dsl(), wallet);
      sessions.list(tx.dsl(), wallet).forEach(s -> b.addSessions(WalletProtos.session(s, runway)));
      return b.build();
    }));
  }
}
