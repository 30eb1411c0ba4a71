package dev.tally.bench;

import dev.tally.common.auth.Caller;
import dev.tally.common.auth.CallerSigner;
import dev.tally.common.grpc.ProtoTime;
import dev.tally.identity.config.IdentityConfig;
import dev.tally.proto.identity.v1.*;
import dev.tally.proto.metering.v1.*;
import dev.tally.proto.wallet.v1.*;
import dev.tally.stack.StackConfig;
import dev.tally.stack.TallyStack;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * End-to-end usage: RecordUsage batches into metering → usage.v1 → the wallet's debits, on the embedded stack
 * (PostgreSQL, Kafka, the services and this client share the machine).
 *
 * <ol>
 *   <li>Warm-up: {@code events / 2} events, not reported.
 *   <li>Maximum rate: {@code events} recorded by {@code threads} clients as fast as they are acknowledged
 *       (after Kafka); reports events acknowledged per second and events debited per second (until the
 *       wallet's balance shows the last one).
 *   <li>Apart: each half alone — events recorded while the wallet service is stopped, then the backlog
 *       debited with nothing recording; rates and CPU ms per 1,000 events (this JVM + PostgreSQL), and this
 *       JVM's share by thread with garbage collection and JIT compilation apart (the JIT still takes a third
 *       of the JVM's CPU here a minute in). Run twice, the first as warm-up of what only this phase runs.
 *   <li>Visibility at half the maximum end-to-end rate: one client records batches (about 20 a second) at a fixed pace
 *       for 10 s while a watcher reads the wallet's balance every 5 ms; each batch's latency runs from its
 *       acknowledgement to the first balance that includes it. Reports p50/p99/max.
 * </ol>
 * Arguments: events (default 50000), batch size (500), client threads (4).
 */
public final class PipelineBench {
  public static void main(String[] args) throws Exception {
    int total = args.length > 0 ? Integer.parseInt(args[0]) : 50_000;
    int batch = args.length > 1 ? Integer.parseInt(args[1]) : 500;
    int threads = args.length > 2 ? Integer.parseInt(args[2]) : 4;
    StackConfig config = new StackConfig(Files.createTempDirectory("tally-bench"), true, 0, 0, 0, 0, 0, -1, "", "");
    try (TallyStack stack = TallyStack.start(config,
        dev.tally.common.config.Env.system().with(TallyStack.TEST_SECRETS))) {
      CallerSigner signer = new CallerSigner(IdentityConfig.DEV_INTERNAL_AUTH_KEY, Clock.systemUTC());
      ManagedChannel identity = channel(stack.identityPort());
      ManagedChannel wallet = channel(stack.walletPort());
      ManagedChannel metering = channel(stack.meteringPort());
      var platformIdentity = IdentityServiceGrpc.newBlockingStub(identity).withCallCredentials(signer.credentials(Caller.PLATFORM));
      User u = platformIdentity.upsertUser(UpsertUserRequest.newBuilder().setExternalId("bench").setEmail("bench@example.com").build()).getUser();
      var asUser = IdentityServiceGrpc.newBlockingStub(identity).withCallCredentials(signer.credentials(Caller.user(u.getName())));
      Team team = asUser.createTeam(CreateTeamRequest.newBuilder().setDisplayName("Bench").build()).getTeam();
      String key = asUser.createApiKey(CreateApiKeyRequest.newBuilder().setKind(ApiKeyKind.API_KEY_KIND_TEAM)
          .setTeam(team.getName()).setDisplayName("bench").build()).getApiKey().getName();
      var walletStub = WalletServiceGrpc.newBlockingStub(wallet).withCallCredentials(signer.credentials(Caller.PLATFORM));
      long start = 1_000_000L * 1_000_000_000L;
      walletStub.deposit(DepositRequest.newBuilder().setWallet(team.getWallet()).setAmountNanos(start)
          .setCurrencyCode("USD").setExternalReference("bench").build());
      var meteringStub = MeteringServiceGrpc.newBlockingStub(metering).withCallCredentials(signer.credentials(Caller.PLATFORM));
      BalanceReader readBalance = () -> walletStub.getWallet(GetWalletRequest.newBuilder()
          .setName(team.getWallet()).build()).getWallet().getBalanceNanos();
      System.out.printf("pipeline bench: events=%d batch=%d threads=%d, load %s%n", total, batch, threads,
          Files.readString(Path.of("/proc/loadavg")).trim());

      maxRate(meteringStub, readBalance, key, "warm-up", total / 2, batch, threads);
      double[] max = maxRate(meteringStub, readBalance, key, "max", total, batch, threads);
      // Once to warm what only this phase runs (a backlog after the wallet's restart), once measured.
      apart(stack, meteringStub, readBalance, key, "apart-warm-up", total, batch, threads);
      apart(stack, meteringStub, readBalance, key, "apart", total, batch, threads);
      double half = Math.min(max[0], max[1]) / 2;
      visibility(meteringStub, readBalance, key, half, Duration.ofSeconds(10));

      ReconcileResponse rec = walletStub.reconcile(ReconcileRequest.getDefaultInstance());
      System.out.printf("ledger balanced: %s (%d transfers)%n", rec.getBalanced(), rec.getTransfersChecked());
      identity.shutdownNow();
      wallet.shutdownNow();
      metering.shutdownNow();
    }
  }

  private interface BalanceReader { // the wallet's balance in nanos (a long, as all money)
    long get();
  }

  /** {acknowledged events/s, debited events/s}. */
  private static double[] maxRate(MeteringServiceGrpc.MeteringServiceBlockingStub metering,
      BalanceReader readBalance,
      String key, String phase, int total, int batch, int threads) throws Exception {
    long before = readBalance.get();
    List<RecordUsageRequest> requests = requests(key, phase, total, batch);
    long t0 = System.nanoTime();
    long cost = recordConcurrently(metering, requests, threads);
    long acked = System.nanoTime();
    while (readBalance.get() != before - cost) {
      Thread.sleep(5);
    }
    long debited = System.nanoTime();
    int n = total / batch * batch;
    double[] rates = {n / secs(acked - t0), n / secs(debited - t0)};
    System.out.printf("%-8s recorded (acked after Kafka) %,8.0f events/s | debited end to end %,8.0f events/s "
        + "| ingest ÷ debit %.2f%n", phase, rates[0], rates[1], rates[0] / rates[1]);
    return rates;
  }

  /**
   * Each half alone on the same machine: events recorded (acknowledged after Kafka) while the wallet service
   * is stopped, then the wallet started again and the backlog debited with nothing else recording (rate
   * from its first debit to its last, so its start-up and group join are not counted).
   */
  private static void apart(TallyStack stack, MeteringServiceGrpc.MeteringServiceBlockingStub metering,
      BalanceReader readBalance, String key, String phase, int total, int batch, int threads) throws Exception {
    long before = readBalance.get();
    stack.stopWallet();
    int batches = total / batch;
    List<RecordUsageRequest> requests = requests(key, phase, total, batch);
    DebitBench.Cpu cpu0 = DebitBench.Cpu.now();
    ThreadCpu threads0 = ThreadCpu.now();
    long t0 = System.nanoTime();
    long cost = recordConcurrently(metering, requests, threads);
    double ingest = batches * batch / secs(System.nanoTime() - t0);
    DebitBench.Cpu cpu1 = DebitBench.Cpu.now();
    String recordingThreads = ThreadCpu.now().since(threads0, (long) batches * batch, 0.02);
    stack.startWallet();
    long target = before - cost;
    long perEvent = cost / ((long) batches * batch);
    long first = readBalanceWhenReady(readBalance);
    while (first == before) {
      Thread.sleep(1);
      first = readBalance.get();
    }
    long t1 = System.nanoTime();
    DebitBench.Cpu cpu2 = DebitBench.Cpu.now();
    ThreadCpu threads2 = ThreadCpu.now();
    while (readBalance.get() != target) {
      Thread.sleep(2);
    }
    long debited = (first - target) / perEvent; // events, from exact nanos: every event costs perEvent
    String debitingThreads = ThreadCpu.now().since(threads2, debited, 0.02);
    double debit = debited / secs(System.nanoTime() - t1);
    DebitBench.Cpu cpu3 = DebitBench.Cpu.now();
    double events = (double) batches * batch;
    System.out.printf("%-8s recorded alone (wallet stopped) %,8.0f events/s, %.0f cpu-ms/1k (jvm %.0f, postgresql "
        + "%.0f) | debited alone (backlog, nothing recording) %,8.0f events/s, %.0f cpu-ms/1k (jvm %.0f, postgresql "
        + "%.0f) | ingest ÷ debit %.2f%n", phase, ingest, cpu1.since(cpu0) / 1e3 / events, cpu1.jvmSince(cpu0) / 1e3 / events,
        cpu1.postgresSince(cpu0) / 1e3 / events, debit, cpu3.since(cpu2) / 1e3 / debited,
        cpu3.jvmSince(cpu2) / 1e3 / debited, cpu3.postgresSince(cpu2) / 1e3 / debited, ingest / debit);
    System.out.printf("%-8s jvm cpu-ms/1k by thread, recording: %s%n", phase, recordingThreads);
    System.out.printf("%-8s jvm cpu-ms/1k by thread, debiting: %s%n", phase, debitingThreads);
  }

  /**
   * The {@code total / batch} RecordUsage requests of a phase, built before it is timed: the load client
   * shares the machine, and what it costs to build them is not what the service costs to take them.
   */
  private static List<RecordUsageRequest> requests(String key, String phase, int total, int batch) {
    List<RecordUsageRequest> out = new ArrayList<>();
    for (int b = 0; b < total / batch; b++) {
      out.add(request(key, phase + "-" + b, batch));
    }
    return out;
  }

  /** The requests sent by {@code threads} clients, each as soon as the previous was acknowledged; their cost. */
  private static long recordConcurrently(MeteringServiceGrpc.MeteringServiceBlockingStub metering,
      List<RecordUsageRequest> requests, int threads) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<Long>> futures = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int thread = t;
        futures.add(pool.submit(() -> {
          long cost = 0;
          for (int b = thread; b < requests.size(); b += threads) {
            cost += record(metering, requests.get(b));
          }
          return cost;
        }));
      }
      long cost = 0;
      for (Future<Long> f : futures) {
        cost += f.get();
      }
      return cost;
    } finally {
      pool.shutdown();
    }
  }

  /** The balance once the wallet service answers again after a start. */
  private static long readBalanceWhenReady(BalanceReader readBalance) throws InterruptedException {
    while (true) {
      try {
        return readBalance.get();
      } catch (io.grpc.StatusRuntimeException e) {
        Thread.sleep(5);
      }
    }
  }

  /** A RecordUsage request of {@code size} records, occurring now. */
  private static RecordUsageRequest request(String key, String batchId, int size) {
    RecordUsageRequest.Builder req = RecordUsageRequest.newBuilder();
    for (int i = 0; i < size; i++) {
      req.addRecords(UsageRecord.newBuilder().setEventId(batchId + "-" + i).setApiKey(key)
          .setMeter("output_tokens").setQuantity(100).setOccurredAt(ProtoTime.ts(Instant.now())));
    }
    return req.build();
  }

  /** One RecordUsage call; returns its records' cost. */
  private static long record(MeteringServiceGrpc.MeteringServiceBlockingStub metering, RecordUsageRequest request) {
    long cost = 0;
    for (RecordResult r : metering.recordUsage(request).getResultsList()) {
      cost += r.getCostNanos();
    }
    return cost;
  }

  /** Paced load at {@code rate} events/s; prints how long acknowledged usage takes to show in the balance. */
  private static void visibility(MeteringServiceGrpc.MeteringServiceBlockingStub metering,
      BalanceReader readBalance,
      String key, double rate, Duration duration) throws Exception {
    int size = (int) Math.max(100, Math.min(2_000, rate / 20)); // about 20 calls a second, one at a time
    long interval = (long) (size / rate * 1e9);
    long before = readBalance.get();
    // Each batch: its acknowledgement time and the balance that includes it (one sender, so in order).
    List<long[]> acked = java.util.Collections.synchronizedList(new ArrayList<>());
    List<Long> latencies = new ArrayList<>();
    java.util.concurrent.atomic.AtomicBoolean sending = new java.util.concurrent.atomic.AtomicBoolean(true);
    Thread watcher = Thread.ofPlatform().start(() -> {
      int next = 0;
      while (sending.get() || next < acked.size()) {
        long seen = readBalance.get();
        long at = System.nanoTime();
        while (next < acked.size() && seen <= acked.get(next)[1]) {
          latencies.add(at - acked.get(next)[0]);
          next++;
        }
        try {
          Thread.sleep(5);
        } catch (InterruptedException e) {
          return;
        }
      }
    });
    long cumulative = 0;
    long t0 = System.nanoTime();
    long end = t0 + duration.toNanos();
    int sent = 0;
    for (long due = t0; due < end; due += interval) {
      long wait = due - System.nanoTime();
      if (wait > 0) {
        Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
      }
      cumulative += record(metering, request(key, "paced-" + sent, size));
      acked.add(new long[] {System.nanoTime(), before - cumulative});
      sent++;
    }
    double achieved = sent * size / secs(System.nanoTime() - t0);
    sending.set(false);
    watcher.join();
    long[] sorted = latencies.stream().mapToLong(Long::longValue).sorted().toArray();
    System.out.printf("visibility at %,.0f events/s (target %,.0f, half the max end-to-end rate), %d batches of %d: "
        + "acked → in the balance p50 %.0f ms, p99 %.0f ms, max %.0f ms%n", achieved, rate, sorted.length, size,
        sorted[sorted.length / 2] / 1e6, sorted[(int) Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)] / 1e6,
        sorted[sorted.length - 1] / 1e6);
  }

  private static double secs(long elapsed) {
    return elapsed / 1e9; // elapsed time in nanoseconds, not money
  }

  private static ManagedChannel channel(int port) {
    return NettyChannelBuilder.forAddress("localhost", port).usePlaintext().build();
  }
}
