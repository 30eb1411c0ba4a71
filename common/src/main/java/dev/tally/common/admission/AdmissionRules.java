package dev.tally.common.admission;

import dev.tally.common.error.Reasons;
import dev.tally.common.error.TallyException;
import io.grpc.Status;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The admission decision, in one place for the wallet (hard mode, on its locked state) and the gateway (soft
 * mode, on its cached state): a closed or suspended wallet is refused, then the limits that apply are
 * checked from the narrowest to the widest — the key's quotas, the member's, the team's spending limits —
 * counting what was spent in their window and what is held, then the available balance. A refusal names
 * what fired in {@code ErrorInfo.metadata} ({@link #METADATA_KEYS}), with RetryInfo until the window resets
 * when waiting helps.
 */
public final class AdmissionRules {
  /** The metadata keys of a refusal (each present when it applies). */
  public static final List<String> METADATA_KEYS = List.of("scope", "subject", "period", "limit_nanos",
      "spent_nanos", "held_nanos", "requested_nanos", "available_nanos", "reset_time");

  /** The subject of a wallet's default quota for each of its keys. */
  public static final String KEY_DEFAULT = "apiKeys/*";

  private AdmissionRules() {}

  /** The subject of a team's default quota for each of its members. */
  public static String memberDefault(String team) {
    return team + "/members/*";
  }

  /** Whether {@code subject} is a default ({@code apiKeys/*} or {@code teams/{t}/members/*}). */
  public static boolean isDefault(String subject) {
    return subject.endsWith("/*");
  }

  /** The default a key or member falls under; null for anything else (the wallet itself). */
  public static String defaultOf(String subject) {
    if (subject.startsWith("apiKeys/")) {
      return KEY_DEFAULT;
    }
    int members = subject.lastIndexOf("/members/");
    return members > 0 && subject.startsWith("teams/") ? memberDefault(subject.substring(0, members)) : null;
  }

  /** Where a limit sits in the chain. */
  public enum Scope { KEY, MEMBER, TEAM, BALANCE }

  /**
   * One limit of the wallet: {@code subject} is the wallet itself (its spending limit), a member
   * ({@code teams/{t}/members/{u}}) or a key ({@code apiKeys/{k}}); {@code resetTime} null for lifetime.
   */
  public record Limit(String subject, String period, long limit, long spent, long held, Instant resetTime) {
    public Limit withHeld(long amount) {
      return new Limit(subject, period, limit, spent, amount, resetTime);
    }
  }

  /** What the decision reads of a wallet. */
  public record State(String wallet, boolean closed, boolean suspended, long available, List<Limit> limits) {}

  /** One request: the estimate and who makes it. */
  public record Request(long amount, String member, String apiKey) {}

  /** The limits of {@code s} that apply to {@code r}, narrowest first (key, member, team), then by period. */
  public static List<Limit> applicable(State s, Request r) {
    List<Limit> out = new ArrayList<>();
    for (Limit l : resolveDefaults(s.limits(), r)) {
      if (scopeOf(s.wallet(), l.subject(), r) != null) {
        out.add(l);
      }
    }
    out.sort(Comparator.comparing((Limit l) -> scopeOf(s.wallet(), l.subject(), r)).thenComparing(Limit::period));
    return out;
  }

  /**
   * {@code limits} with each team default that applies to {@code r} turned into the request's member's or
   * key's own limit, unless that member or key has its own limit of the same period (an override, or the
   * entry of one that already spent under the default: it carries the spend). The most specific limit
   * applies at its level; a default counts nothing that is not its member's or key's. Defaults that do not
   * apply are dropped; idempotent.
   */
  public static List<Limit> resolveDefaults(List<Limit> limits, Request r) {
    if (limits.isEmpty()) {
      return List.of(); // most wallets: nothing to resolve, nothing to allocate on every Admit
    }
    java.util.Set<String> own = new java.util.HashSet<>();
    limits.stream().filter(l -> !isDefault(l.subject())).forEach(l -> own.add(l.subject() + "|" + l.period()));
    List<Limit> out = new ArrayList<>(limits.size());
    for (Limit l : limits) {
      if (!isDefault(l.subject())) {
        out.add(l);
        continue;
      }
      String subject = KEY_DEFAULT.equals(l.subject()) ? r.apiKey()
          : r.member() != null && l.subject().equals(defaultOf(r.member())) ? r.member() : null;
      if (subject != null && !subject.isEmpty() && !own.contains(subject + "|" + l.period())) {
        out.add(new Limit(subject, l.period(), l.limit(), 0, l.held(), l.resetTime()));
      }
    }
    return out;
  }

  /** Throws the refusal of {@code r} against {@code s}, or returns when it is admitted. */
  public static void check(State s, Request r, Instant now) {
    if (s.closed()) {
      throw refusal(Status.Code.FAILED_PRECONDITION, Reasons.WALLET_CLOSED, "the wallet's team was deleted",
          balanceMetadata(s, r), null);
    }
    if (s.suspended()) {
      throw refusal(Status.Code.FAILED_PRECONDITION, Reasons.WALLET_SUSPENDED, "the wallet is suspended: its "
          + "available balance is at or below the threshold; deposit to resume", balanceMetadata(s, r), null);
    }
    for (Limit l : applicable(s, r)) {
      if (l.spent() + l.held() + r.amount() > l.limit()) {
        Scope scope = scopeOf(s.wallet(), l.subject(), r);
        Map<String, String> m = new LinkedHashMap<>();
        m.put("scope", scope.name().toLowerCase(java.util.Locale.ROOT));
        m.put("subject", l.subject());
        m.put("period", l.period().toLowerCase(java.util.Locale.ROOT));
        m.put("limit_nanos", Long.toString(l.limit()));
        m.put("spent_nanos", Long.toString(l.spent()));
        m.put("held_nanos", Long.toString(l.held()));
        m.put("requested_nanos", Long.toString(r.amount()));
        if (l.resetTime() != null) {
          m.put("reset_time", l.resetTime().toString());
        }
        boolean team = scope == Scope.TEAM;
        String what = team ? "the team's " + m.get("period") + " spending limit"
            : "the " + m.get("period") + " quota of " + l.subject();
        // Waiting helps only when the window resets and the request alone fits the limit.
        Duration retry = l.resetTime() != null && r.amount() <= l.limit() && l.resetTime().isAfter(now)
            ? Duration.between(now, l.resetTime()) : null;
        throw refusal(Status.Code.RESOURCE_EXHAUSTED, team ? Reasons.SPENDING_LIMIT_REACHED : Reasons.QUOTA_EXCEEDED,
            what + " would be exceeded; it resets at " + (l.resetTime() == null ? "never (lifetime)" : l.resetTime()),
            m, retry);
      }
    }
    if (r.amount() > s.available()) {
      throw refusal(Status.Code.FAILED_PRECONDITION, Reasons.INSUFFICIENT_BALANCE,
          "the available balance does not cover the estimate", balanceMetadata(s, r), null);
    }
  }

  /**
   * How much more {@code r}'s key, member and team could be admitted for at once: the least room the limits
   * that apply leave (limit − spent − held) and the available balance above {@code floor} (the suspension
   * threshold: nothing admitted in bulk may suspend the wallet). Never negative. What a lease may take is
   * sized from it.
   */
  public static long headroom(State s, Request r, long floor) {
    long room = s.available() - floor;
    for (Limit l : applicable(s, r)) {
      room = Math.min(room, l.limit() - l.spent() - l.held());
    }
    return Math.max(0, room);
  }

  /** Where {@code subject} sits for {@code r}: its key, its member, the team; null when it does not apply. */
  public static Scope scopeOf(String wallet, String subject, Request r) {
    if (subject.equals(r.apiKey())) {
      return Scope.KEY;
    }
    if (subject.equals(r.member())) {
      return Scope.MEMBER;
    }
    return subject.equals(wallet) ? Scope.TEAM : null;
  }

  private static Map<String, String> balanceMetadata(State s, Request r) {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("scope", "balance");
    m.put("subject", s.wallet());
    m.put("available_nanos", Long.toString(s.available()));
    m.put("requested_nanos", Long.toString(r.amount()));
    return m;
  }

  private static TallyException refusal(Status.Code code, String reason, String message, Map<String, String> metadata,
      Duration retryAfter) {
    TallyException e = new TallyException(code, reason, message, metadata, List.of());
    return retryAfter == null ? e : e.withRetryAfter(retryAfter);
  }
}
