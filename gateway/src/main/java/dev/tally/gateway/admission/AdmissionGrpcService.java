package dev.tally.gateway.admission;

import dev.tally.common.admission.AdmissionRules;
import dev.tally.common.admission.KeyScope;
import dev.tally.common.admission.SubHoldIds;
import dev.tally.common.auth.Caller;
import dev.tally.common.money.Pricing;
import dev.tally.common.auth.CallerSigner;
import dev.tally.common.error.Reasons;
import dev.tally.common.error.TallyException;
import dev.tally.common.error.ErrorMapper;
import dev.tally.common.grpc.GrpcServer;
import dev.tally.gateway.auth.KeyGate;
import dev.tally.proto.admission.v1.AdmissionServiceGrpc;
import dev.tally.proto.admission.v1.AdmitRequest;
import dev.tally.proto.admission.v1.AdmitResponse;
import dev.tally.proto.admission.v1.ExtendHoldRequest;
import dev.tally.proto.admission.v1.ExtendHoldResponse;
import dev.tally.proto.admission.v1.ReleaseHoldRequest;
import dev.tally.proto.admission.v1.ReleaseHoldResponse;
import dev.tally.proto.admission.v1.EndSessionRequest;
import dev.tally.proto.admission.v1.EndSessionResponse;
import dev.tally.proto.admission.v1.StartSessionRequest;
import dev.tally.proto.admission.v1.StartSessionResponse;
import dev.tally.proto.wallet.v1.CloseSessionRequest;
import dev.tally.proto.wallet.v1.OpenSessionRequest;
import dev.tally.proto.identity.v1.Permission;
import dev.tally.proto.identity.v1.VerifyApiKeyResponse;
import dev.tally.proto.wallet.v1.ExtendRequest;
import dev.tally.proto.wallet.v1.ExtendResponse;
import dev.tally.proto.wallet.v1.ReserveRequest;
import dev.tally.proto.wallet.v1.ReserveResponse;
import dev.tally.proto.wallet.v1.WalletInternalServiceGrpc;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.tally.common.grpc.ProtoTime;
import io.grpc.Channel;
import java.time.Duration;
import io.grpc.stub.StreamObserver;
import java.time.Instant;

/**
 * Admit: may this key spend now? The key comes from the verification cache; in soft mode the decision is
 * made on the cached wallet state alone; in hard mode (the default) the estimate is reserved as a hold by the
 * wallet, which decides authoritatively: the Admits waiting at a moment go to it as one batch
 * ({@link ReserveDispatcher}), decided in one transaction.
 */
public final class AdmissionGrpcService extends AdmissionServiceGrpc.AdmissionServiceImplBase
    implements AutoCloseable {
  private final KeyGate gate;
  private final WalletStates states;
  private final PriceCache prices;
  private final WalletInternalServiceGrpc.WalletInternalServiceBlockingStub wallet;
  private final ReserveDispatcher reservations;
  /** Null when leases are off ({@code TALLY_ADMISSION_LEASE_TTL=0}). */
  private final LeaseBook leases;
  /** Admissions from leases by (key, request id): a retried Admit answers like the first. */
  private final Cache<String, LeaseBook.Admitted> byRequestId = Caffeine.newBuilder().maximumSize(200_000)
      .expireAfterWrite(Duration.ofMinutes(10)).build();

  /** {@code leaseTtl} zero: every hard-mode Admit is reserved on its own. */
  public AdmissionGrpcService(KeyGate gate, WalletStates states, PriceCache prices,
      Channel walletChannel, CallerSigner signer, Duration leaseTtl) {
    this.gate = gate;
    this.states = states;
    this.prices = prices;
    this.wallet = WalletInternalServiceGrpc.newBlockingStub(walletChannel).withCallCredentials(signer.credentials(Caller.PLATFORM));
    this.reservations = new ReserveDispatcher(WalletInternalServiceGrpc.newStub(walletChannel)
        .withCallCredentials(signer.credentials(Caller.PLATFORM)));
    this.leases = leaseTtl.isZero() ? null : new LeaseBook(reservations, new SubHoldWriter(wallet), leaseTtl);
    if (leases != null) {
      states.onPolicyChange(leases::policyChanged);
    }
  }

  /** A change of the wallet's rules was made (see {@link RuleChanges}): its leases here are given back. */
  public void walletRulesChanged(String wallet) {
    if (leases != null) {
      leases.policyChanged(wallet);
    }
  }

  /** Gives back this gateway's leases and writes what it admitted from them. */
  @Override
  public void close() {
    if (leases != null) {
      leases.close();
    }
  }

  /**
   * On the transport thread when the platform calls ({@code GrpcServer.onTransportThread}): what needs no
   * waiting — a cached key, soft mode, a lease with room — is answered right there, like a bare gRPC server;
   * anything that may wait (verifying a key, asking for a lease, reserving alone) moves to a call thread.
   */
  @Override
  public void admit(AdmitRequest req, StreamObserver<AdmitResponse> out) {
    requirePlatform();
    var known = gate.known(req.getApiKeySecret());
    if (known.isPresent() && admitNow(req, known.get(), out)) {
      return;
    }
    if (Thread.currentThread().isVirtual()) {
      admitWaiting(req, out);
      return;
    }
    GrpcServer.callThreads().execute(io.grpc.Context.current().wrap(() -> {
      try {
        admitWaiting(req, out);
      } catch (RuntimeException e) {
        out.onError(ErrorMapper.toStatusRuntimeException(e));
      }
    }));
  }

  /** What one Admit asks for, once the key is known: the answer so far and the hold to take. */
  private record Ask(AdmitResponse.Builder allow, ReserveRequest.Builder reserve, java.util.Optional<WalletStates.State> state,
      String member) {}

  /** Answers {@code req} if that needs no waiting; false otherwise (nothing was taken). */
  private boolean admitNow(AdmitRequest req, VerifyApiKeyResponse key, StreamObserver<AdmitResponse> out) {
    if (!req.hasEstimatedCostNanos() && !prices.loaded()) {
      return false;
    }
    Ask ask = ask(req, key);
    if (answeredWithoutHold(ask, out)) {
      return true;
    }
    if (leases == null) {
      return false;
    }
    LeaseBook.Admitted a = req.getRequestId().isEmpty() ? leases.tryAdmit(ask.reserve().build())
        : byRequestId.getIfPresent(requestKey(ask, req));
    if (a == null) {
      return false;
    }
    answer(req, ask, a, out);
    return true;
  }

  /** Admit on a call thread: may wait for the key's verification, a lease, or the wallet. */
  private void admitWaiting(AdmitRequest req, StreamObserver<AdmitResponse> out) {
    // Secrets reach Admit from the platform's own customers: guessing through it is slowed like at the door.
    Ask ask = ask(req, gate.verify(req.getApiKeySecret(), "admit"));
    if (answeredWithoutHold(ask, out)) {
      return;
    }
    if (leases != null) {
      LeaseBook.Admitted a = req.getRequestId().isEmpty() ? leases.admit(ask.reserve().build())
          : byRequestId.get(requestKey(ask, req), k -> leases.admit(ask.reserve().build()));
      if (a != null) {
        answer(req, ask, a, out);
        return;
      }
    }
    ReserveRequest.Builder reserve = ask.reserve();
    if (!req.getRequestId().isEmpty()) {
      reserve.setRequestId(req.getRequestId());
    }
    ReserveResponse held = reservations.reserve(reserve.build());
    out.onNext(ask.allow().setHold(held.getHold().getName()).setHoldExpireTime(held.getHold().getExpireTime())
        .setEstimatedCostNanos(held.getHold().getAmountNanos()) // net of the team's discount
        .setAvailableNanos(held.getAvailableNanos()).build());
    out.onCompleted();
  }

  /** The key's right to spend on this meter and model, and the estimate; throws the refusal. */
  private Ask ask(AdmitRequest req, VerifyApiKeyResponse key) {
    boolean teamKey = !key.getPrincipal().getTeam().isEmpty();
    if (teamKey && !key.getPermissionsList().contains(Permission.PERMISSION_KEYS_USE)) {
      throw TallyException.permissionDenied(Reasons.ROLE_FORBIDDEN, "the key's owner may not use team keys");
    }
    scopeOf(key).check(req.getMeter(), req.getModel());
    long cost = req.hasEstimatedCostNanos() ? req.getEstimatedCostNanos()
        : prices.cost(req.getMeter(), req.getModel(), req.getEstimatedQuantity());
    String billing = key.getBillingAccount();
    String apiKey = key.getApiKey().getName();
    String member = memberSubject(key);
    AdmitResponse.Builder allow = AdmitResponse.newBuilder().setApiKey(apiKey).setUser(key.getPrincipal().getUser())
        .setTeam(key.getPrincipal().getTeam()).setBillingAccount(billing).setEstimatedCostNanos(cost);
    ReserveRequest.Builder reserve = ReserveRequest.newBuilder().setWallet(billing).setAmountNanos(cost)
        .setApiKey(apiKey).setMember(member);
    return new Ask(allow, reserve, states.get(billing), member);
  }

  /** Soft mode (decided on the cached state) and free calls need no hold: answered here. */
  private static boolean answeredWithoutHold(Ask ask, StreamObserver<AdmitResponse> out) {
    var state = ask.state();
    long cost = ask.reserve().getAmountNanos();
    if (state.isPresent() && state.get().soft()) {
      long net = Pricing.net(cost, state.get().discountBasisPoints());
      checkCached(state.get(), net, ask.member(), ask.reserve().getApiKey());
      out.onNext(ask.allow().setEstimatedCostNanos(net).setAvailableNanos(state.get().available() - net).build());
      out.onCompleted();
      return true;
    }
    if (cost == 0) {
      out.onNext(ask.allow().setAvailableNanos(state.map(WalletStates.State::available).orElse(0L)).build());
      out.onCompleted();
      return true;
    }
    return false;
  }

  private static String requestKey(Ask ask, AdmitRequest req) {
    return ask.reserve().getApiKey() + "|" + req.getRequestId();
  }

  private void answer(AdmitRequest req, Ask ask, LeaseBook.Admitted a, StreamObserver<AdmitResponse> out) {
    if (req.getRequestId().isEmpty() && io.grpc.Context.current().isCancelled()) {
      // The caller left as it was admitted and cannot retry into this hold: nobody will use it. (With a
      // request id its retry is answered with this hold, so it stays.)
      reservations.release(a.hold());
    }
    out.onNext(ask.allow().setHold(a.hold()).setHoldExpireTime(ProtoTime.ts(a.expireTime()))
        .setEstimatedCostNanos(a.amountNanos()).setAvailableNanos(a.availableNanos()).build());
    out.onCompleted();
  }

  @Override
  public void startSession(StartSessionRequest req, StreamObserver<StartSessionResponse> out) {
    requirePlatform();
    VerifyApiKeyResponse key = gate.verify(req.getApiKeySecret(), "admit");
    if (!key.getPrincipal().getTeam().isEmpty() && !key.getPermissionsList().contains(Permission.PERMISSION_KEYS_USE)) {
      throw TallyException.permissionDenied(Reasons.ROLE_FORBIDDEN, "the key's owner may not use team keys");
    }
    scopeOf(key).check(req.getMeter(), req.getModel());
    var price = prices.price(req.getMeter(), req.getModel());
    String meter = req.getMeter().startsWith("meters/") ? req.getMeter().substring("meters/".length()) : req.getMeter();
    OpenSessionRequest.Builder open = OpenSessionRequest.newBuilder().setWallet(key.getBillingAccount())
        .setApiKey(key.getApiKey().getName()).setUser(key.getPrincipal().getUser()).setMember(memberSubject(key))
        .setMeter(meter).setModel(req.getModel()).setRatePerSecond(req.getRatePerSecond())
        .setPriceNanos(price.getPriceNanos()).setPerQuantity(price.getPerQuantity()).setMinRunwaySeconds(req.getMinRunwaySeconds())
        .setStopThresholdSeconds(req.getStopThresholdSeconds()).setCurrencyCode(price.getCurrencyCode());
    if (!req.getRequestId().isEmpty()) {
      open.setRequestId(req.getRequestId());
    }
    out.onNext(StartSessionResponse.newBuilder().setSession(wallet.openSession(open.build()).getSession()).build());
    out.onCompleted();
  }

  @Override
  public void endSession(EndSessionRequest req, StreamObserver<EndSessionResponse> out) {
    requirePlatform();
    out.onNext(EndSessionResponse.newBuilder().setSession(wallet.closeSession(CloseSessionRequest.newBuilder()
        .setSession(req.getSession()).build()).getSession()).build());
    out.onCompleted();
  }

  @Override
  public void extendHold(ExtendHoldRequest req, StreamObserver<ExtendHoldResponse> out) {
    requirePlatform();
    if (leases != null && SubHoldIds.fromLease(req.getHold())) {
      leases.flush(Duration.ofSeconds(2)); // admitted here from a lease: written before it grows
    }
    ExtendRequest.Builder extend = ExtendRequest.newBuilder().setHold(req.getHold())
        .setAmountNanos(req.getAdditionalCostNanos());
    if (!req.getRequestId().isEmpty()) {
      extend.setRequestId(req.getRequestId());
    }
    ExtendResponse r = wallet.extend(extend.build());
    out.onNext(ExtendHoldResponse.newBuilder().setHeldNanos(r.getHold().getAmountNanos())
        .setHoldExpireTime(r.getHold().getExpireTime()).setAvailableNanos(r.getAvailableNanos()).build());
    out.onCompleted();
  }

  @Override
  public void releaseHold(ReleaseHoldRequest req, StreamObserver<ReleaseHoldResponse> out) {
    requirePlatform();
    wallet.release(ReserveDispatcher.releaseRequest(req.getHold()));
    out.onNext(ReleaseHoldResponse.getDefaultInstance());
    out.onCompleted();
  }

  /**
   * Soft mode: the cached state decides, by the wallet's own rules ({@link AdmissionRules}). The cache's
   * available amount is already net of holds; a window whose reset passed counts as empty until the next
   * state arrives.
   */
  static void checkCached(WalletStates.State s, long cost, String member, String apiKey) {
    Instant now = Instant.now();
    java.util.List<AdmissionRules.Limit> limits = new java.util.ArrayList<>();
    for (WalletStates.Limit l : s.limits()) {
      boolean current = l.resetTime() == null || l.resetTime().isAfter(now);
      limits.add(new AdmissionRules.Limit(l.subject(), l.period(), l.limit(), current ? l.spent() : 0, 0,
          l.resetTime()));
    }
    AdmissionRules.check(new AdmissionRules.State(s.wallet(), false, s.suspended(), s.available(), limits),
        new AdmissionRules.Request(cost, member, apiKey), now);
  }

  /** What the key may be used for, as identity resolved it (its own lists within its team's default). */
  static KeyScope scopeOf(VerifyApiKeyResponse key) {
    return new KeyScope(key.hasUsableMeters() ? java.util.Set.copyOf(key.getUsableMeters().getValuesList()) : null,
        key.hasUsableModels() ? java.util.Set.copyOf(key.getUsableModels().getValuesList()) : null);
  }

  private static String memberSubject(VerifyApiKeyResponse key) {
    String team = key.getPrincipal().getTeam();
    String user = key.getPrincipal().getUser();
    return team.isEmpty() || user.isEmpty() ? "" : team + "/members/" + user.substring("users/".length());
  }

  private static void requirePlatform() {
    if (!Caller.current().platform()) {
      throw TallyException.permissionDenied(Reasons.ROLE_FORBIDDEN,
          "admission is called by the platform's backend with the platform token");
    }
  }
}
