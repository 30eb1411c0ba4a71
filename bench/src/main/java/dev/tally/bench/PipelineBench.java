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
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * End-to-end usage throughput: RecordUsage batches into metering → usage.v1 → the wallet's debits, on the
 * embedded stack. Reports records acknowledged per second and events debited per second (until the wallet's
 * balance shows the last one). Arguments: total events (default 50000), batch size (500), client threads (4).
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

      ExecutorService pool = Executors.newFixedThreadPool(threads);
      long t0 = System.nanoTime();
      List<Future<Long>> futures = new ArrayList<>();
      int batches = total / batch;
      for (int t = 0; t < threads; t++) {
        int thread = t;
        futures.add(pool.submit(() -> {
          long cost = 0;
          for (int b = thread; b < batches; b += threads) {
            RecordUsageRequest.Builder req = RecordUsageRequest.newBuilder();
            for (int i = 0; i < batch; i++) {
              req.addRecords(UsageRecord.newBuilder().setEventId("b" + b + "-" + i).setApiKey(key)
                  .setMeter("output_tokens").setQuantity(100).setOccurredAt(ProtoTime.ts(Instant.now())));
            }
            for (RecordResult r : meteringStub.recordUsage(req.build()).getResultsList()) {
              cost += r.getCostNanos();
            }
          }
          return cost;
        }));
      }
      long cost = 0;
      for (Future<Long> f : futures) {
        cost += f.get();
      }
      long acked = System.nanoTime();
      long expected = start - cost;
      while (walletStub.getWallet(GetWalletRequest.newBuilder().setName(team.getWallet()).build()).getWallet()
          .getBalanceNanos() != expected) {
        Thread.sleep(20);
      }
      long debited = System.nanoTime();
      pool.shutdown();
      int n = batches * batch;
      System.out.printf("events=%d batch=%d threads=%d%n", n, batch, threads);
      System.out.printf("recorded (acked after Kafka): %.0f events/s (%.2f s)%n", n / secs(acked - t0), secs(acked - t0));
      System.out.printf("debited end to end:          %.0f events/s (%.2f s)%n", n / secs(debited - t0), secs(debited - t0));
      ReconcileResponse rec = walletStub.reconcile(ReconcileRequest.getDefaultInstance());
      System.out.printf("ledger balanced: %s (%d transfers)%n", rec.getBalanced(), rec.getTransfersChecked());
      identity.shutdownNow();
      wallet.shutdownNow();
      metering.shutdownNow();
    }
  }

  private static double secs(long elapsed) {
    return elapsed / 1e9; // elapsed time in nanoseconds, not money
  }

  private static ManagedChannel channel(int port) {
    return NettyChannelBuilder.forAddress("localhost", port).usePlaintext().build();
  }
}
