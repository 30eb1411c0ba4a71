package dev.tally.metering;

import static dev.tally.metering.PipelineFixture.DOLLAR;
import static dev.tally.metering.PipelineFixture.assertResult;
import static dev.tally.metering.PipelineFixture.record;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.common.auth.Caller;
import dev.tally.common.grpc.ProtoTime;
import dev.tally.metering.PipelineFixture.Setup;
import dev.tally.proto.metering.v1.*;
import dev.tally.proto.wallet.v1.*;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class UsagePipelineTest {
  private static PipelineFixture f;

  @BeforeAll
  static void start() throws Exception {
    f = new PipelineFixture(UsagePipelineTest.class);
  }

  @AfterEach
  void reconciled() {
    f.assertReconciled();
  }

  @AfterAll
  static void stop() {
    f.close();
  }

  @Test
  void recordsInExactBalanceOut() {
    Setup s = f.setup("exact", 10 * DOLLAR);
    Instant now = Instant.now();
    RecordUsageResponse r = f.recordUsage(
        record("ex-cpu", s.key(), "cpu_seconds", 90_000, now),        // 90 s of CPU at $0.0001/s = $0.009
        record("ex-gpu", s.key(), "gpu_seconds", 3_600_000, now),     // 1 h of GPU at $0.0003/s = $1.08
        record("ex-out", s.key(), "meters/output_tokens", 1_000, now)); // 1000 tokens at $0.60/M = $0.0006
    assertEquals(List.of(9_000_000L, 1_080_000_000L, 600_000L),
        r.getResultsList().stream().map(RecordResult::getCostNanos).toList());
    r.getResultsList().forEach(x -> assertResult(x, RecordStatus.RECORD_STATUS_ACCEPTED, ""));
    f.awaitBalance(s.team().getWallet(), 10 * DOLLAR - 9_000_000L - 1_080_000_000L - 600_000L);
  }

  @Test
  void theSameBatchThreeTimesDebitsOnce() {
    Setup s = f.setup("thrice", 10 * DOLLAR);
    Instant now = Instant.now();
    for (int i = 0; i < 3; i++) {
      RecordUsageResponse r = f.recordUsage(record("th-1", s.key(), "output_tokens", 10_000, now),
          record("th-2", s.key(), "input_tokens", 20_000, now));
      RecordStatus expected = i == 0 ? RecordStatus.RECORD_STATUS_ACCEPTED : RecordStatus.RECORD_STATUS_DUPLICATE;
      r.getResultsList().forEach(x -> assertResult(x, expected, ""));
      assertEquals(6_000_000L, r.getResults(0).getCostNanos());
    }
    f.awaitBalance(s.team().getWallet(), 10 * DOLLAR - 6_000_000L - 3_000_000L);
    assertEquals(6_000_000L + 3_000_000L, f.usageDebits(s.team().getWallet()));
  }

  /** An id repeated within one request: the first takes the claim, the copy is answered against it. */
  @Test
  void anIdRepeatedInOneRequestIsChargedOnce() {
    Setup s = f.setup("repeat", 10 * DOLLAR);
    Instant now = Instant.now();
    RecordUsageResponse r = f.recordUsage(record("rp-1", s.key(), "output_tokens", 1_000, now),
        record("rp-1", s.key(), "output_tokens", 1_000, now), record("rp-2", s.key(), "output_tokens", 1_000, now),
        record("rp-2", s.key(), "output_tokens", 2_000, now));
    assertResult(r.getResults(0), RecordStatus.RECORD_STATUS_ACCEPTED, "");
    assertResult(r.getResults(1), RecordStatus.RECORD_STATUS_DUPLICATE, "");
    assertEquals(600_000L, r.getResults(1).getCostNanos());
    assertResult(r.getResults(2), RecordStatus.RECORD_STATUS_ACCEPTED, "");
    assertResult(r.getResults(3), RecordStatus.RECORD_STATUS_REJECTED, "IDEMPOTENCY_KEY_REUSED");
    f.awaitBalance(s.team().getWallet(), 10 * DOLLAR - 2 * 600_000L);
  }

  @Test
  void aConflictingReplayIsRejectedAndNotCharged() {
    Setup s = f.setup("conflict", 10 * DOLLAR);
    Instant now = Instant.now();
    f.recordUsage(record("cf-1", s.key(), "output_tokens", 1_000, now));
    RecordUsageResponse r = f.recordUsage(record("cf-1", s.key(), "output_tokens", 999_999, now),
        record("cf-2", s.key(), "output_tokens", 1_000, now));
    assertResult(r.getResults(0), RecordStatus.RECORD_STATUS_REJECTED, "IDEMPOTENCY_KEY_REUSED");
    assertResult(r.getResults(1), RecordStatus.RECORD_STATUS_ACCEPTED, "");
    f.awaitBalance(s.team().getWallet(), 10 * DOLLAR - 2 * 600_000L);
  }

  @Test
  void badRecordsAreRejectedOneByOneAndGoodOnesStillCount() {
    Setup s = f.setup("reject", 10 * DOLLAR);
    Instant now = Instant.now();
    RecordUsageResponse r = f.recordUsage(
        record("rj-meter", s.key(), "teleport_seconds", 1, now),
        record("rj-neg", s.key(), "output_tokens", -5, now),
        record("rj-future", s.key(), "output_tokens", 1, now.plus(Duration.ofHours(1))),
        record("rj-old", s.key(), "output_tokens", 1, now.minus(Duration.ofDays(30))),
        record("rj-key", "apiKeys/nope", "output_tokens", 1, now),
        record("rj-hold", s.key(), "output_tokens", 1, now).setHold("wallets/team-other/holds/h"),
        record("rj-ok", s.key(), "output_tokens", 1_000, now));
    List<String> reasons = r.getResultsList().stream().map(RecordResult::getReason).toList();
    assertEquals(List.of("UNKNOWN_METER", "NEGATIVE_QUANTITY", "OCCURRED_IN_FUTURE", "OCCURRED_TOO_LONG_AGO",
        "UNKNOWN_KEY", "UNKNOWN_HOLD", ""), reasons);
    f.awaitBalance(s.team().getWallet(), 10 * DOLLAR - 600_000L);
    RecordUsageRequest.Builder tooMany = RecordUsageRequest.newBuilder();
    for (int i = 0; i < 501; i++) {
      tooMany.addRecords(record("big-" + i, s.key(), "requests", 1, now));
    }
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> f.metering(Caller.PLATFORM).recordUsage(tooMany.build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    StatusRuntimeException denied = assertThrows(StatusRuntimeException.class,
        () -> f.metering(s.member().caller()).recordUsage(RecordUsageRequest.newBuilder()
            .addRecords(record("self", s.key(), "requests", 1, now)).build()));
    assertEquals(Status.Code.PERMISSION_DENIED, denied.getStatus().getCode());
  }

  /** Pricing caches discounts; a change the consumer commits applies to the very next call all the same. */
  @Test
  void aDiscountChangeAppliesToTheNextRecordedUsage() {
    Setup s = f.setup("disc-change", 10 * DOLLAR);
    String w = s.team().getWallet();
    Instant now = Instant.now();
    assertEquals(600_000L, f.recordUsage(record("dc-1", s.key(), "output_tokens", 1_000, now)).getResults(0)
        .getNetCostNanos());
    f.wallet(Caller.PLATFORM).setDiscount(SetDiscountRequest.newBuilder().setWallet(w).setDiscountBasisPoints(2_000)
        .build());
    f.awaitDiscountKnown(w, 2_000);
    assertEquals(480_000L, f.recordUsage(record("dc-2", s.key(), "output_tokens", 1_000, now)).getResults(0)
        .getNetCostNanos());
    f.wallet(Caller.PLATFORM).setDiscount(SetDiscountRequest.newBuilder().setWallet(w).setDiscountBasisPoints(0)
        .build());
    f.awaitDiscountKnown(w, 0);
    assertEquals(600_000L, f.recordUsage(record("dc-3", s.key(), "output_tokens", 1_000, now)).getResults(0)
        .getNetCostNanos());
  }

  @Test
  void discountAndGrantOrderApplyToRecordedUsage() {
    Setup s = f.setup("disc", 10 * DOLLAR);
    String w = s.team().getWallet();
    f.wallet(Caller.PLATFORM).setDiscount(SetDiscountRequest.newBuilder().setWallet(w).setDiscountBasisPoints(1_000)
        .build());
    f.wallet(Caller.PLATFORM).grantCredits(GrantCreditsRequest.newBuilder().setWallet(w).setAmountNanos(DOLLAR / 2)
        .setRequestId("g1").build());
    f.awaitDiscountKnown(w, 1_000);
    // $1.08 of GPU at 10 % off = $0.972: $0.50 from the grant first, $0.472 paid.
    Instant at = Instant.now();
    RecordResult priced = f.recordUsage(record("dg-1", s.key(), "gpu_seconds", 3_600_000, at)).getResults(0);
    assertEquals(1_080_000_000L, priced.getCostNanos());
    assertEquals(972_000_000L, priced.getNetCostNanos(), "the client learns what the wallet debits");
    Wallet after = f.awaitBalance(w, 10 * DOLLAR + DOLLAR / 2 - 972_000_000L);
    assertEquals(0, after.getGrantedBalanceNanos());
    assertEquals(10 * DOLLAR - 472_000_000L, after.getPaidBalanceNanos());
    // GetUsage names both: list spend before the discount, net spend equal to the ledger's usage debits.
    dev.tally.common.testing.Await.until("rollup", java.time.Duration.ofSeconds(20), () -> summary(s).getCalls() == 1);
    GetUsageSummaryResponse usage = summary(s);
    assertEquals(1_080_000_000L, usage.getListSpendNanos());
    assertEquals(972_000_000L, usage.getNetSpendNanos());
    assertEquals(f.usageDebits(w), usage.getNetSpendNanos());
    // A replay answers with the first acceptance's prices.
    RecordResult replay = f.recordUsage(record("dg-1", s.key(), "gpu_seconds", 3_600_000, at)).getResults(0);
    assertEquals(RecordStatus.RECORD_STATUS_DUPLICATE, replay.getStatus());
    assertEquals(972_000_000L, replay.getNetCostNanos());
  }

  private static GetUsageSummaryResponse summary(Setup s) {
    return f.metering(Caller.PLATFORM).getUsageSummary(GetUsageSummaryRequest.newBuilder()
        .setSubject(s.team().getName()).build());
  }

  @Test
  void aPriceChangeAppliesToUsageThatOccursAfterIt() {
    Setup s = f.setup("price", 100 * DOLLAR);
    Instant before = Instant.now().minus(Duration.ofHours(2)).truncatedTo(ChronoUnit.SECONDS);
    Instant change = Instant.now().minus(Duration.ofHours(1)).truncatedTo(ChronoUnit.SECONDS);
    // Priced just before the change (the catalog is now cached for usage): the change must still apply at once.
    assertEquals(600_000_000L, f.recordUsage(record("pr-just-before", s.key(), "output_tokens", 1_000_000,
        Instant.now()).setModel("model-price-test")).getResults(0).getCostNanos());
    Price p = f.metering(Caller.PLATFORM).setPrice(SetPriceRequest.newBuilder().setMeter("output_tokens")
        .setModel("model-price-test").setPriceNanos(2_000_000_000L).setPerQuantity(1_000_000)
        .setEffectiveTime(ProtoTime.ts(change)).build()).getPrice();
    assertEquals("meters/output_tokens", p.getMeter());
    RecordUsageResponse r = f.recordUsage(
        record("pr-old", s.key(), "output_tokens", 1_000_000, before).setModel("model-price-test"),
        record("pr-new", s.key(), "output_tokens", 1_000_000, Instant.now()).setModel("model-price-test"));
    assertEquals(600_000_000L, r.getResults(0).getCostNanos()); // default $0.60/M before the change
    assertEquals(2_000_000_000L, r.getResults(1).getCostNanos()); // $2/M after it
    assertTrue(f.metering(Caller.PLATFORM).listPrices(ListPricesRequest.newBuilder().setMeter("output_tokens").build())
        .getPricesList().stream().anyMatch(x -> x.getModel().equals("model-price-test")));
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> f.metering(s.owner().caller())
        .setPrice(SetPriceRequest.newBuilder().setMeter("output_tokens").setPriceNanos(1).build()));
    assertEquals(Status.Code.PERMISSION_DENIED, e.getStatus().getCode());
    f.awaitBalance(s.team().getWallet(), 100 * DOLLAR - 3_200_000_000L);
  }

  /** After a usage flow the business series are on both services' Prometheus endpoints. */
  @Test
  void theMetricsEndpointsShowTheUsageFlow() throws Exception {
    Setup s = f.setup("metrics", 10 * DOLLAR);
    Instant now = Instant.now();
    f.recordUsage(record("metrics-1", s.key(), "output_tokens", 1_000, now),
        record("metrics-2", s.key(), "warp_drive", 1, now));
    f.recordUsage(record("metrics-1", s.key(), "output_tokens", 1_000, now));
    f.awaitBalance(s.team().getWallet(), 10 * DOLLAR - 600_000L);
    String metering = PipelineFixture.scrape(f.metering.server().metricsPort());
    assertTrue(metering.contains("tally_usage_records_total{reason=\"\",result=\"accepted\",service=\"metering\"}"),
        metering);
    assertTrue(metering.contains("reason=\"UNKNOWN_METER\",result=\"rejected\""));
    assertTrue(metering.contains("result=\"duplicate\""));
    assertTrue(metering.contains("tally_consumer_backlog"));
    String wallet = PipelineFixture.scrape(f.wallet.server().metricsPort());
    for (String series : List.of("tally_usage_debited_total", "tally_usage_duplicates_total", "tally_holds_pending",
        "tally_holds_held_nanos", "tally_outbox_backlog", "tally_consumer_parked_total", "grpc_server")) {
      assertTrue(wallet.contains(series), series + " missing from the wallet's metrics");
    }
    double debited = wallet.lines().filter(l -> l.startsWith("tally_usage_debited_total"))
        .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
    assertTrue(debited >= 1, "debited " + debited);
  }
}
