package dev.tally.wallet.grpc;

import static dev.tally.common.grpc.Unary.reply;
import static dev.tally.common.grpc.ProtoTime.duration;

import dev.tally.common.grpc.ProtoTime;

import dev.tally.common.auth.Caller;
import dev.tally.common.db.Database;
import dev.tally.common.error.ErrorMapper;
import dev.tally.common.ids.PageTokens;
import dev.tally.proto.wallet.v1.*;
import dev.tally.wallet.db.HoldDao;
import dev.tally.wallet.holds.HoldManager;
import dev.tally.wallet.holds.LeaseWrites;
import dev.tally.wallet.holds.ReserveBatcher;
import dev.tally.wallet.sessions.Sessions;
import dev.tally.wallet.wallets.WalletBook;
import dev.tally.wallet.wallets.WalletManager;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;

/**
 * The WalletInternalService edge: holds, sessions and wallet states for Tally's own services (the gateway's
 * admission), never exposed by the gateway.
 */
public final class WalletInternalGrpcService extends WalletInternalServiceGrpc.WalletInternalServiceImplBase {

  /**
   * The names idempotency records of these calls are stored under: those of before the split from
   * WalletService, so a retry across the upgrade still finds its first answer.
   */
  static final class Operations {
    static final String RESERVE = "tally.wallet.v1.WalletService/Reserve";
    static final String SETTLE = "tally.wallet.v1.WalletService/Settle";
    static final String EXTEND = "tally.wallet.v1.WalletService/Extend";
    static final String RELEASE = "tally.wallet.v1.WalletService/Release";
    static final String OPEN_SESSION = "tally.wallet.v1.WalletService/OpenSession";

    private Operations() {}
  }

  private final Database db;
  private final Sessions sessions;
  private final WalletManager wallets;
  private final HoldManager holds;
  private final ReserveBatcher batcher;
  private final WalletBook book;
  private final LeaseWrites leaseWrites;

  public WalletInternalGrpcService(Database db, WalletManager wallets, HoldManager holds, ReserveBatcher batcher,
      WalletBook book, Sessions sessions, LeaseWrites leaseWrites) {
    this.db = db;
    this.wallets = wallets;
    this.holds = holds;
    this.batcher = batcher;
    this.book = book;
    this.sessions = sessions;
    this.leaseWrites = leaseWrites;
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
    return new ReserveBatcher.Call<>(caller, Operations.RESERVE,
        req.getRequestId(), req, ReserveResponse.parser(),
        new HoldManager.Request(req.getWallet(), req.getAmountNanos(), req.getApiKey(), req.getMember(), ttl,
            req.getLease(), req.getLease() ? Math.max(1, req.getLeaseMinNanos()) : 0),
        r -> {
          ReserveResponse.Builder b = ReserveResponse.newBuilder().setHold(WalletProtos.hold(r.hold()))
              .setAvailableNanos(r.available());
          if (req.getLease()) {
            b.setDiscountBps(r.discountBps()).setHoldTtl(duration(book.policy().holdTtl()));
          }
          return b.build();
        },
        new java.util.concurrent.CompletableFuture<>());
  }

  @Override
  public void settle(SettleRequest req, StreamObserver<SettleResponse> out) {
    Caller caller = Caller.current();
    WalletManager.requirePlatform(caller, "Settle is internal to admission");
    String eventId = req.getRequestId().isEmpty() ? "settle-" + WalletProtos.holdId(req.getHold())
        : req.getRequestId();
    reply(out, () -> db.mutate(caller, Operations.SETTLE,
        req.getRequestId(), req, SettleResponse.parser(), tx -> SettleResponse.newBuilder()
            .setHold(WalletProtos.hold(holds.settle(tx, WalletProtos.walletOfHold(req.getHold()),
                WalletProtos.holdId(req.getHold()), req.getActualNanos(), eventId))).build()));
  }

  @Override
  public void writeSubHolds(WriteSubHoldsRequest req, StreamObserver<WriteSubHoldsResponse> out) {
    Caller caller = Caller.current();
    WalletManager.requirePlatform(caller, "WriteSubHolds is internal to admission");
    reply(out, () -> {
      List<LeaseWrites.SubHold> items = new ArrayList<>(req.getSubHoldsCount());
      for (SubHold h : req.getSubHoldsList()) {
        String lease = leaseName(h.getLease(), "sub_holds.lease");
        items.add(new LeaseWrites.SubHold(WalletProtos.walletOfHold(lease), WalletProtos.holdId(lease), h.getId(),
            h.getAmountNanos(), ProtoTime.odt(h.getExpireTime(), true)));
      }
      List<LeaseWrites.Close> closes = new ArrayList<>(req.getCloseLeasesCount());
      for (String lease : req.getCloseLeasesList()) {
        leaseName(lease, "close_leases");
        closes.add(new LeaseWrites.Close(WalletProtos.walletOfHold(lease), WalletProtos.holdId(lease)));
      }
      List<HoldDao.LeaseExtension> extensions = new ArrayList<>(req.getExtendLeasesCount());
      for (LeaseExtension e : req.getExtendLeasesList()) {
        String lease = leaseName(e.getLease(), "extend_leases.lease");
        extensions.add(new HoldDao.LeaseExtension(WalletProtos.holdId(lease), WalletProtos.walletOfHold(lease),
            ProtoTime.duration(e.getTtl())));
      }
      LeaseWrites.Result done = leaseWrites.writeAll(db, items, extensions, closes);
      done.afterCommit().run();
      WriteSubHoldsResponse.Builder answer = WriteSubHoldsResponse.newBuilder().setWritten(done.written());
      for (LeaseExtension e : req.getExtendLeasesList()) {
        OffsetDateTime until = done.extended().get(WalletProtos.holdId(e.getLease()));
        if (until != null) {
          answer.addExtendedLeases(LeaseExtended.newBuilder().setLease(e.getLease())
              .setTimeLeft(duration(Duration.between(book.nowOdt(), until))));
        }
      }
      return answer.build();
    });
  }

  /** A lease's hold name, checked here rather than by a pattern on every item of a large call. */
  private static String leaseName(String name, String field) {
    int cut = name.indexOf("/holds/");
    if (!name.startsWith("wallets/") || cut < 0 || cut + "/holds/".length() == name.length()) {
      throw dev.tally.common.error.TallyException.invalidArgument(field, "must look like wallets/{wallet}/holds/{lease}");
    }
    return name;
  }

  @Override
  public void extend(ExtendRequest req, StreamObserver<ExtendResponse> out) {
    Caller caller = Caller.current();
    WalletManager.requirePlatform(caller, "Extend is internal to admission");
    reply(out, () -> db.mutate(caller, Operations.EXTEND, req.getRequestId(),
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
    reply(out, () -> db.mutate(caller, Operations.RELEASE,
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
  public void openSession(OpenSessionRequest req, StreamObserver<OpenSessionResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.mutate(caller, Operations.OPEN_SESSION,
        req.getRequestId(), req, OpenSessionResponse.parser(), tx -> OpenSessionResponse.newBuilder()
            .setSession(WalletProtos.session(sessions.open(tx, caller, req), -1)).build()));
  }

  @Override
  public void closeSession(CloseSessionRequest req, StreamObserver<CloseSessionResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.transaction(tx -> CloseSessionResponse.newBuilder()
        .setSession(WalletProtos.session(sessions.close(tx.dsl(), caller, req.getSession()), -1)).build()));
  }
}
