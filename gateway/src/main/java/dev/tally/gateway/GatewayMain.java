package dev.tally.gateway;

import dev.tally.common.app.ServiceRunner;
import dev.tally.common.auth.Caller;
import dev.tally.common.auth.CallerSigner;
import dev.tally.common.config.Env;
import dev.tally.common.grpc.GrpcServer;
import dev.tally.proto.admission.v1.AdmissionServiceGrpc;
import dev.tally.common.kafka.KafkaClients;
import dev.tally.common.metrics.Metrics;
import dev.tally.gateway.admission.AdmissionGrpcService;
import dev.tally.gateway.admission.RuleChanges;
import dev.tally.gateway.admission.PriceCache;
import dev.tally.gateway.admission.WalletStates;
import dev.tally.gateway.auth.AuthThrottle;
import dev.tally.gateway.auth.KeyGate;
import dev.tally.gateway.auth.GatewayAuthInterceptor;
import dev.tally.gateway.auth.KeyVerifier;
import dev.tally.gateway.config.GatewayConfig;
import dev.tally.gateway.events.GatewayEvents;
import dev.tally.gateway.forward.Forwarder;
import dev.tally.proto.identity.v1.IdentityServiceGrpc;
import dev.tally.proto.metering.v1.MeteringServiceGrpc;
import dev.tally.proto.wallet.v1.ListWalletStatesRequest;
import dev.tally.proto.wallet.v1.ListWalletStatesResponse;
import dev.tally.proto.wallet.v1.WalletInternalServiceGrpc;
import dev.tally.proto.wallet.v1.WalletServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.time.Clock;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/** The gateway as its own process, configured by environment variables (what the Helm chart runs). */
public final class GatewayMain {
  private GatewayMain() {}

  public static void main(String[] args) {
    ServiceRunner.main("gateway", () -> {
      GatewayConfig config = GatewayConfig.fromEnv(Env.system());
      ServiceRunner runner = new ServiceRunner();
      start(config, runner);
      runner.awaitShutdown();
    });
  }

  /** The running gateway. */
  public record Running(GrpcServer server, GatewayEvents events, WalletStates states) {}

  public static Running start(GatewayConfig config, ServiceRunner runner) throws IOException {
    PrometheusMeterRegistry registry = Metrics.newRegistry("gateway");
    CallerSigner signer = new CallerSigner(config.internalAuthKey(), Clock.systemUTC());
    ManagedChannel identity = channel(config.identityTarget(), runner);
    ManagedChannel wallet = channel(config.walletTarget(), runner);
    ManagedChannel metering = channel(config.meteringTarget(), runner);
    KeyVerifier keys = runner.manage(new KeyVerifier(identity, signer, config.keyCacheTtl(), Clock.systemUTC()))
        .metrics(registry);
    WalletStates states = new WalletStates();
    GatewayEvents events = runner.manage(new GatewayEvents(new KafkaClients(config.kafka(), registry),
        "gateway-" + UUID.randomUUID(), keys, states));
    events.positionAtEnd();
    keys.staleWhile(events::identityCurrent);
    loadWalletStates(wallet, signer, states);
    events.start();

    Forwarder forwarder = new Forwarder(signer);
    AuthThrottle throttle = new AuthThrottle(config.authFailureLimit(), Clock.systemUTC());
    KeyGate gate = new KeyGate(keys, throttle);
    AdmissionGrpcService admission = runner.manage(new AdmissionGrpcService(gate, states,
        new PriceCache(metering, signer, Clock.systemUTC()), wallet, signer, config.leaseTtl()));
    GatewayAuthInterceptor auth = new GatewayAuthInterceptor(config.platformToken(), gate, throttle);
    String admit = AdmissionServiceGrpc.getAdmitMethod().getFullMethodName();
    GrpcServer server = runner.manage(GrpcServer.builder("gateway", config.server(), registry)
        .addInterceptor(auth)
        // The platform's Admits are answered on the transport thread; Admit hands off whatever may wait.
        .onTransportThread((method, headers) -> method.getFullMethodName().equals(admit) && auth.isPlatform(headers))
        .addService(forwarder.forward(IdentityServiceGrpc.getServiceDescriptor(), identity))
        .addService(forwarder.forward(WalletServiceGrpc.getServiceDescriptor(), wallet,
            RuleChanges.watch(admission::walletRulesChanged)))
        .addService(forwarder.forward(MeteringServiceGrpc.getServiceDescriptor(), metering))
        .addService(admission)
        .addService(new dev.tally.gateway.errors.ErrorReasonGrpcService())
        .start());
    return new Running(server, events, states);
  }

  /** Waits (within the deadline) for a wallet service that is still starting, as pods start in any order. */
  private static void loadWalletStates(ManagedChannel wallet, CallerSigner signer, WalletStates states) {
    var stub = WalletInternalServiceGrpc.newBlockingStub(wallet).withCallCredentials(signer.credentials(Caller.PLATFORM))
        .withWaitForReady();
    String token = "";
    do {
      ListWalletStatesResponse page = stub.withDeadlineAfter(30, TimeUnit.SECONDS).listWalletStates(
          ListWalletStatesRequest.newBuilder().setPageSize(1000).setPageToken(token).build());
      page.getStatesList().forEach(states::load);
      token = page.getNextPageToken();
    } while (!token.isEmpty());
  }

  private static ManagedChannel channel(String target, ServiceRunner runner) {
    ManagedChannel c = NettyChannelBuilder.forTarget(target).usePlaintext().defaultLoadBalancingPolicy("round_robin").intercept(dev.tally.common.grpc.RequestIds.propagating()).build();
    runner.manage(() -> {
      c.shutdown();
      c.awaitTermination(5, TimeUnit.SECONDS);
    });
    return c;
  }

}
