package dev.tally.bench;

import com.google.common.util.concurrent.FutureCallback;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.MoreExecutors;
import dev.tally.gateway.config.GatewayConfig;
import dev.tally.proto.admission.v1.AdmissionServiceGrpc;
import dev.tally.proto.admission.v1.AdmitRequest;
import dev.tally.proto.identity.v1.ApiKeyKind;
import dev.tally.proto.identity.v1.CreateApiKeyRequest;
import dev.tally.proto.identity.v1.CreateTeamRequest;
import dev.tally.proto.identity.v1.IdentityServiceGrpc;
import dev.tally.proto.identity.v1.UpsertUserRequest;
import dev.tally.proto.wallet.v1.AdmissionMode;
import dev.tally.proto.wallet.v1.DepositRequest;
import dev.tally.proto.wallet.v1.SetAdmissionModeRequest;
import dev.tally.proto.wallet.v1.WalletServiceGrpc;
import dev.tally.stack.StackConfig;
import dev.tally.stack.TallyStack;
import io.grpc.CallCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.Epoll;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.nio.NioEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioSocketChannel;
import io.grpc.netty.shaded.io.netty.util.concurrent.DefaultThreadFactory;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Admission against a bare gRPC echo, alternated in rounds in one run, through the same grpc-java client.
 *
 * <p>Targets: {@code echo} (a grpc-java unary server on the same Netty transport that answers at once),
 * Admit in soft mode and in hard mode on 1 and on {@code wallets} team wallets (each call picks the next
 * wallet's key), on the embedded stack in this process. Each measurement keeps {@code concurrency} calls in
 * flight (async stubs, 1 s deadline) for the given seconds after a one-second warm-up and prints calls/s,
 * p50/p99/max latency of successful calls, CPU ms per 1,000 calls (this JVM + PostgreSQL) and errors by code.
 * Then each target once per round on a fixed schedule at half the best rate it reached (open loop: latency from
 * when a call was due), for the latency at half rate.
 * Arguments: seconds per measurement (5), rounds (3), wallets (1000), concurrencies (64,1024,4096), and the
 * targets (names they start with; all by default). {@code cleared 1} and {@code cleared N} are hard mode on
 * wallets of their own whose pending holds are released before each measurement: beside {@code hard}, whose
 * holds pile up (100,000s pending), they show what pending holds cost, in the same run.
 */
public final class AdmitBench {
  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  public static void main(String[] args) throws Exception {
    int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
    int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
    int wallets = args.length > 2 ? Integer.parseInt(args[2]) : 1_000;
    int[] concurrencies = Arrays.stream((args.length > 3 ? args[3] : "64,1024,4096").split(","))
        .mapToInt(Integer::parseInt).toArray();
    StackConfig config = new StackConfig(Files.createTempDirectory("tally-admit-bench"), true, 0, 0, 0, 0, 0, -1, "",
        "");
    // The fastest bare server: the handler answers on the transport thread (no executor hand-off).
    Server echo = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).directExecutor()
        .addService(new HealthGrpc.HealthImplBase() {
          @Override
          public void check(HealthCheckRequest request, StreamObserver<HealthCheckResponse> out) {
            out.onNext(HealthCheckResponse.newBuilder().setStatus(HealthCheckResponse.ServingStatus.SERVING).build());
            out.onCompleted();
          }
        }).build().start();
    try (TallyStack stack = TallyStack.start(config, dev.tally.common.config.Env.system().with(TallyStack.TEST_SECRETS))) {
      ManagedChannel gateway = client(stack.gatewayPort());
      ManagedChannel echoChannel = client(echo.getPort());
      System.out.printf("admit bench: %d s per measurement, %d rounds, %,d wallets, load %s%n", seconds, rounds,
          wallets, Files.readString(Path.of("/proc/loadavg")).trim());
      long million = 1_000_000L * 1_000_000_000L; // $1M each, in nanos
      // Optional fifth argument: only the targets whose names start with one of these (e.g. "echo,hard").
      List<String> only = args.length > 4 ? List.of(args[4].split(",")) : List.of("");
      List<String> walletNames = new ArrayList<>();
      List<String> hard = keys(gateway, "hard", wallets, million, AdmissionMode.ADMISSION_MODE_HARD, walletNames);
      List<String> soft = keys(gateway, "soft", wallets, million, AdmissionMode.ADMISSION_MODE_SOFT, new ArrayList<>());
      // "cleared": hard mode on wallets of their own whose pending holds are released before each measurement,
      // so each measurement starts with none pending — beside "hard", whose holds pile up, in the same run.
      boolean withCleared = only.stream().anyMatch("cleared"::startsWith);
      List<String> clearedWallets = new ArrayList<>();
      List<String> cleared = withCleared
          ? keys(gateway, "cleared", wallets, million, AdmissionMode.ADMISSION_MODE_HARD, clearedWallets) : List.of();
      Thread.sleep(3_000); // soft mode reaches the gateway's cache through wallet.v1
      var health = HealthGrpc.newFutureStub(echoChannel);
      var admission = AdmissionServiceGrpc.newFutureStub(gateway).withCallCredentials(platform());
      Map<String, Target> targets = new LinkedHashMap<>() {
        @Override
        public Target put(String name, Target t) {
          return only.stream().anyMatch(name::startsWith) ? super.put(name, t) : null;
        }
      };
      targets.put("echo", i -> health.withDeadlineAfter(1, TimeUnit.SECONDS).check(HealthCheckRequest.getDefaultInstance()));
      targets.put("soft 1", admit(admission, soft.subList(0, 1)));
      targets.put("hard 1", admit(admission, hard.subList(0, 1)));
      targets.put("soft " + wallets, admit(admission, soft));
      targets.put("hard " + wallets, admit(admission, hard));
      if (withCleared) {
        targets.put("cleared 1", admit(admission, cleared.subList(0, 1)));
        targets.put("cleared " + wallets, admit(admission, cleared));
      }
      List<String> summary = new ArrayList<>();
      // Every successful hard Admit leaves a hold pending for its 10-minute TTL (nothing settles here):
      // the holds made so far are the pending holds the next hard measurement decides against.
      Map<String, Long> pending = new LinkedHashMap<>();
      Map<String, Double> bestRate = new LinkedHashMap<>();
      for (int concurrency : concurrencies) {
        Map<String, List<Result>> results = new LinkedHashMap<>();
        for (int r = 0; r <= rounds; r++) {
          for (var t : targets.entrySet()) {
            String walletsOf = t.getKey().startsWith("hard") ? "hard" : t.getKey();
            boolean clears = t.getKey().startsWith("cleared");
            long released = clears ? releasePending(stack.walletDatabase(), clearedWallets) : 0;
            long pendingBefore = pending.getOrDefault(walletsOf, 0L);
            Result res = run(t.getValue(), concurrency, seconds);
            if (t.getKey().startsWith("hard")) {
              pending.merge(walletsOf, res.okTotal(), Long::sum);
            }
            System.out.printf("c=%-5d %-8s %-11s %s%s%n", concurrency, r == 0 ? "warm-up" : "round " + r, t.getKey(), res,
                t.getKey().startsWith("hard") ? String.format("  (≥ %,d holds pending before)", pendingBefore)
                    : clears ? String.format("  (0 pending before: %,d released)", released) : "");
            if (r > 0) {
              results.computeIfAbsent(t.getKey(), k -> new ArrayList<>()).add(res);
            }
          }
        }
        double echoRate = results.containsKey("echo") ? median(results.get("echo"), Result::rate) : Double.NaN;
        for (var e : results.entrySet()) {
          bestRate.merge(e.getKey(), median(e.getValue(), Result::rate), Math::max);
          String line = String.format("c=%-5d %-11s %,8.0f calls/s  ÷ echo %.3f  p50 %6.1f ms  p99 %6.1f ms  "
              + "cpu %6.1f ms/1k  errors %s", concurrency, e.getKey(), median(e.getValue(), Result::rate),
              median(e.getValue(), Result::rate) / echoRate, median(e.getValue(), Result::p50),
              median(e.getValue(), Result::p99), median(e.getValue(), Result::cpuPer1k),
              e.getValue().getLast().errors());
          summary.add(line);
        }
        for (String n : List.of("1", String.valueOf(wallets))) {
          List<Result> piled = results.get("hard " + n);
          List<Result> none = results.get("cleared " + n);
          if (piled != null && none != null) {
            summary.add(String.format("c=%-5d hard %s with its holds pending ÷ the same with none: calls/s %.3f, "
                + "cpu/1k %.3f", concurrency, n, median(piled, Result::rate) / median(none, Result::rate),
                median(piled, Result::cpuPer1k) / median(none, Result::cpuPer1k)));
          }
        }
      }
      // Latency at half the best rate any concurrency reached: calls issued on a fixed schedule (open loop).
      for (var t : targets.entrySet()) {
        double best = bestRate.getOrDefault(t.getKey(), 0.0);
        if (best <= 0) {
          continue;
        }
        List<Result> paced = new ArrayList<>();
        for (int r = 0; r < Math.max(1, rounds); r++) {
          Result res = paced(t.getValue(), best / 2, seconds);
          System.out.printf("paced    round %d %-11s at %,.0f calls/s: %s%n", r + 1, t.getKey(), best / 2, res);
          paced.add(res);
        }
        summary.add(String.format("paced %-11s %,8.0f calls/s (half of %,.0f)  p50 %6.1f ms  p99 %6.1f ms  "
            + "max %6.1f ms  errors %s", t.getKey(), median(paced, Result::rate), best,
            median(paced, Result::p50), median(paced, Result::p99), median(paced, Result::max),
            paced.getLast().errors()));
      }
      System.out.println("summary (medians), load " + Files.readString(Path.of("/proc/loadavg")).trim());
      summary.forEach(l -> System.out.println("  " + l));
      gateway.shutdownNow();
      echoChannel.shutdownNow();
    } finally {
      echo.shutdownNow();
    }
  }

  /** {@code BENCH_THREADS=1}: each closed-loop measurement also prints its CPU by thread group. */
  private static final boolean BY_THREAD = "1".equals(System.getenv("BENCH_THREADS"));
  /**
   * The load client's own event loops ({@code bench-client}), as when the platform's backend calls from a
   * process of its own: on the servers' shared loops (grpc-java's default, {@code BENCH_SHARED_LOOPS=1}), the
   * client's reads and writes waited behind whatever a server did on the same thread. Same for every target.
   */
  private static final EventLoopGroup CLIENT_LOOPS = "1".equals(System.getenv("BENCH_SHARED_LOOPS")) ? null
      : Epoll.isAvailable() ? new EpollEventLoopGroup(2, new DefaultThreadFactory("bench-client", true))
      : new NioEventLoopGroup(2, new DefaultThreadFactory("bench-client", true));

  private static ManagedChannel client(int port) {
    NettyChannelBuilder b = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext();
    if (CLIENT_LOOPS != null) {
      b.eventLoopGroup(CLIENT_LOOPS)
          .channelType(CLIENT_LOOPS instanceof EpollEventLoopGroup ? EpollSocketChannel.class : NioSocketChannel.class);
    }
    return b.build();
  }

  /** Issues the i-th call. */
  private interface Target {
    ListenableFuture<?> call(long i);
  }

  private static Target admit(AdmissionServiceGrpc.AdmissionServiceFutureStub admission, List<String> keys) {
    return i -> admission.withDeadlineAfter(1, TimeUnit.SECONDS).admit(AdmitRequest.newBuilder()
        .setApiKeySecret(keys.get((int) (i % keys.size()))).setMeter("requests").setEstimatedCostNanos(1_000).build());
  }

  static CallCredentials platform() {
    Metadata m = new Metadata();
    m.put(AUTHORIZATION, "Bearer " + GatewayConfig.DEV_PLATFORM_TOKEN);
    return new CallCredentials() {
      @Override
      public void applyRequestMetadata(RequestInfo info, java.util.concurrent.Executor executor, MetadataApplier applier) {
        applier.apply(m);
      }
    };
  }

  /**
   * Releases every pending hold of {@code walletNames} (leases excepted; idle ones were given back already),
   * as if each had ended, and moves the wallets' versions so the wallet service reads them afresh.
   */
  static long releasePending(dev.tally.common.db.DatabaseConfig db, List<String> walletNames) throws Exception {
    try (java.sql.Connection c = java.sql.DriverManager.getConnection(db.url(), db.user(), db.password())) {
      c.createStatement().execute("set search_path to " + db.schema());
      var released = c.prepareStatement("""
          with r as (update holds set state = 'released', close_time = now()
                     where state = 'pending' and kind = 'hold' and wallet = any(?) returning wallet, amount),
               s as (select wallet, sum(amount) as total, count(*) as n from r group by wallet),
               u as (update wallets w set held = w.held - s.total, version = w.version + 1, update_time = now()
                     from s where w.name = s.wallet returning s.n)
          select coalesce(sum(n), 0) from u""");
      released.setArray(1, c.createArrayOf("text", walletNames.toArray()));
      try (var rs = released.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }

  /**
   * {@code count} teams with {@code depositNanos} each, their wallets in {@code mode} (their names added to
   * {@code walletNames}); their keys' secrets.
   */
  static List<String> keys(ManagedChannel gateway, String tag, int count, long depositNanos, AdmissionMode mode,
      List<String> walletNames) {
    var identity = IdentityServiceGrpc.newBlockingStub(gateway).withCallCredentials(platform());
    var wallet = WalletServiceGrpc.newBlockingStub(gateway).withCallCredentials(platform());
    List<String> secrets = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      String owner = identity.upsertUser(UpsertUserRequest.newBuilder().setExternalId("bench-" + tag + i)
          .setEmail("bench-" + tag + i + "@example.com").build()).getUser().getName();
      var asOwner = identity.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(actingUser(owner)));
      var team = asOwner.createTeam(CreateTeamRequest.newBuilder().setDisplayName("Bench " + tag + i).build()).getTeam();
      secrets.add(asOwner.createApiKey(CreateApiKeyRequest.newBuilder().setKind(ApiKeyKind.API_KEY_KIND_TEAM)
          .setTeam(team.getName()).setDisplayName("bench").build()).getSecret());
      wallet.deposit(DepositRequest.newBuilder().setWallet(team.getName()).setAmountNanos(depositNanos)
          .setCurrencyCode("USD").setExternalReference("bench-" + tag + i).build());
      wallet.setAdmissionMode(SetAdmissionModeRequest.newBuilder().setWallet(team.getName()).setMode(mode).build());
      walletNames.add(dev.tally.common.ids.Wallets.ofTeam(team.getName().substring("teams/".length())));
    }
    return secrets;
  }

  static Metadata actingUser(String user) {
    Metadata m = new Metadata();
    m.put(Metadata.Key.of("x-tally-user", Metadata.ASCII_STRING_MARSHALLER), user);
    return m;
  }

  /** What one measurement saw. */
  private record Result(double rate, double p50, double p99, double max, double cpuPer1k, Map<Status.Code, Long> errors,
      long okTotal) {
    @Override
    public String toString() {
      return String.format("%,8.0f calls/s  p50 %6.1f ms  p99 %6.1f ms  max %6.1f ms  cpu %6.1f ms/1k  errors %s",
          rate, p50, p99, max, cpuPer1k, errors);
    }
  }

  /** How the measured calls of one measurement ended: successes with their latencies, failures by code. */
  private static final class Outcomes {
    private final AtomicLong ok = new AtomicLong();
    private final Map<Status.Code, AtomicLong> errors = new ConcurrentHashMap<>();
    private final long[] latencies;
    private final AtomicLong recorded = new AtomicLong();

    Outcomes(int capacity) {
      latencies = new long[capacity];
    }

    void succeeded(long latencyNanos) {
      ok.incrementAndGet();
      long i = recorded.getAndIncrement();
      if (i < latencies.length) {
        latencies[(int) i] = latencyNanos;
      }
    }

    void failed(Throwable t) {
      errors.computeIfAbsent(Status.fromThrowable(t).getCode(), k -> new AtomicLong()).incrementAndGet();
    }

    /** The measurement over {@code seconds}, with the CPU it took. */
    Result result(int seconds, long cpuNanos) {
      long calls = ok.get();
      long total = calls + errors.values().stream().mapToLong(AtomicLong::get).sum();
      int n = (int) Math.min(recorded.get(), latencies.length);
      long[] sorted = Arrays.copyOf(latencies, n);
      Arrays.sort(sorted);
      Map<Status.Code, Long> errorCounts = new EnumMap<>(Status.Code.class);
      errors.forEach((k, v) -> errorCounts.put(k, v.get()));
      return new Result(calls / (double) seconds, pct(sorted, 0.50), pct(sorted, 0.99),
          n == 0 ? 0 : sorted[n - 1] / 1e6, cpuNanos / 1e6 / Math.max(1, total / 1000.0), errorCounts, calls);
    }
  }

  /**
   * Unmeasured seconds before a closed-loop measurement ({@code BENCH_WARMUP}, 1 by default). Hard mode on
   * 1,000 wallets starts each measurement cold (its leases were given back while other targets ran): every
   * subject's first lease covers 32 estimates and is replaced by one sized to its rate a few seconds later —
   * a longer warm-up measures the steady state after that instead.
   */
  private static final int WARMUP_SECONDS = Integer.parseInt(System.getenv().getOrDefault("BENCH_WARMUP", "1"));

  /** Keeps {@code concurrency} calls in flight for {@link #WARMUP_SECONDS}, then for {@code seconds}, measured. */
  private static Result run(Target target, int concurrency, int seconds) throws Exception {
    long warmUntil = System.nanoTime() + TimeUnit.SECONDS.toNanos(WARMUP_SECONDS);
    long end = warmUntil + TimeUnit.SECONDS.toNanos(seconds);
    AtomicLong issued = new AtomicLong();
    Outcomes outcomes = new Outcomes(4_000_000);
    CountDownLatch done = new CountDownLatch(concurrency);
    for (int c = 0; c < concurrency; c++) {
      chain(target, issued, outcomes, done, warmUntil, end);
    }
    Thread.sleep(Math.max(0, (warmUntil - System.nanoTime()) / 1_000_000));
    long cpu0 = cpuNanos();
    ThreadCpu threads0 = BY_THREAD ? ThreadCpu.now() : null;
    done.await(seconds + 30L, TimeUnit.SECONDS);
    Result result = outcomes.result(seconds, cpuNanos() - cpu0);
    if (threads0 != null) {
      System.out.println("    cpu ms/1k by thread: " + ThreadCpu.now().since(threads0,
          Math.max(1, (long) (result.rate() * seconds)), 0.01));
    }
    return result;
  }

  /**
   * Unmeasured seconds before a paced measurement. Its target sat idle meanwhile, so hard mode starts it cold:
   * every subject's first call waits for a lease, and 1,000 of them took 1.5–2 s to be granted on a 2-core
   * machine — with one second of warm-up a paced round's p99 was that cold start's tail, not the steady
   * latency it is meant to show. {@code BENCH_PACED_WARMUP} overrides it (1 reproduces the older runs).
   */
  private static final int PACED_WARMUP_SECONDS = Integer.parseInt(
      System.getenv().getOrDefault("BENCH_PACED_WARMUP", "3"));

  /**
   * Calls issued on a fixed schedule at {@code rate} per second for {@link #PACED_WARMUP_SECONDS}, then for
   * {@code seconds}, measured; each call's latency runs from when it was due (a late issue counts against the
   * target), and calls never wait for each other.
   */
  private static Result paced(Target target, double rate, int seconds) throws Exception {
    long start = System.nanoTime();
    long warmUntil = start + TimeUnit.SECONDS.toNanos(PACED_WARMUP_SECONDS);
    long end = warmUntil + TimeUnit.SECONDS.toNanos(seconds);
    long interval = (long) (1e9 / rate);
    Outcomes outcomes = new Outcomes((int) Math.min(4_000_000, rate * seconds + 1_000));
    AtomicLong outstanding = new AtomicLong();
    long cpu0 = 0;
    long i = 0;
    // Wakes every half millisecond and issues every call due by then: a wake-up per call cost the client
    // more than the echo server's whole call, and fell behind.
    while (true) {
      java.util.concurrent.locks.LockSupport.parkNanos(500_000);
      long now = System.nanoTime();
      if (now >= end) {
        break;
      }
      if (cpu0 == 0 && now >= warmUntil) {
        cpu0 = cpuNanos();
      }
      for (long due = start + i * interval; due <= now && due < end; due = start + ++i * interval) {
        long dueAt = due;
        boolean measured = due >= warmUntil;
        outstanding.incrementAndGet();
        Futures.addCallback(target.call(i), new FutureCallback<Object>() {
          @Override
          public void onSuccess(Object result) {
            if (measured) {
              outcomes.succeeded(System.nanoTime() - dueAt);
            }
            outstanding.decrementAndGet();
          }

          @Override
          public void onFailure(Throwable t) {
            if (measured) {
              outcomes.failed(t);
            }
            outstanding.decrementAndGet();
          }
        }, MoreExecutors.directExecutor());
      }
    }
    while (outstanding.get() > 0 && System.nanoTime() < end + TimeUnit.SECONDS.toNanos(5)) {
      Thread.sleep(1);
    }
    return outcomes.result(seconds, cpuNanos() - cpu0);
  }

  /** One of the concurrent call chains: the next call starts when the previous one ends. */
  private static void chain(Target target, AtomicLong issued, Outcomes outcomes, CountDownLatch done,
      long warmUntil, long end) {
    long started = System.nanoTime();
    if (started >= end) {
      done.countDown();
      return;
    }
    boolean measured = started >= warmUntil;
    Futures.addCallback(target.call(issued.getAndIncrement()), new FutureCallback<Object>() {
      @Override
      public void onSuccess(Object result) {
        if (measured) {
          outcomes.succeeded(System.nanoTime() - started);
        }
        chain(target, issued, outcomes, done, warmUntil, end);
      }

      @Override
      public void onFailure(Throwable t) {
        if (measured) {
          outcomes.failed(t);
        }
        // A failure may complete on the calling thread: start the next call elsewhere, not deeper in this stack.
        java.util.concurrent.ForkJoinPool.commonPool().execute(() -> chain(target, issued, outcomes, done,
            warmUntil, end));
      }
    }, MoreExecutors.directExecutor());
  }

  private static double pct(long[] sorted, double p) {
    if (sorted.length == 0) {
      return 0;
    }
    return sorted[(int) Math.min(sorted.length - 1, Math.ceil(sorted.length * p) - 1)] / 1e6;
  }

  private static double median(List<Result> rs, java.util.function.ToDoubleFunction<Result> f) {
    double[] v = rs.stream().mapToDouble(f).sorted().toArray();
    return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  }

  /** CPU of this JVM (the stack, the echo server and the client) plus every PostgreSQL process. */
  private static long cpuNanos() {
    long jvm = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
    long ticks = ProcessHandle.allProcesses().filter(p -> {
      try {
        return Files.readString(Path.of("/proc", Long.toString(p.pid()), "comm")).trim().equals("postgres");
      } catch (Exception gone) {
        return false;
      }
    }).mapToLong(p -> {
      try {
        String stat = Files.readString(Path.of("/proc", Long.toString(p.pid()), "stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
      } catch (Exception gone) {
        return 0;
      }
    }).sum();
    return jvm + ticks * 10_000_000L;
  }
}
