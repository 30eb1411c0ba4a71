package dev.tally.wallet.grpc;

import static dev.tally.common.grpc.ProtoTime.duration;
import static dev.tally.common.grpc.ProtoTime.odt;

import dev.tally.common.auth.Caller;
import dev.tally.common.db.Database;
import dev.tally.common.error.ErrorMapper;
import dev.tally.common.ids.PageTokens;
import dev.tally.common.kafka.ParkedEventsApi;
import dev.tally.proto.wallet.v1.*;
import dev.tally.wallet.holds.HoldManager;
import dev.tally.wallet.sessions.SessionMeter;
import dev.tally.wallet.sessions.Sessions;
import dev.tally.wallet.limits.EffectiveLimits;
import dev.tally.wallet.limits.LimitRequests;
import dev.tally.wallet.holds.ReserveBatcher;
import dev.tally.wallet.ledger.Ledger;
import dev.tally.wallet.wallets.WalletBook;
import dev.tally.wallet.wallets.WalletManager;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

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
  private final HoldManager holds;
  private final ReserveBatcher batcher;
  private final WalletBook book;
  private final Ledger ledger;
  private final ParkedEventsApi parked;

  private final EffectiveLimits limits;
  private final LimitRequests limitRequests;

  public WalletGrpcService(Database db, WalletManager wallets, HoldManager holds, ReserveBatcher batcher,
      WalletBook book, Ledger ledger, ParkedEventsApi parked, EffectiveLimits limits, LimitRequests limitRequests,
      Sessions sessions, SessionMeter sessionMeter, dev.tally.wallet.access.BillingAccess access) {
    this.sessions = sessions;
    this.sessionMeter = sessionMeter;
    this.access = access;
    this.parked = parked;
    this.limits = limits;
    this.limitRequests = limitRequests;
    this.db = db;
    this.wallets = wallets;
    this.holds = holds;
    this.batcher = batcher;
    this.book = book;
    this.ledger = ledger;
  }

  private static <T> void reply(StreamObserver<T> out, Supplier<T> body) {
    out.onNext(body.get());
    out.onCompleted();
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
  public void reserve(ReserveRequest req, StreamObserver<ReserveResponse> out) {
    Caller caller = Caller.current();
    WalletManager.requirePlatform(caller, "Reserve is internal to admission");
    reply(out, () -> batcher.reserve(reserveCall(caller, req)));
  }

  @Override
  public void reserveBatch(ReserveBatchRequest req, StreamObserver<ReserveBatchResponse> out) {
    Caller caller = Caller.current();
    WalletManager.requirePlatform(caller, "ReserveBatch is internal to admission");
    List<ReserveBatcher.Call<ReserveResponse>> calls = new ArrayList<>(req.getItemsCount());
    List<Duration> timeLeft = new ArrayList<>(req.getItemsCount());
    for (ReserveBatchItem item : req.getItemsList()) {
      calls.add(reserveCall(caller, item.getReserve()));
      timeLeft.add(item.hasTimeLeft() ? duration(item.getTimeLeft()) : null);
    }
    batcher.reserveAll(calls, timeLeft);
    ReserveBatchResponse.Builder answer = ReserveBatchResponse.newBuilder();
    for (ReserveBatcher.Call<ReserveResponse> c : calls) {
      ReserveBatchResult.Builder result = ReserveBatchResult.newBuilder();
      try {
        result.setReserved(c.result().join());
      } catch (java.util.concurrent.CompletionException e) {
        result.setError(io.grpc.protobuf.StatusProto.fromThrowable(ErrorMapper.toStatusRuntimeException(e.getCause())));
      }
      answer.addResults(result);
    }
    out.onNext(answer.build());
    out.onCompleted();
  }

  /** One reservation as the batcher takes it; a batch item is idempotent on its request id like a Reserve. */
  private ReserveBatcher.Call<ReserveResponse> reserveCall(Caller caller, ReserveRequest req) {
    Duration ttl = req.hasTtl() ? duration(req.getTtl()) : book.policy().holdTtl();
    return new ReserveBatcher.Call<>(caller, WalletServiceGrpc.getReserveMethod().getFullMethodName(),
        req.getRequestId(), req, ReserveResponse.parser(),
        new HoldManager.Request(req.getWallet(), req.getAmountNanos(), req.getApiKey(), req.getMember(), ttl),
        r -> ReserveResponse.newBuilder().setHold(WalletProtos.hold(r.hold())).setAvailableNanos(r.available())
            .build(),
        new java.util.concurrent.CompletableFuture<>());
  }

  @Override
  public void settle(SettleRequest req, StreamObserver<SettleResponse> out) {
    Caller caller = Caller.current();
    WalletManager.requirePlatform(caller, "Settle is internal to admission");
    String eventId = req.getRequestId().isEmpty() ? "settle-" + WalletProtos.holdId(req.getHold())
        : req.getRequestId();
    reply(out, () -> db.mutate(caller, WalletServiceGrpc.getSettleMethod().getFullMethodName(),
        req.getRequestId(), req, SettleResponse.parser(), tx -> SettleResponse.newBuilder()
            .setHold(WalletProtos.hold(holds.settle(tx, WalletProtos.walletOfHold(req.getHold()),
                WalletProtos.holdId(req.getHold()), req.getActualNanos(), eventId))).build()));
  }

  @Override
  public void extend(ExtendRequest req, StreamObserver<ExtendResponse> out) {
    Caller caller = Caller.current();
    WalletManager.requirePlatform(caller, "Extend is internal to admission");
    reply(out, () -> db.mutate(caller, WalletServiceGrpc.getExtendMethod().getFullMethodName(), req.getRequestId(),
        req, ExtendResponse.parser(), tx -> {
          var r = holds.extend(tx, WalletProtos.walletOfHold(req.getHold()), WalletProtos.holdId(req.getHold()),
              req.getAmountNanos());
          return ExtendResponse.newBuilder().setHold(WalletProtos.hold(r.hold())).setAvailableNanos(r.available())
              .build();
        }));
  }

  @Override
  public void release(ReleaseRequest req, StreamObserver<ReleaseResponse> out) {
    Caller caller = Caller.current();
    WalletManager.requirePlatform(caller, "Release is internal to admission");
    reply(out, () -> db.mutate(caller, WalletServiceGrpc.getReleaseMethod().getFullMethodName(),
        req.getRequestId(), req, ReleaseResponse.parser(), tx -> ReleaseResponse.newBuilder()
            .setHold(WalletProtos.hold(holds.release(tx, WalletProtos.walletOfHold(req.getHold()),
                WalletProtos.holdId(req.getHold())))).build()));
  }

  @Override
  public void listWalletStates(ListWalletStatesRequest req, StreamObserver<ListWalletStatesResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.transaction(tx -> {
      int size = req.getPageSize() <= 0 ? 500 : req.getPageSize();
      var rows = wallets.statesPage(tx.dsl(), caller, PageTokens.decode("states", req.getPageToken()), size + 1);
      var b = ListWalletStatesResponse.newBuilder();
      List<dev.tally.wallet.db.jooq.tables.records.WalletsRecord> page = rows.size() > size ? rows.subList(0, size) : rows;
      page.forEach(w -> b.addStates(WalletProtos.state(book.snapshot(tx.dsl(), w))));
      if (rows.size() > size) {
        b.setNextPageToken(PageTokens.encode("states", page.getLast().getName()));
      }
      return b.build();
    }));
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
  public void openSession(OpenSessionRequest req, StreamObserver<OpenSessionResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.mutate(caller, WalletServiceGrpc.getOpenSessionMethod().getFullMethodName(),
        req.getRequestId(), req, OpenSessionResponse.parser(), tx -> OpenSessionResponse.newBuilder()
            .setSession(WalletProtos.session(sessions.open(tx, caller, req), -1)).build()));
  }

  @Override
  public void closeSession(CloseSessionRequest req, StreamObserver<CloseSessionResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.transaction(tx -> CloseSessionResponse.newBuilder()
        .setSession(WalletProtos.session(sessions.close(tx.dsl(), caller, req.getSession()), -1)).build()));
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
