package dev.tally.bench;

import dev.tally.common.export.CsvStream;
import dev.tally.common.grpc.ProtoTime;
import dev.tally.proto.admission.v1.AdmissionServiceGrpc;
import dev.tally.proto.admission.v1.AdmitRequest;
import dev.tally.proto.admission.v1.AdmitResponse;
import dev.tally.proto.metering.v1.MeteringServiceGrpc;
import dev.tally.proto.metering.v1.RecordUsageRequest;
import dev.tally.proto.metering.v1.UsageRecord;
import dev.tally.proto.wallet.v1.AdmissionMode;
import dev.tally.proto.wallet.v1.GetWalletRequest;
import dev.tally.proto.wallet.v1.WalletServiceGrpc;
import dev.tally.stack.StackConfig;
import dev.tally.stack.TallyStack;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.math.BigDecimal;
import java.math.RoundingMode;
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
 * {@code wallet.v1}; what was admitted while that copy was behind ends below zero. Prints the calls and what
 * they spent, and the overspend in dollars, in calls and as milliseconds of spend at that rate (the copy's
 * effective lag).
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
          measure(gateway, "r" + round + "c" + c, Math.multiplyExact(dollars, DOLLAR), Integer.parseInt(c), tokens);
        }
      }
      gateway.shutdownNow();
    }
  }

  private static void measure(ManagedChannel gateway, String tag, long deposit, int callers, long tokens)
      throws Exception {
    String secret = AdmitBench.keys(gateway, "soft-" + tag, 1, deposit, AdmissionMode.ADMISSION_MODE_SOFT,
        new java.util.ArrayList<>()).getFirst();
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
    long elapsedMs = Math.max(1, (System.nanoTime() - t0) / 1_000_000);
    pool.shutdown();
    // Wait until every recorded call is debited: the balance then stops moving.
    long spent = Math.multiplyExact(admitted.get(), cost); // every admission but the probe's, recorded at its estimate
    long expected = deposit - spent;
    long balance = Long.MIN_VALUE;
    for (int i = 0; i < 600 && balance != expected; i++) {
      Thread.sleep(50);
      balance = wallet.getWallet(GetWalletRequest.newBuilder().setName(walletName).build()).getWallet().getBalanceNanos();
    }
    long over = Math.max(0, -balance);
    // Money stays in exact nanos: amounts print as decimals of them, and the overspend's share of the
    // spend is turned into calls and milliseconds by integer arithmetic.
    System.out.printf("callers %3d: %,6d calls admitted in %,d ms (%,d calls/s), spent $%s; final balance $%s; "
        + "overspend $%s = %s calls = %,d ms of spend%n", callers, admitted.get(), elapsedMs,
        admitted.get() * 1_000 / elapsedMs, CsvStream.amount(spent).toPlainString(),
        CsvStream.amount(balance).toPlainString(), CsvStream.amount(over).toPlainString(),
        BigDecimal.valueOf(over).divide(BigDecimal.valueOf(cost), 1, RoundingMode.HALF_EVEN).toPlainString(),
        spent == 0 ? 0 : Math.multiplyExact(over, elapsedMs) / spent);
  }
}
