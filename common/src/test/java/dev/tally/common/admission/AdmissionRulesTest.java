package dev.tally.common.admission;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tally.common.admission.AdmissionRules.Limit;
import dev.tally.common.admission.AdmissionRules.Request;
import dev.tally.common.admission.AdmissionRules.State;
import dev.tally.common.error.TallyException;
import io.grpc.Status;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class AdmissionRulesTest {
  private static final Instant NOW = Instant.parse("2026-11-23T12:00:00Z");
  private static final Instant MIDNIGHT = Instant.parse("2026-11-24T00:00:00Z");
  private static final String WALLET = "wallets/team-t";
  private static final String MEMBER = "teams/t/members/u";
  private static final String KEY = "apiKeys/k";
  private static final Request TEN = new Request(10, MEMBER, KEY);

  private static State state(long available, Limit... limits) {
    return new State(WALLET, false, false, available, List.of(limits));
  }

  private static TallyException refused(State s, Request r) {
    return assertThrows(TallyException.class, () -> AdmissionRules.check(s, r, NOW));
  }

  @Test
  void theNarrowestLimitThatFiresIsNamedWithItsNumbersAndReset() {
    // All three would refuse; the key's quota is checked first, whatever order the limits come in.
    State s = state(1_000, new Limit(WALLET, "month", 100, 95, 0, null), new Limit(MEMBER, "day", 50, 45, 0, MIDNIGHT),
        new Limit(KEY, "day", 20, 5, 8, MIDNIGHT));
    TallyException e = refused(s, TEN);
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.code());
    assertEquals("QUOTA_EXCEEDED", e.reason());
    assertEquals("key", e.metadata().get("scope"));
    assertEquals(KEY, e.metadata().get("subject"));
    assertEquals("day", e.metadata().get("period"));
    assertEquals("20", e.metadata().get("limit_nanos"));
    assertEquals("5", e.metadata().get("spent_nanos"));
    assertEquals("8", e.metadata().get("held_nanos"));
    assertEquals("10", e.metadata().get("requested_nanos"));
    assertEquals(MIDNIGHT.toString(), e.metadata().get("reset_time"));
    assertEquals(Duration.ofHours(12), e.retryAfter(), "waiting for the reset helps");
  }

  @Test
  void memberThenTeamLimitsFollowAndTheTeamsIsASpendingLimit() {
    TallyException member = refused(state(1_000, new Limit(WALLET, "month", 100, 95, 0, null),
        new Limit(MEMBER, "week", 50, 45, 0, MIDNIGHT)), TEN);
    assertEquals("member", member.metadata().get("scope"));
    TallyException team = refused(state(1_000, new Limit(WALLET, "lifetime", 100, 95, 0, null)), TEN);
    assertEquals("SPENDING_LIMIT_REACHED", team.reason());
    assertEquals("team", team.metadata().get("scope"));
    assertNull(team.retryAfter(), "a lifetime limit never resets");
    assertEquals(false, team.metadata().containsKey("reset_time"));
  }

  @Test
  void aRequestLargerThanTheLimitItselfGetsNoRetryDelay() {
    assertNull(refused(state(1_000, new Limit(KEY, "day", 5, 0, 0, MIDNIGHT)), TEN).retryAfter());
  }

  @Test
  void limitsOfOtherMembersAndKeysDoNotApply() {
    AdmissionRules.check(state(1_000, new Limit("teams/t/members/other", "day", 1, 1, 0, MIDNIGHT),
        new Limit("apiKeys/other", "day", 1, 1, 0, MIDNIGHT)), TEN, NOW);
  }

  @Test
  void balanceAndSuspensionComeWithTheAvailableAmount() {
    TallyException poor = refused(state(9), TEN);
    assertEquals(Status.Code.FAILED_PRECONDITION, poor.code());
    assertEquals("INSUFFICIENT_BALANCE", poor.reason());
    assertEquals("balance", poor.metadata().get("scope"));
    assertEquals("9", poor.metadata().get("available_nanos"));
    TallyException suspended = refused(new State(WALLET, false, true, 1_000, List.of()), TEN);
    assertEquals("WALLET_SUSPENDED", suspended.reason());
    TallyException closed = refused(new State(WALLET, true, false, 1_000, List.of()), TEN);
    assertEquals("WALLET_CLOSED", closed.reason(), "a deleted team's wallet, as Deposit says it");
    AdmissionRules.check(state(10), TEN, NOW); // exactly enough is enough
  }
}
