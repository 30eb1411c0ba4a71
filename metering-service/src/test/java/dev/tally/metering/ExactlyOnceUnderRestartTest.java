package dev.tally.metering;

import static dev.tally.metering.PipelineFixture.DOLLAR;
import static dev.tally.metering.PipelineFixture.record;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tally.common.auth.Caller;
import dev.tally.common.kafka.KafkaClients;
import dev.tally.common.kafka.Topics;
import dev.tally.common.kafka.TransactionalConsumer;
import dev.tally.common.testing.Await;
import dev.tally.common.testing.TestInfra;
import dev.tally.metering.PipelineFixture.Setup;
import dev.tally.proto.metering.v1.RecordStatus;
import dev.tally.proto.metering.v1.RecordUsageRequest;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The wallet's usage consumer is killed mid-stream and restarted: nothing is lost, nothing charged twice. */
class ExactlyOnceUnderRestartTest {
  private static PipelineFixture f;

  @BeforeAll
  static void start() throws Exception {
    f = new PipelineFixture(ExactlyOnceUnderRestartTest.class);
  }

  @AfterAll
  static void stop() {
    f.close();
  }

  @Test
  void consumerKilledAndRestartedLosesAndDuplicatesNothing() throws Exception {
    Setup s = f.setup("restart", 1_000 * DOLLAR);
    int batches = 10;
    int perBatch = 200;
    long accepted = 0;
    long expectedCost = 0;
    long appliedBefore = f.wallet.usage().appliedEvents();
    TransactionalConsumer replacement = null;
    try {
      for (int b = 0; b < batches; b++) {
        RecordUsageRequest.Builder req = RecordUsageRequest.newBuilder();
        for (int i = 0; i < perBatch; i++) {
          req.addRecords(record("rs-" + b + "-" + i, s.key(), "output_tokens", 100 + i, Instant.now()));
        }
        var results = f.metering(Caller.PLATFORM).recordUsage(req.build()).getResultsList();
        for (var r : results) {
          assertEquals(RecordStatus.RECORD_STATUS_ACCEPTED, r.getStatus());
          accepted++;
          expectedCost += r.getCostNanos();
        }
        if (b == 3) {
          // Kill the consumer once it has committed part of the stream, keep producing, then start a new one.
          Await.until("some usage applied", Duration.ofSeconds(60),
              () -> f.wallet.usage().appliedEvents() > appliedBefore);
          f.wallet.usageConsumer().close();
        }
        if (b == 6) {
          replacement = new TransactionalConsumer(f.wallet.db(), new KafkaClients(TestInfra.kafka(), null),
              "wallet-usage", Topics.USAGE, "wallet-usage-restarted", f.wallet.usage()::apply).start();
        }
      }
      f.awaitBalance(s.team().getWallet(), 1_000 * DOLLAR - expectedCost);
      var transfers = f.usageTransfers(s.team().getWallet());
      assertEquals(accepted, transfers.size(), "one usage transfer per accepted event");
      assertEquals(accepted, transfers.stream().map(t -> t.getUsageEventId()).distinct().count());
      assertEquals(expectedCost, f.usageDebits(s.team().getWallet()));
      f.assertReconciled();
      assertEquals((long) batches * perBatch, accepted);
    } finally {
      if (replacement != null) {
        replacement.close();
      }
    }
  }
}
