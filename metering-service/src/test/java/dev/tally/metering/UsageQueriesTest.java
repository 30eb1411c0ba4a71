package dev.tally.metering;

import static dev.tally.metering.PipelineFixture.DOLLAR;
import static dev.tally.metering.PipelineFixture.record;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tally.common.auth.Caller;
import dev.tally.common.grpc.ProtoTime;
import dev.tally.common.testing.Await;
import dev.tally.metering.PipelineFixture.Setup;
import dev.tally.proto.identity.v1.ApiKeyKind;
import dev.tally.proto.identity.v1.CreateApiKeyRequest;
import dev.tally.proto.metering.v1.*;
import dev.tally.proto.wallet.v1.Transfer;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class UsageQueriesTest {
  private static PipelineFixture f;
  private static Setup s;
  private static String ownerKey;
  private static final Instant TODAY = Instant.now().minus(Duration.ofMinutes(1)).truncatedTo(ChronoUnit.SECONDS);
  private static final Instant YESTERDAY = TODAY.minus(Duration.ofDays(1));

  @BeforeAll
  static void start() throws Exception {
    f = new PipelineFixture(UsageQueriesTest.class);
    s = f.setup("queries", 100 * DOLLAR);
    ownerKey = f.identity(s.owner().caller()).createApiKey(CreateApiKeyRequest.newBuilder()
        .setKind(ApiKeyKind.API_KEY_KIND_TEAM).setTeam(s.team().getName()).setDisplayName("owner-key").build())
        .getApiKey().getName();
    f.recordUsage(
        record("q-1", s.key(), "input_tokens", 10_000, TODAY).setModel("m1"),
        record("q-2", s.key(), "output_tokens", 2_000, TODAY).setModel("m1"),
        record("q-3", s.key(), "output_tokens", 1_000, YESTERDAY).setModel("m2"), // late: yesterday's bucket
        record("q-4", ownerKey, "gpu_seconds", 60_000, TODAY),
        record("q-5", ownerKey, "requests", 1, TODAY));
    long total = 1_500_000L + 1_200_000L + 600_000L + 18_000_000L;
    f.awaitBalance(s.team().getWallet(), 100 * DOLLAR - total);
    Await.until("rollups of 5 events", Duration.ofSeconds(30), () -> summary(Caller.PLATFORM, s.team().getName())
        .getCalls() == 5);
  }

  @AfterAll
  static void stop() {
    f.close();
  }

  private static GetUsageSummaryResponse summary(Caller c, String subject) {
    return f.metering(c).getUsageSummary(GetUsageSummaryRequest.newBuilder().setSubject(subject).build());
  }

  private static GetUsageResponse usage(Caller c, String subject, BucketWidth width, GroupBy... groups) {
    return f.metering(c).getUsage(GetUsageRequest.newBuilder().setSubject(subject)
        .setStartTime(ProtoTime.ts(YESTERDAY.minus(Duration.ofHours(1))))
        .setEndTime(ProtoTime.ts(TODAY.plus(Duration.ofHours(2)))).setBucketWidth(width)
        .addAllGroupBy(List.of(groups)).build());
  }

  @Test
  void teamUsageTotalsEqualTheLedgersUsageDebits() {
    GetUsageResponse r = usage(s.owner().caller(), s.team().getName(), BucketWidth.BUCKET_WIDTH_DAY);
    long spend = r.getBucketsList().stream().flatMap(b -> b.getGroupsList().stream())
        .mapToLong(UsageGroup::getSpendNanos).sum();
    long ledger = f.usageTransfers(s.team().getWallet()).stream().mapToLong(Transfer::getAmountNanos).sum();
    assertEquals(ledger, spend);
    assertEquals(2, r.getBucketsCount(), "the late event sits in yesterday's bucket");
    assertEquals(ProtoTime.ts(YESTERDAY.truncatedTo(ChronoUnit.DAYS)), r.getBuckets(0).getStartTime());
    assertEquals(600_000L, r.getBuckets(0).getGroups(0).getSpendNanos());
  }

  @Test
  void groupByMeterModelKeyAndMember() {
    GetUsageResponse byKey = usage(s.owner().caller(), s.team().getName(), BucketWidth.BUCKET_WIDTH_DAY,
        GroupBy.GROUP_BY_API_KEY);
    UsageBucket today = byKey.getBuckets(1);
    assertEquals(2, today.getGroupsCount());
    UsageGroup owner = today.getGroupsList().stream().filter(g -> g.getApiKey().equals(ownerKey)).findFirst()
        .orElseThrow();
    assertEquals(2, owner.getCalls());
    assertEquals(18_000_000L, owner.getSpendNanos());
    GetUsageResponse byMeter = usage(s.owner().caller(), s.team().getName(), BucketWidth.BUCKET_WIDTH_HOUR,
        GroupBy.GROUP_BY_METER, GroupBy.GROUP_BY_MODEL, GroupBy.GROUP_BY_MEMBER);
    UsageGroup input = byMeter.getBucketsList().stream().flatMap(b -> b.getGroupsList().stream())
        .filter(g -> g.getMeter().equals("input_tokens")).findFirst().orElseThrow();
    assertEquals(10_000, input.getQuantity());
    assertEquals("m1", input.getModel());
    assertEquals(s.member().name(), input.getMember());
  }

  @Test
  void thirtyDayKeyStatsCountCallsSpendAndTokens() {
    GetUsageSummaryResponse key = summary(s.member().caller(), s.key());
    assertEquals(3, key.getCalls());
    assertEquals(1_500_000L + 1_200_000L + 600_000L, key.getSpendNanos());
    assertEquals(10_000, key.getInputTokens());
    assertEquals(3_000, key.getOutputTokens());
  }

  @Test
  void membersSeeTheirOwnUsageOnlyAndOwnersTheTeams() {
    Caller member = s.member().caller();
    assertEquals(3, summary(member, s.memberName()).getCalls());
    assertEquals(3, summary(member, s.key()).getCalls());
    StatusRuntimeException team = assertThrows(StatusRuntimeException.class, () -> summary(member, s.team().getName()));
    assertEquals(Status.Code.PERMISSION_DENIED, team.getStatus().getCode());
    StatusRuntimeException other = assertThrows(StatusRuntimeException.class, () -> summary(member, ownerKey));
    assertEquals(Status.Code.PERMISSION_DENIED, other.getStatus().getCode());
    assertEquals(2, summary(s.owner().caller(), ownerKey).getCalls());
    assertEquals(5, summary(s.owner().caller(), s.team().getName()).getCalls());
    Caller stranger = f.newUser("stranger").caller();
    StatusRuntimeException hidden = assertThrows(StatusRuntimeException.class, () -> summary(stranger, s.team().getName()));
    assertEquals(Status.Code.NOT_FOUND, hidden.getStatus().getCode());
  }

  @Test
  void tooManyBucketsOrAnEmptyRangeIsInvalidArgument() {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> f.metering(Caller.PLATFORM)
        .getUsage(GetUsageRequest.newBuilder().setSubject(s.team().getName())
            .setStartTime(ProtoTime.ts(TODAY.minus(Duration.ofDays(30)))).setEndTime(ProtoTime.ts(TODAY))
            .setBucketWidth(BucketWidth.BUCKET_WIDTH_MINUTE).build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    StatusRuntimeException empty = assertThrows(StatusRuntimeException.class, () -> f.metering(Caller.PLATFORM)
        .getUsage(GetUsageRequest.newBuilder().setSubject(s.team().getName()).setStartTime(ProtoTime.ts(TODAY))
            .setEndTime(ProtoTime.ts(TODAY)).setBucketWidth(BucketWidth.BUCKET_WIDTH_DAY).build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, empty.getStatus().getCode());
  }

  @Test
  void metersAreListedWithTheirUnitAndScale() {
    List<Meter> listed = f.metering(Caller.PLATFORM).listMeters(ListMetersRequest.getDefaultInstance()).getMetersList();
    assertEquals(List.of("meters/cpu_seconds", "meters/gpu_seconds", "meters/input_tokens", "meters/output_tokens",
        "meters/requests"), listed.stream().map(Meter::getName).toList());
    Meter gpu = listed.get(1);
    assertEquals("millisecond", gpu.getBaseUnit());
    assertEquals("second", gpu.getDisplayUnit());
    assertEquals(1000, gpu.getBaseUnitsPerDisplayUnit(), "1 GPU-second is recorded as 1000");
    Meter tokens = listed.get(2);
    assertEquals("token", tokens.getDisplayUnit());
    assertEquals(1, tokens.getBaseUnitsPerDisplayUnit());
  }
}
