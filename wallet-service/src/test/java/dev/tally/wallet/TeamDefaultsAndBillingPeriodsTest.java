package dev.tally.wallet;

import static dev.tally.common.testing.GrpcAssertions.assertFails;
import static dev.tally.common.testing.GrpcAssertions.errorInfo;
import static dev.tally.wallet.WalletFixture.DOLLAR;
import static dev.tally.wallet.WalletFixture.reserve;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tally.common.grpc.ProtoTime;
import dev.tally.identity.config.IdentityPolicy;
import dev.tally.proto.identity.v1.Team;
import dev.tally.proto.wallet.v1.*;
import dev.tally.wallet.WalletFixture.TestUser;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Team default quotas with per-member and per-key overrides; windows anchored to a billing day and zone. */
class TeamDefaultsAndBillingPeriodsTest {
  // Tuesday 10 November 2026, 07:00 in New York.
  private static final Instant START = Instant.parse("2026-11-10T12:00:00Z");
  private static WalletFixture f;

  @BeforeAll
  static void start() throws Exception {
    f = new WalletFixture(TeamDefaultsAndBillingPeriodsTest.class, IdentityPolicy.defaults(), START);
  }

  @AfterEach
  void reconciled() {
    f.assertReconciled();
  }

  @AfterAll
  static void stop() {
    f.close();
  }

  private static SetQuotaRequest quota(Team team, String subject, Period period, long nanos) {
    return SetQuotaRequest.newBuilder().setWallet(team.getName()).setSubject(subject).setPeriod(period)
        .setLimitNanos(nanos).build();
  }

  @Test
  void aTeamDefaultCapsEachMemberAndKeyOnItsOwnAndAnOverrideReplacesItForItsPeriod() {
    TestUser owner = f.newUser("defaults-owner");
    TestUser ann = f.newUser("defaults-ann");
    TestUser bob = f.newUser("defaults-bob");
    Team team = f.newTeam(owner, "Defaults");
    f.join(owner, team, ann, "roles/member");
    f.join(owner, team, bob, "roles/member");
    f.deposit(team.getWallet(), 100 * DOLLAR, "pay_defaults");
    String annM = team.getName() + "/members/" + ann.id();
    String bobM = team.getName() + "/members/" + bob.id();
    String memberDefault = team.getName() + "/members/*";
    f.as(owner).setQuota(quota(team, memberDefault, Period.PERIOD_MONTH, 3 * DOLLAR));
    Wallet w = f.as(owner).setQuota(quota(team, "apiKeys/*", Period.PERIOD_DAY, DOLLAR)).getWallet();
    assertEquals(List.of("apiKeys/*", memberDefault), w.getQuotasList().stream().map(Quota::getSubject).sorted().toList(),
        "the wallet lists the defaults as set, not a copy per member");

    f.usage("defaults-1", team.getWallet(), ann.name(), "apiKeys/ann-key", 2 * DOLLAR, START, "");
    f.awaitBalance(team.getWallet(), 98 * DOLLAR);
    assertEquals(2, f.get(team.getWallet()).getQuotasCount(), "spend under a default adds no quota to the wallet");

    // Each member counts on their own against the default: Ann has $1 left of her $3, Bob all of his.
    StatusRuntimeException annRefused = assertFails(Status.Code.RESOURCE_EXHAUSTED, "QUOTA_EXCEEDED",
        () -> f.internal().reserve(reserve(team.getWallet(), DOLLAR + DOLLAR / 2, annM, "")));
    var why = errorInfo(annRefused);
    assertEquals("member", why.getMetadataOrThrow("scope"));
    assertEquals(annM, why.getMetadataOrThrow("subject"));
    assertEquals(Long.toString(3 * DOLLAR), why.getMetadataOrThrow("limit_nanos"));
    assertEquals(Long.toString(2 * DOLLAR), why.getMetadataOrThrow("spent_nanos"));
    f.internal().reserve(reserve(team.getWallet(), DOLLAR + DOLLAR / 2, bobM, ""));
    // The key default: Ann's key spent $2 today against $1 a day.
    StatusRuntimeException keyRefused = assertFails(Status.Code.RESOURCE_EXHAUSTED, "QUOTA_EXCEEDED",
        () -> f.internal().reserve(reserve(team.getWallet(), 1, "", "apiKeys/ann-key")));
    assertEquals("key", errorInfo(keyRefused).getMetadataOrThrow("scope"));
    f.internal().reserve(reserve(team.getWallet(), DOLLAR / 2, "", "apiKeys/other-key"));

    GetEffectiveLimitsResponse annLimits = f.as(owner).getEffectiveLimits(GetEffectiveLimitsRequest.newBuilder()
        .setWallet(team.getName()).setSubject(annM).build());
    EffectiveLimit annDefault = annLimits.getLimits(0);
    assertEquals(annM, annDefault.getSubject());
    assertEquals("team_default", annDefault.getSource());
    assertEquals(2 * DOLLAR, annDefault.getSpentNanos());
    assertEquals(DOLLAR, annDefault.getRemainingNanos());

    // An override replaces the default of its period for that member only.
    f.as(owner).setQuota(quota(team, annM, Period.PERIOD_MONTH, 10 * DOLLAR));
    f.internal().reserve(reserve(team.getWallet(), DOLLAR + DOLLAR / 2, annM, ""));
    EffectiveLimit annOwn = f.as(owner).getEffectiveLimits(GetEffectiveLimitsRequest.newBuilder()
        .setWallet(team.getName()).setSubject(annM).build()).getLimits(0);
    assertEquals("member", annOwn.getSource());
    assertEquals(10 * DOLLAR, annOwn.getLimitNanos());

    // Lowering the default applies at once to every member without a quota of their own, rewriting none.
    f.as(owner).setQuota(quota(team, memberDefault, Period.PERIOD_MONTH, DOLLAR));
    assertFails(Status.Code.RESOURCE_EXHAUSTED, "QUOTA_EXCEEDED",
        () -> f.internal().reserve(reserve(team.getWallet(), 1, bobM, "")));
    EffectiveLimit bobDefault = f.as(bob).getEffectiveLimits(GetEffectiveLimitsRequest.newBuilder()
        .setWallet(team.getName()).setSubject(bobM).build()).getLimits(0);
    assertEquals(DOLLAR, bobDefault.getLimitNanos());
    assertEquals(DOLLAR + DOLLAR / 2, bobDefault.getHeldNanos());
    f.internal().reserve(reserve(team.getWallet(), DOLLAR, annM, ""));

    // A limit request starts from the default the member is under.
    LimitRequest asked = f.as(bob).requestLimitIncrease(RequestLimitIncreaseRequest.newBuilder()
        .setWallet(team.getName()).setSubject(bobM).setPeriod(Period.PERIOD_MONTH).setLimitNanos(5 * DOLLAR)
        .setReason("training run").build()).getRequest();
    assertEquals(DOLLAR, asked.getCurrentLimitNanos());

    // Cleared, the default no longer applies.
    f.as(owner).setQuota(SetQuotaRequest.newBuilder().setWallet(team.getName()).setSubject(memberDefault)
        .setPeriod(Period.PERIOD_MONTH).setClear(true).build());
    f.internal().reserve(reserve(team.getWallet(), DOLLAR, bobM, ""));
  }

  @Test
  void aDefaultSetAfterSpendingCountsEachMembersSpendAlreadyInTheWindow() {
    TestUser owner = f.newUser("late-default-owner");
    TestUser ann = f.newUser("late-default-ann");
    Team team = f.newTeam(owner, "Late default");
    f.join(owner, team, ann, "roles/member");
    f.deposit(team.getWallet(), 10 * DOLLAR, "pay_late_default");
    f.usage("late-default-1", team.getWallet(), ann.name(), "apiKeys/late-default-key", 2 * DOLLAR, START, "");
    f.usage("late-default-2", team.getWallet(), owner.name(), "", DOLLAR, START, "");
    f.awaitBalance(team.getWallet(), 7 * DOLLAR);
    f.as(owner).setQuota(quota(team, team.getName() + "/members/*", Period.PERIOD_WEEK, 2 * DOLLAR));
    f.as(owner).setQuota(quota(team, "apiKeys/*", Period.PERIOD_WEEK, 5 * DOLLAR));
    String annM = team.getName() + "/members/" + ann.id();
    assertFails(Status.Code.RESOURCE_EXHAUSTED, "QUOTA_EXCEEDED",
        () -> f.internal().reserve(reserve(team.getWallet(), 1, annM, "")));
    f.internal().reserve(reserve(team.getWallet(), DOLLAR, team.getName() + "/members/" + owner.id(), ""));
    StatusRuntimeException key = assertFails(Status.Code.RESOURCE_EXHAUSTED, "QUOTA_EXCEEDED",
        () -> f.internal().reserve(reserve(team.getWallet(), 3 * DOLLAR + 1, "", "apiKeys/late-default-key")));
    assertEquals(Long.toString(2 * DOLLAR), errorInfo(key).getMetadataOrThrow("spent_nanos"));
    f.internal().reserve(reserve(team.getWallet(), 3 * DOLLAR, "", "apiKeys/late-default-key"));
  }

  @Test
  void wrongDefaultsAreRefusedWithTheField() {
    TestUser owner = f.newUser("bad-default-owner");
    Team team = f.newTeam(owner, "Bad default");
    Team other = f.newTeam(owner, "Other team");
    assertFails(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT",
        () -> f.as(owner).setQuota(quota(team, other.getName() + "/members/*", Period.PERIOD_DAY, DOLLAR)));
    assertFails(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT",
        () -> f.as(owner).setQuota(quota(team, "apiKeys/**", Period.PERIOD_DAY, DOLLAR)));
  }

  @Test
  void windowsFollowTheTeamsBillingDayAndTimeZoneAndSpendIsRecountedWhenTheyMove() {
    TestUser owner = f.newUser("anchor-owner");
    Team team = f.newTeam(owner, "Anchored");
    f.deposit(team.getWallet(), 100 * DOLLAR, "pay_anchor");
    f.as(owner).setSpendingLimit(SetSpendingLimitRequest.newBuilder().setWallet(team.getName())
        .setPeriod(Period.PERIOD_MONTH).setLimitNanos(50 * DOLLAR).build());
    f.as(owner).setSpendingLimit(SetSpendingLimitRequest.newBuilder().setWallet(team.getName())
        .setPeriod(Period.PERIOD_DAY).setLimitNanos(50 * DOLLAR).build());
    f.usage("anchor-oct-10", team.getWallet(), owner.name(), "", DOLLAR, Instant.parse("2026-10-10T12:00:00Z"), "");
    f.usage("anchor-oct-20", team.getWallet(), owner.name(), "", 2 * DOLLAR, Instant.parse("2026-10-20T12:00:00Z"), "");
    f.usage("anchor-nov-02", team.getWallet(), owner.name(), "", 4 * DOLLAR, Instant.parse("2026-11-02T12:00:00Z"), "");
    // 22:00 on the 9th in New York: today in UTC, yesterday for the team.
    f.usage("anchor-nov-09", team.getWallet(), owner.name(), "", 8 * DOLLAR, Instant.parse("2026-11-10T03:00:00Z"), "");
    f.awaitBalance(team.getWallet(), 85 * DOLLAR);
    Wallet utc = f.get(team.getWallet());
    assertEquals(Instant.parse("2026-11-01T00:00:00Z"), ProtoTime.instant(utc.getPeriodStartTime()));
    assertEquals(12 * DOLLAR, utc.getPeriodSpendNanos(), "calendar month in UTC by default");
    assertEquals(8 * DOLLAR, daySpend(utc));

    Wallet ny = f.as(owner).setBillingPeriod(SetBillingPeriodRequest.newBuilder().setWallet(team.getName())
        .setBillingDay(15).setTimeZone("America/New_York").build()).getWallet();
    assertEquals(15, ny.getBillingDay());
    assertEquals("America/New_York", ny.getTimeZone());
    // 15 October 00:00 EDT to 15 November 00:00 EST.
    assertEquals(Instant.parse("2026-10-15T04:00:00Z"), ProtoTime.instant(ny.getPeriodStartTime()));
    assertEquals(Instant.parse("2026-11-15T05:00:00Z"), ProtoTime.instant(ny.getPeriodEndTime()));
    assertEquals(14 * DOLLAR, ny.getPeriodSpendNanos(), "recounted: 20 Oct, 2 Nov and 9 Nov (New York)");
    SpendingLimit month = ny.getSpendingLimitsList().stream().filter(l -> l.getPeriod() == Period.PERIOD_MONTH)
        .findFirst().orElseThrow();
    assertEquals(14 * DOLLAR, month.getSpentNanos());
    assertEquals(Instant.parse("2026-11-15T05:00:00Z"), ProtoTime.instant(month.getResetTime()));
    assertEquals(0, daySpend(ny), "the team's day began at 05:00 UTC");

    // New usage counts in the anchored windows; late usage in the window of its occurred_at.
    f.usage("anchor-nov-10", team.getWallet(), owner.name(), "", 16 * DOLLAR, Instant.parse("2026-11-10T11:00:00Z"), "");
    f.usage("anchor-late", team.getWallet(), owner.name(), "", 32 * DOLLAR, Instant.parse("2026-10-14T12:00:00Z"), "");
    f.awaitBalance(team.getWallet(), 37 * DOLLAR);
    Wallet after = f.get(team.getWallet());
    assertEquals(30 * DOLLAR, after.getPeriodSpendNanos());
    assertEquals(16 * DOLLAR, daySpend(after));

    // The next billing month starts on the 15th in New York.
    f.clock.advance(Duration.between(START, Instant.parse("2026-11-15T05:00:00Z")));
    try {
      Wallet next = f.get(team.getWallet());
      assertEquals(Instant.parse("2026-11-15T05:00:00Z"), ProtoTime.instant(next.getPeriodStartTime()));
      assertEquals(Instant.parse("2026-12-15T05:00:00Z"), ProtoTime.instant(next.getPeriodEndTime()));
      assertEquals(0, next.getPeriodSpendNanos());
    } finally {
      f.clock.advance(Duration.between(Instant.parse("2026-11-15T05:00:00Z"), START));
    }
  }

  @Test
  void aBadBillingPeriodIsRefusedWithTheField() {
    TestUser owner = f.newUser("bad-anchor-owner");
    Team team = f.newTeam(owner, "Bad anchor");
    StatusRuntimeException zone = assertFails(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT",
        () -> f.as(owner).setBillingPeriod(SetBillingPeriodRequest.newBuilder().setWallet(team.getName())
            .setBillingDay(3).setTimeZone("Mars/Olympus_Mons").build()));
    assertEquals(true, zone.getStatus().getDescription().contains("time_zone"), zone.getStatus().getDescription());
    StatusRuntimeException day = assertFails(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT",
        () -> f.as(owner).setBillingPeriod(SetBillingPeriodRequest.newBuilder().setWallet(team.getName())
            .setBillingDay(31).setTimeZone("UTC").build()));
    assertEquals(true, day.getStatus().getDescription().contains("billing_day"), day.getStatus().getDescription());
  }

  private static long daySpend(Wallet w) {
    return w.getSpendingLimitsList().stream().filter(l -> l.getPeriod() == Period.PERIOD_DAY).findFirst()
        .orElseThrow().getSpentNanos();
  }
}
