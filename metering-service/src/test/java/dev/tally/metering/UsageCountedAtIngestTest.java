package dev.tally.metering;

import static dev.tally.metering.PipelineFixture.DOLLAR;
import static dev.tally.metering.PipelineFixture.record;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tally.common.auth.Caller;
import dev.tally.common.error.Reasons;
import dev.tally.common.grpc.ProtoTime;
import dev.tally.common.money.MoneyBounds;
import dev.tally.common.testing.GrpcAssertions;
import dev.tally.metering.PipelineFixture.Setup;
import dev.tally.metering.db.jooq.Tables;
import dev.tally.metering.rollups.RollupCompactor;
import dev.tally.proto.metering.v1.BucketWidth;
import dev.tally.proto.metering.v1.CorrectUsageRequest;
import dev.tally.proto.metering.v1.GetUsageRequest;
import dev.tally.proto.metering.v1.GetUsageSummaryRequest;
import dev.tally.proto.metering.v1.GetUsageSummaryResponse;
import dev.tally.proto.metering.v1.RecordResult;
import dev.tally.proto.metering.v1.RecordStatus;
import dev.tally.proto.metering.v1.UsageRecord;
import io.grpc.Status;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Usage is counted in the transaction that claims it (per-minute deltas, folded into the rollups later): it shows
 * in GetUsage the moment RecordUsage answers, a retry or a correction counts once, folding changes no total,
 * and a minute whose totals outgrow int64 folds like any other (its queries answer OUT_OF_RANGE).
 */
class UsageCountedAtIngestTest {
  private static PipelineFixture f;

  @BeforeAll
  static void start() throws Exception {
    f = new PipelineFixture(UsageCountedAtIngestTest.class);
  }

  @AfterAll
  static void stop() {
    f.close();
  }

  @Test
  void usageShowsWhenAcknowledgedAndCountsOnceThroughRetriesCorrectionsAndFolds() {
    Setup s = f.setup("counted", 10 * DOLLAR);
    Instant now = Instant.now();
    UsageRecord.Builder[] batch = {record("c-1", s.key(), "output_tokens", 1_000, now),
        record("c-2", s.key(), "output_tokens", 2_000, now), record("c-3", s.key(), "input_tokens", 4_000, now)};
    long cost = f.recordUsage(batch).getResultsList().stream().mapToLong(RecordResult::getCostNanos).sum();
    assertEquals(600_000 + 1_200_000 + 600_000, cost);
    assertEquals(new Totals(3, cost, 4_000, 3_000), totals(s), "counted before RecordUsage answered");

    assertEquals(RecordStatus.RECORD_STATUS_DUPLICATE, f.recordUsage(batch).getResults(0).getStatus());
    assertEquals(new Totals(3, cost, 4_000, 3_000), totals(s), "a retry counts nothing");

    f.metering(Caller.PLATFORM).correctUsage(CorrectUsageRequest.newBuilder().setApiKey(s.key()).setEventId("c-2")
        .setVoid(true).setReason("test").setRequestId("void-c-2").build());
    f.metering(Caller.PLATFORM).correctUsage(CorrectUsageRequest.newBuilder().setApiKey(s.key()).setEventId("c-2")
        .setVoid(true).setReason("test").setRequestId("void-c-2").build());
    Totals corrected = new Totals(2, cost - 1_200_000, 4_000, 1_000);
    assertEquals(corrected, totals(s), "a correction counts its difference, once");

    new RollupCompactor(f.metering.db(), Duration.ofSeconds(1)).foldOnce();
    assertEquals(0, deltasOf(s), "folded");
    assertEquals(corrected, totals(s), "folding changes no total");
    f.awaitBalance(s.team().getWallet(), 10 * DOLLAR - corrected.spend()); // what GetUsage says was spent
  }

  @Test
  void aMinuteBeyondInt64FoldsAndItsQueriesAnswerOutOfRange() {
    Setup s = f.setup("huge", 10 * DOLLAR);
    Instant now = Instant.now();
    for (int call = 0; call < 19; call++) { // 9,500 × 10^15 requests (free) in one minute: beyond 2^63
      UsageRecord.Builder[] huge = new UsageRecord.Builder[500];
      for (int i = 0; i < huge.length; i++) {
        huge[i] = record("h-" + call + "-" + i, s.key(), "requests", MoneyBounds.MAX_USAGE_QUANTITY, now);
      }
      f.recordUsage(huge).getResultsList()
          .forEach(r -> assertEquals(RecordStatus.RECORD_STATUS_ACCEPTED, r.getStatus(), r.toString()));
    }
    GetUsageRequest usage = GetUsageRequest.newBuilder().setSubject(s.team().getName())
        .setStartTime(ProtoTime.ts(now.minus(Duration.ofHours(1)))).setEndTime(ProtoTime.ts(now.plus(Duration.ofHours(1))))
        .setBucketWidth(BucketWidth.BUCKET_WIDTH_HOUR).build();
    GrpcAssertions.assertFails(Status.Code.OUT_OF_RANGE, Reasons.TOTAL_TOO_LARGE,
        () -> f.metering(Caller.PLATFORM).getUsage(usage));

    Setup other = f.setup("beside-huge", 10 * DOLLAR);
    f.recordUsage(record("o-1", other.key(), "output_tokens", 1_000, now));
    new RollupCompactor(f.metering.db(), Duration.ofSeconds(1)).foldOnce();
    assertEquals(0, deltasOf(s) + deltasOf(other), "the fold is not stopped by a total beyond int64");
    GrpcAssertions.assertFails(Status.Code.OUT_OF_RANGE, Reasons.TOTAL_TOO_LARGE,
        () -> f.metering(Caller.PLATFORM).getUsage(usage));
    assertEquals(new Totals(1, 600_000, 0, 1_000), totals(other));
  }

  private record Totals(long calls, long spend, long inputTokens, long outputTokens) {}

  private static Totals totals(Setup s) {
    GetUsageSummaryResponse r = f.metering(Caller.PLATFORM).getUsageSummary(GetUsageSummaryRequest.newBuilder()
        .setSubject(s.team().getName()).build());
    return new Totals(r.getCalls(), r.getListSpendNanos(), r.getInputTokens(), r.getOutputTokens());
  }

  private static int deltasOf(Setup s) {
    return f.metering.db().dsl().fetchCount(Tables.USAGE_DELTAS, Tables.USAGE_DELTAS.TEAM.eq(s.team().getName()));
  }
}
