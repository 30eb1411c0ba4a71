package dev.tally.bench;

import dev.tally.common.grpc.ProtoTime;
import dev.tally.proto.admission.v1.AdmissionServiceGrpc;
import dev.tally.proto.admission.v1.AdmitRequest;
import dev.tally.proto.admission.v1.AdmitResponse;
import dev.tally.proto.identity.v1.ApiKeyKind;
import dev.tally.proto.identity.v1.CreateApiKeyRequest;
import dev.tally.proto.identity.v1.CreateTeamRequest;
import dev.tally.proto.identity.v1.IdentityServiceGrpc;
import dev.tally.proto.identity.v1.UpsertUserRequest;
import dev.tally.proto.metering.v1.MeteringServiceGrpc;
import dev.tally.proto.metering.v1.RecordUsageRequest;
import dev.tally.proto.metering.v1.UsageRecord;
import dev.tally.proto.wallet.v1.AdmissionMode;
import dev.tally.proto.wallet.v1.DepositRequest;
import dev.tally.proto.wallet.v1.GetWalletRequest;
import dev.tally.proto.wallet.v1.SetAdmissionModeRequest;
import dev.tally.proto.wallet.v1.WalletServiceGrpc;
import dev.tally.stack.StackConfig;
import dev.tally.stack.TallyStack;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.nio.file.Files;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * How far soft mode overspends: a team wallet in soft mode with {@code dollars} on it, and {@code callers}
 * clients that each Admit a call, record its usage (the estimate, exactly) and go again, until Admit refuses
 * them. Soft mode decides on the gateway's copy of the wallet's state, which follows the debits through
 * {@code wallet.v1}; what was admitted while that copy was behind ends below zero. Prints the spend rate, the
 * overspend in dollars and in calls, and as seconds of spend at that rate (the copy's effective lag).
 * Arguments: dollars (2), callers per measurement (8,64), output tokens per call (10000, $0.006).
 */
public final class SoftOverspendBench {
  private static final long DOLLAR = 1_000_000_000L;

  public static void main(String[] args) throws Exception {
    long dollars = args.length > 0 ? Long.parseLong(args[0]) : 2;
    String[] callerCounts = (args.length > 1 ? args[1] : "8,64").split(",");
    long tokens = args.length > 2 ? Long.parseLong(args[2]) : 10_000;
    StackConfig config = new StackConfig(Files.createTempDirectory("tally-soft-bench"), true, 0, 0, 0, 0, 0, -1, "",
        "");
    try (TallyStack stack = TallyStack.start(config, dev.tally.common.config.Env.system().with(TallyStack.TEST_SECRETS))) {
      ManagedChannel gateway = NettyChannelBuilder.forAddress("127.0.0.1", stack.gatewayPort()).usePlaintext().build();
      for (int round = 0; round < 3; round++) {
        for (String c : callerCounts) {
          measure(gateway, "r" + round + "c" + c, dollars * DOLLAR, Integer.parseInt(c), tokens);
        }
      }
      gateway.shutdownNow();
    }
  }

  private static void measure(ManagedChannel gateway, String tag, long deposit, int callers, long tokens)
      throws Exception {
    String secret = softTeam(gateway, tag, deposit);
    var admission = AdmissionServiceGrpc.newBlockingStub(gateway).withCallCredentials(AdmitBench.platform());
    var metering = MeteringServiceGrpc.newBlockingStub(gateway).withCallCredentials(AdmitBench.platform());
    var wallet = WalletServiceGrpc.newBlockingStub(gateway).withCallCredentials(AdmitBench.platform());
    AdmitRequest admit = AdmitRequest.newBuilder().setApiKeySecret(secret).setMeter("output_tokens")
        .setEstimatedQuantity(tokens).build();
    AdmitResponse first = null;
    while (first == null || !first.getHold().isEmpty()) { // soft mode reaches the gateway through wallet.v1
      first = admission.withDeadlineAfter(5, TimeUnit.SECONDS).admit(admit);
      Thread.sleep(20);
    }
    String key = first.getApiKey();
    String walletName = first.getBillingAccount();
    long cost = first.getEstimatedCostNanos();
    AtomicLong admitted = new AtomicLong();
    AtomicLong seq = new AtomicLong();
    ExecutorService pool = Executors.newFixedThreadPool(callers);
    long t0 = System.nanoTime();
    List<Future<?>> done = new ArrayList<>();
    for (int i = 0; i < callers; i++) {
      done.add(pool.submit(() -> {
        while (true) {
          try {
            admission.withDeadlineAfter(5, TimeUnit.SECONDS).admit(admit);
          } catch (StatusRuntimeException refused) {
            return null; // this caller's first refusal ends it
          }
          admitted.incrementAndGet();
          metering.withDeadlineAfter(5, TimeUnit.SECONDS).recordUsage(RecordUsageRequest.newBuilder()
              .addRecords(UsageRecord.newBuilder().setEventId(tag + "-" + seq.incrementAndGet()).setApiKey(key)
                  .setMeter("output_tokens").setQuantity(tokens).setOccurredAt(ProtoTime.ts(Instant.now())))
              .build());
        }
      }));
    }
    for (Future<?> f : done) {
      f.get();
    }
    double seconds = (System.nanoTime() - t0) / 1e9;
    pool.shutdown();
    // Wait until every recorded call is debited: the balance then stops moving.
    long expected = deposit - admitted.get() * cost; // every admission but the probe's was recorded at its estimate
    long balance = Long.MIN_VALUE;
    for (int i = 0; i < 600 && balance != expected; i++) {
      Thread.sleep(50);
      balance = wallet.getWallet(GetWalletRequest.newBuilder().setName(walletName).build()).getWallet().getBalanceNanos();
    }
    double rate = admitted.get() / seconds;
    long over = Math.max(0, -balance);
    System.out.printf("callers %3d: %,6d calls admitted in %.1f s (%,.0f calls/s, $%.3f/s); final balance $%.4f; "
        + "overspend $%.4f = %.1f calls = %.0f ms of spend%n", callers, admitted.get(), seconds, rate,
        rate * cost / DOLLAR, balance / (double) DOLLAR, over / (double) DOLLAR, over / (double) cost,
        over / (rate * cost) * 1e3);
  }

  /** A new team with {@code deposit} on its wallet in soft mode; returns its team key's secret. */
  private static String softTeam(ManagedChannel gateway, String tag, long deposit) {
    var identity = IdentityServiceGrpc.newBlockingStub(gateway).withCallCredentials(AdmitBench.platform());
    var wallet = WalletServiceGrpc.newBlockingStub(gateway).withCallCredentials(AdmitBench.platform());
    String owner = identity.upsertUser(UpsertUserRequest.newBuilder().setExternalId("soft-" + tag)
        .setEmail("soft-" + tag + "@example.com").build()).getUser().getName();
    var asOwner = identity.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(AdmitBench.actingUser(owner)));
    var team = asOwner.createTeam(CreateTeamRequest.newBuilder().setDisplayName("Soft " + tag).build()).getTeam();
    String secret = asOwner.createApiKey(CreateApiKeyRequest.newBuilder().setKind(ApiKeyKind.API_KEY_KIND_TEAM)
        .setTeam(team.getName()).setDisplayName("soft").build()).getSecret();
    wallet.deposit(DepositRequest.newBuilder().setWallet(team.getName()).setAmountNanos(deposit)
        .setCurrencyCode("USD").setExternalReference("soft-" + tag).build());
    wallet.setAdmissionMode(SetAdmissionModeRequest.newBuilder().setWallet(team.getName())
        .setMode(AdmissionMode.ADMISSION_MODE_SOFT).build());
    return secret;
  }
}
