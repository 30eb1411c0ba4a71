package dev.tally.wallet.limits;

import dev.tally.common.admission.AdmissionRules;
import dev.tally.common.auth.Caller;
import dev.tally.common.db.Database;
import dev.tally.common.error.Reasons;
import dev.tally.common.error.TallyException;
import dev.tally.common.ids.Wallets;
import dev.tally.wallet.access.BillingAccess;
import dev.tally.wallet.db.HoldDao;
import dev.tally.wallet.db.WalletDao;
import dev.tally.wallet.db.jooq.tables.records.WalletsRecord;
import dev.tally.wallet.holds.AdmissionLimits;
import dev.tally.wallet.wallets.Snapshot;
import dev.tally.wallet.wallets.WalletBook;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.jooq.DSLContext;

/**
 * Which limits apply to a key, a member or a team, and where each stands: the same chain, in the same
 * order, as admission checks ({@link AdmissionRules#applicable}), then the available balance.
 */
public final class EffectiveLimits {
  private static final Pattern MEMBER = Pattern.compile("teams/([A-Za-z0-9_-]{1,64})/members/([A-Za-z0-9_-]{1,64})");
  private static final Pattern KEY = Pattern.compile("apiKeys/[A-Za-z0-9_-]{1,64}");

  private final WalletBook book;
  private final WalletDao wallets;
  private final HoldDao holdRows = new HoldDao();
  private final BillingAccess access;

  public EffectiveLimits(WalletBook book, WalletDao wallets, BillingAccess access) {
    this.book = book;
    this.wallets = wallets;
    this.access = access;
  }

  /**
   * One limit with where it stands; {@code limit} null for the balance row; {@code teamDefault} when it is
   * the team's default for its members or keys rather than set on the subject itself.
   */
  public record Row(AdmissionRules.Scope scope, AdmissionRules.Limit limit, long balance, long available,
      boolean teamDefault) {
    public long remaining() {
      return limit == null ? Math.max(0, available)
          : Math.max(0, limit.limit() - limit.spent() - limit.held());
    }

    /** Where it is set: {@code key}, {@code member}, {@code team_default}, {@code team} or {@code wallet}. */
    public String source() {
      if (limit == null) {
        return "wallet";
      }
      return teamDefault ? "team_default" : scope.name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  /** The answer: the wallet, the subject asked about, its member (for a team key) and the rows. */
  public record Result(String wallet, String subject, String member, List<Row> rows) {}

  /** A limit's subject resolved against its wallet: its member (for a team key, the key's owner) and key. */
  record Subject(String member, String key, String keyOwner) {}

  public Result of(DSLContext tx, Caller caller, String name, String subject) {
    // A lease given back between the balance and the holds showed its money held in one, not the other.
    Database.readOneSnapshot(tx);
    String wallet = access.resolve(caller, name);
    Subject s = subject(wallet, subject);
    requireSelfOrViewer(caller, wallet, s.member(), s.keyOwner());
    return compute(tx, wallet, subject, s.member(), s.key());
  }

  /** Resolves {@code subject} (a key, a member, or empty for the team) against {@code wallet}. */
  Subject subject(String wallet, String subject) {
    String team = Wallets.owner(wallet);
    String member = "";
    String key = "";
    String keyOwner = "";
    if (KEY.matcher(subject).matches()) {
      BillingAccess.KeyOwner owner = access.keyOwner(subject).filter(k -> k.billingAccount().equals(wallet))
          .orElseThrow(() -> TallyException.notFound(Reasons.NOT_FOUND, "key " + subject + " does not bill " + wallet));
      key = subject;
      keyOwner = owner.user();
      if (team != null && team.startsWith("teams/") && !owner.user().isEmpty()) {
        member = team + "/members/" + owner.user().substring("users/".length());
      }
    } else if (MEMBER.matcher(subject).matches()) {
      if (team == null || !subject.startsWith(team + "/members/")) {
        throw TallyException.notFound(Reasons.NOT_FOUND, subject + " is not a member of " + wallet + "'s team");
      }
      member = subject;
    } else if (!subject.isEmpty()) {
      throw TallyException.invalidArgument("subject",
          "must be apiKeys/{key}, teams/{team}/members/{user}, or empty for the team");
    }
    return new Subject(member, key, keyOwner);
  }

  private Result compute(DSLContext tx, String wallet, String subject, String member, String key) {
    WalletsRecord w = wallets.get(tx, wallet).orElseThrow(() -> TallyException.notFound(Reasons.NOT_FOUND,
        "wallet " + wallet + " not found"));
    Snapshot s = book.snapshot(tx, w);
    Map<String, Long> held = holdRows.pendingHeldBySubject(tx, List.of(wallet)).getOrDefault(wallet, Map.of());
    java.util.Set<String> ownLimits = new java.util.HashSet<>();
    s.limits().stream().filter(l -> !l.fromDefault() && !AdmissionRules.isDefault(l.subject()))
        .forEach(l -> ownLimits.add(l.subject() + "|" + l.period()));
    List<AdmissionRules.Limit> limits = new ArrayList<>();
    AdmissionRules.Request request = new AdmissionRules.Request(0, member, key);
    for (AdmissionRules.Limit l : AdmissionRules.resolveDefaults(AdmissionLimits.of(s.limits()), request)) {
      limits.add(l.withHeld(held.getOrDefault(l.subject(), 0L)));
    }
    AdmissionRules.State state = new AdmissionRules.State(wallet, false, false, s.available(), limits);
    List<Row> rows = new ArrayList<>();
    for (AdmissionRules.Limit l : AdmissionRules.applicable(state, request)) {
      rows.add(new Row(AdmissionRules.scopeOf(wallet, l.subject(), request), l, s.balance(), s.available(),
          !ownLimits.contains(l.subject() + "|" + l.period())));
    }
    rows.add(new Row(AdmissionRules.Scope.BALANCE, null, s.balance(), s.available(), false));
    return new Result(wallet, subject, member, rows);
  }

  /** Billing viewers may act on any subject; a member only on themselves and their own keys. */
  void requireSelfOrViewer(Caller caller, String wallet, String member, String keyOwner) {
    try {
      access.requireView(caller, wallet);
    } catch (TallyException e) {
      if (e.code() != Status.Code.PERMISSION_DENIED || !caller.isUser()) {
        throw e; // not a member: NOT_FOUND stays NOT_FOUND
      }
      boolean ownMember = !member.isEmpty() && member.endsWith("/members/" + caller.userId());
      boolean ownKey = keyOwner.isEmpty() || keyOwner.equals(caller.user());
      if (!ownMember || !ownKey) {
        throw TallyException.permissionDenied(Reasons.ROLE_FORBIDDEN,
            "members may read the limits of themselves and their own keys; billing viewers any");
      }
    }
  }
}
