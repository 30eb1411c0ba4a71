package dev.tally.metering;

import static dev.tally.metering.PipelineFixture.DOLLAR;
import static dev.tally.metering.PipelineFixture.record;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.common.auth.Caller;
import dev.tally.common.error.Reasons;
import dev.tally.common.grpc.ProtoTime;
import dev.tally.common.kafka.KafkaClients;
import dev.tally.common.kafka.Topics;
import dev.tally.common.testing.Await;
import dev.tally.common.testing.GrpcAssertions;
import dev.tally.common.testing.TestInfra;
import dev.tally.metering.PipelineFixture.Setup;
import dev.tally.proto.events.v1.UsageEvent;
import dev.tally.proto.metering.v1.*;
import dev.tally.proto.operations.v1.ParkedEvent;
import dev.tally.proto.operations.v1.ParkedEventFilter;
import dev.tally.proto.wallet.v1.ReconcileRequest;
import io.grpc.Status;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Poison among good usage: what storage cannot hold is refused at the edge; what reaches the topic anyway
 * (another producer, an old bug) is parked by the wallet and by the rollups with its error, listed, owed on
 * the wallet, and never stops anyone's debits.
 */
class PoisonUsageTest {
  private static PipelineFixture f;

  @BeforeAll
  static void start() throws Exception {
    f = new PipelineFixture(PoisonUsageTest.class);
  }

  @AfterAll
  static void stop() {
    f.close();
  }

  @Test
  void poisonIsRefusedAtTheEdge() {
    Setup s = f.setup("edge", 10 * DOLLAR);
    Instant now = Instant.now();
    GrpcAssertions.assertFails(Status.Code.INVALID_ARGUMENT, Reasons.INVALID_ARGUMENT,
        () -> f.recordUsage(record("nul", s.key(), "output_tokens", 1, now).setModel("gpt\u0000x")));
    GrpcAssertions.assertFails(Status.Code.INVALID_ARGUMENT, Reasons.INVALID_ARGUMENT,
        () -> f.recordUsage(record("far", s.key(), "output_tokens", 1, now)
            .setOccurredAt(com.google.protobuf.Timestamp.newBuilder().setSeconds(Long.MAX_VALUE))));
    RecordUsageResponse r = f.recordUsage(
        record("max-1", s.key(), "requests", Long.MAX_VALUE, now),
        record("max-2", s.key(), "requests", Long.MAX_VALUE, now),
        record("costly", s.key(), "gpu_seconds", 999_999_999_999_999L, now),
        record("fine", s.key(), "output_tokens", 1_000, now));
    assertEquals(List.of("QUANTITY_TOO_LARGE", "QUANTITY_TOO_LARGE", "COST_TOO_LARGE", ""),
        r.getResultsList().stream().map(RecordResult::getReason).toList());
    f.awaitBalance(s.team().getWallet(), 10 * DOLLAR - 600_000L);
  }

  @Test
  void poisonOnTheTopicIsParkedListedAndOwedWhileGoodUsageIsDebited() throws Exception {
    Setup s = f.setup("topic", 10 * DOLLAR);
    String wallet = s.team().getWallet();
    Instant now = Instant.now();
    UsageEvent nul = UsageEvent.newBuilder().setEventId("poison-nul").setBillingAccount(wallet)
        .setTeam(s.team().getName()).setApiKey(s.key()).setMeter("output_tokens").setModel("gpt\u0000x")
        .setQuantity(1_000).setCostNanos(600_000).setCurrencyCode("USD").setOccurredAt(ProtoTime.ts(now))
        .setRecordedAt(ProtoTime.ts(now)).build();
    try (KafkaProducer<String, byte[]> producer = new KafkaClients(TestInfra.kafka(), null).producer("poison")) {
      producer.send(new ProducerRecord<>(Topics.USAGE, wallet, nul.toByteArray())).get();
      producer.send(new ProducerRecord<>(Topics.USAGE, wallet, new byte[] {(byte) 0xff, 0x01, 0x02})).get();
      // A discount larger than the cost would credit the team: refused like any bad record.
      producer.send(new ProducerRecord<>(Topics.USAGE, wallet, nul.toBuilder().setEventId("poison-discount")
          .setModel("m").setDiscountNanos(600_001).build().toByteArray())).get();
    }
    for (int i = 0; i < 20; i++) {
      f.recordUsage(record("good-" + i, s.key(), "output_tokens", 1_000, now));
    }
    f.awaitBalance(wallet, 10 * DOLLAR - 20 * 600_000L);

    List<ParkedEvent> walletParked = Await.value("wallet parked all three", Duration.ofSeconds(30),
        () -> parkedFor(f.wallet(Caller.PLATFORM).listParkedEvents(dev.tally.proto.wallet.v1.ListParkedEventsRequest
            .newBuilder().setFilter(ParkedEventFilter.getDefaultInstance()).setPageSize(1000).build())
            .getParkedEventsList(), wallet), l -> l.size() == 3);
    assertTrue(walletParked.stream().anyMatch(p -> p.getUsageEventId().equals("poison-discount")
        && p.getError().contains("discount")));
    ParkedEvent owed = walletParked.stream().filter(p -> p.getUsageEventId().equals("poison-nul")).findFirst()
        .orElseThrow();
    assertEquals(600_000, owed.getCostNanos());
    assertEquals("wallet-usage", owed.getConsumerGroup());
    assertTrue(owed.getError().contains("0x00"), owed.getError());
    assertTrue(walletParked.stream().anyMatch(p -> p.getError().contains("unreadable usage record")));

    var w = f.walletOf(wallet);
    assertEquals(2 * 600_000, w.getParkedUsageNanos(), "a parked usage event is money owed");
    assertEquals(3, w.getParkedUsageEvents());
    var statement = f.wallet(Caller.PLATFORM).listTransfers(dev.tally.proto.wallet.v1.ListTransfersRequest.newBuilder()
        .setWallet(wallet).build());
    assertEquals(2 * 600_000, statement.getParkedUsageNanos(), "the statement shows what is owed");
    var reconciliation = f.wallet(Caller.PLATFORM).reconcile(ReconcileRequest.getDefaultInstance());
    assertTrue(reconciliation.getBalanced());
    assertTrue(reconciliation.getParkedUsageEvents() >= 3);

    Await.value("rollups parked all three", Duration.ofSeconds(30),
        () -> parkedFor(f.metering(Caller.PLATFORM).listParkedEvents(ListParkedEventsRequest.newBuilder()
            .setPageSize(1000).build()).getParkedEventsList(), wallet), l -> l.size() == 3);
    Await.until("good usage rolled up", Duration.ofSeconds(30), () -> f.metering(s.owner().caller())
        .getUsageSummary(GetUsageSummaryRequest.newBuilder().setSubject(s.team().getName()).build()).getCalls() == 20);

    // Replaying what is still bad leaves it parked, with its error, and changes nothing.
    var replay = f.wallet(Caller.PLATFORM).replayParkedEvents(dev.tally.proto.wallet.v1.ReplayParkedEventsRequest
        .newBuilder().addIds(owed.getId()).build());
    assertFalse(replay.getResults(0).getApplied());
    assertEquals(10 * DOLLAR - 20 * 600_000L, f.walletOf(wallet).getBalanceNanos());
    GrpcAssertions.assertFails(Status.Code.PERMISSION_DENIED, Reasons.ROLE_FORBIDDEN,
        () -> f.wallet(s.owner().caller()).listParkedEvents(
            dev.tally.proto.wallet.v1.ListParkedEventsRequest.getDefaultInstance()));
  }

  private static List<ParkedEvent> parkedFor(List<ParkedEvent> all, String wallet) {
    return all.stream().filter(p -> p.getKey().equals(wallet)).toList();
  }
}
