package dev.tally.metering;

import static dev.tally.metering.PipelineFixture.DOLLAR;
import static dev.tally.metering.PipelineFixture.record;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.common.auth.Caller;
import dev.tally.common.embedded.EmbeddedKafkaBroker;
import dev.tally.common.error.Failures;
import dev.tally.common.kafka.KafkaConfig;
import dev.tally.common.testing.Await;
import dev.tally.common.testing.GrpcAssertions;
import dev.tally.metering.PipelineFixture.Setup;
import dev.tally.proto.metering.v1.*;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The broker away: RecordUsage answers UNAVAILABLE KAFKA_UNAVAILABLE within the caller's deadline (nothing
 * is claimed), and once the broker is back the same ids are accepted once and debited once.
 */
class KafkaOutageTest {
  private static EmbeddedKafkaBroker broker;
  private static PipelineFixture f;

  @BeforeAll
  static void start() throws Exception {
    broker = EmbeddedKafkaBroker.startEphemeral(); // our own: the outage must not touch other tests
    f = new PipelineFixture(KafkaOutageTest.class, KafkaConfig.plaintext(broker.bootstrapServers()));
  }

  @AfterAll
  static void stop() {
    f.close();
    broker.close();
  }

  private static RecordUsageResponse recordWithin(Duration deadline, UsageRecord.Builder... records) {
    RecordUsageRequest.Builder b = RecordUsageRequest.newBuilder();
    for (UsageRecord.Builder r : records) {
      b.addRecords(r);
    }
    return MeteringServiceGrpc.newBlockingStub(f.meteringChannel).withCallCredentials(f.signer.credentials(
        Caller.PLATFORM)).withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS).recordUsage(b.build());
  }

  @Test
  void unavailableWithinTheDeadlineThenTheSameIdsAreAcceptedOnce() {
    Setup s = f.setup("outage", 10 * DOLLAR);
    Instant now = Instant.now();
    assertEquals(RecordStatus.RECORD_STATUS_ACCEPTED,
        recordWithin(Duration.ofSeconds(10), record("k-1", s.key(), "output_tokens", 1_000, now)).getResults(0)
            .getStatus());

    broker.stopBroker();
    long t0 = System.nanoTime();
    StatusRuntimeException e = GrpcAssertions.assertFails(Status.Code.UNAVAILABLE, Failures.KAFKA_UNAVAILABLE,
        () -> recordWithin(Duration.ofSeconds(3), record("k-2", s.key(), "output_tokens", 1_000, now),
            record("k-3", s.key(), "output_tokens", 1_000, now)));
    long ms = (System.nanoTime() - t0) / 1_000_000;
    assertTrue(ms < 3_000, "answered within the 3 s deadline, took " + ms + " ms: " + e.getStatus());

    broker.restartBroker();
    RecordUsageResponse retried = Await.value("accepted after the broker is back", Duration.ofSeconds(60), () -> {
      try {
        return recordWithin(Duration.ofSeconds(5), record("k-2", s.key(), "output_tokens", 1_000, now),
            record("k-3", s.key(), "output_tokens", 1_000, now));
      } catch (StatusRuntimeException unavailable) {
        assertEquals(Status.Code.UNAVAILABLE, unavailable.getStatus().getCode(), "only retryable answers");
        return null;
      }
    }, r -> r != null);
    retried.getResultsList().forEach(r -> assertEquals(RecordStatus.RECORD_STATUS_ACCEPTED, r.getStatus()));
    recordWithin(Duration.ofSeconds(10), record("k-2", s.key(), "output_tokens", 1_000, now),
        record("k-3", s.key(), "output_tokens", 1_000, now)).getResultsList()
        .forEach(r -> assertEquals(RecordStatus.RECORD_STATUS_DUPLICATE, r.getStatus()));
    System.out.printf("kafka outage: RecordUsage answered UNAVAILABLE in %d ms (deadline 3,000 ms)%n", ms);

    f.awaitBalance(s.team().getWallet(), 10 * DOLLAR - 3 * 600_000L);
    assertEquals(3, f.usageTransfers(s.team().getWallet()).size(), "each event debited once");
    f.assertReconciled();
  }
}
