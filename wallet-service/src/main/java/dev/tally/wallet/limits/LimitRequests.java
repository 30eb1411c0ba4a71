package dev.tally.wallet.limits;

import static dev.tally.wallet.db.jooq.Tables.LIMITS;
import static dev.tally.wallet.db.jooq.Tables.LIMIT_REQUESTS;

import dev.tally.common.admission.AdmissionRules;
import dev.tally.common.auth.Caller;
import dev.tally.common.error.Reasons;
import dev.tally.common.error.TallyException;
import dev.tally.common.ids.Ids;
import dev.tally.common.ids.PageTokens;
import dev.tally.wallet.access.BillingAccess;
import dev.tally.wallet.db.jooq.tables.records.LimitRequestsRecord;
import dev.tally.wallet.wallets.WalletManager;
import io.grpc.Status;
import java.time.Clock;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import org.jooq.Condition;
import org.jooq.DSLContext;

/**
 * Limit-increase requests: a member asks for a higher cap on themselves or one of their keys (billing viewers
 * on anyone, or the team), Owners and Admins approve — the asked cap becomes the subject's override — or
 * deny. Every step is audited.
 */
public final class LimitRequests {
  private final EffectiveLimits subjects;
  private final WalletManager wallets;
  private final BillingAccess access;
  private final Clock clock;

  public LimitRequests(EffectiveLimits subjects, WalletManager wallets, BillingAccess access, Clock clock) {
    this.subjects = subjects;
    this.wallets = wallets;
    this.access = access;
    this.clock = clock;
  }

  public LimitRequestsRecord create(DSLContext tx, Caller caller, String name, String subject, String period,
      long limit, String reason) {
    String wallet = access.resolve(caller, name);
    EffectiveLimits.Subject s = subjects.subject(wallet, subject);
    subjects.requireSelfOrViewer(caller, wallet, s.member(), s.keyOwner());
    String limitSubject = subject.isEmpty() ? wallet : subject;
    // The subject's own limit, else the team default it falls under.
    String fallback = java.util.Objects.requireNonNullElse(AdmissionRules.defaultOf(limitSubject), limitSubject);
    Long current = tx.select(LIMITS.LIMIT_NANOS).from(LIMITS).where(LIMITS.WALLET.eq(wallet),
        LIMITS.SUBJECT.in(limitSubject, fallback), LIMITS.PERIOD.eq(period))
        .orderBy(LIMITS.SUBJECT.eq(limitSubject).desc()).limit(1).fetchOne(LIMITS.LIMIT_NANOS);
    LimitRequestsRecord r = tx.newRecord(LIMIT_REQUESTS);
    r.setId(Ids.newId());
    r.setWallet(wallet);
    r.setSubject(limitSubject);
    r.setPeriod(period);
    r.setRequestedLimit(limit);
    r.setCurrentLimit(current == null ? 0 : current);
    r.setReason(reason);
    r.setState("pending");
    r.setRequestedBy(caller.platform() ? "platform" : caller.user());
    r.setDecidedBy("");
    r.setDecisionNote("");
    r.setCreateTime(OffsetDateTime.now(clock));
    r.store();
    audit(tx, caller, r, "wallet.limit_request.create", Map.of("subject", limitSubject, "period", period,
        "requested_limit_nanos", Long.toString(limit), "current_limit_nanos", Long.toString(r.getCurrentLimit())));
    return r;
  }

  public record Page(List<LimitRequestsRecord> requests, String nextPageToken) {}

  /** All of the wallet's requests for Owners and Admins, the caller's own for a member. */
  public Page list(DSLContext tx, Caller caller, String name, String state, String pageToken, int pageSize) {
    String wallet = access.resolve(caller, name);
    Condition c = LIMIT_REQUESTS.WALLET.eq(wallet);
    try {
      access.requireManage(caller, wallet);
    } catch (TallyException e) {
      if (e.code() != Status.Code.PERMISSION_DENIED || !caller.isUser()) {
        throw e;
      }
      c = c.and(LIMIT_REQUESTS.REQUESTED_BY.eq(caller.user())); // a member sees their own
    }
    if (!state.isEmpty()) {
      c = c.and(LIMIT_REQUESTS.STATE.eq(state));
    }
    int size = PageTokens.pageSize(pageSize);
    String list = "limitRequests:" + wallet;
    String before = PageTokens.decode(list, pageToken);
    if (before != null) {
      c = c.and(LIMIT_REQUESTS.ID.lt(before));
    }
    List<LimitRequestsRecord> rows = tx.selectFrom(LIMIT_REQUESTS).where(c).orderBy(LIMIT_REQUESTS.ID.desc())
        .limit(size + 1).fetch();
    String next = rows.size() > size ? PageTokens.encode(list, rows.get(size - 1).getId()) : "";
    return new Page(rows.size() > size ? rows.subList(0, size) : rows, next);
  }

  /** Approves (the asked cap becomes the subject's override) or denies a pending request. */
  public LimitRequestsRecord decide(DSLContext tx, Caller caller, String requestName, boolean approve, String note) {
    int at = requestName.indexOf("/limitRequests/");
    String wallet = requestName.substring(0, at);
    String id = requestName.substring(at + "/limitRequests/".length());
    access.requireManage(caller, wallet);
    LimitRequestsRecord r = tx.selectFrom(LIMIT_REQUESTS).where(LIMIT_REQUESTS.WALLET.eq(wallet),
        LIMIT_REQUESTS.ID.eq(id)).forUpdate().fetchOptional().orElseThrow(() -> TallyException.notFound(
            Reasons.NOT_FOUND, "limit request " + requestName + " not found"));
    if (!"pending".equals(r.getState())) {
      throw TallyException.failedPrecondition(Reasons.REQUEST_NOT_PENDING, "the request is already " + r.getState());
    }
    if (approve) {
      if (r.getSubject().equals(wallet)) {
        wallets.setSpendingLimit(tx, caller, wallet, r.getPeriod(), r.getRequestedLimit(), false, List.of());
      } else {
        wallets.setQuota(tx, caller, wallet, r.getSubject(), r.getPeriod(), r.getRequestedLimit(), false, List.of());
      }
    }
    r.setState(approve ? "approved" : "denied");
    r.setDecidedBy(caller.platform() ? "platform" : caller.user());
    r.setDecisionNote(note);
    r.setDecideTime(OffsetDateTime.now(clock).withOffsetSameInstant(ZoneOffset.UTC));
    r.store();
    audit(tx, caller, r, approve ? "wallet.limit_request.approve" : "wallet.limit_request.deny", Map.of(
        "subject", r.getSubject(), "period", r.getPeriod(), "requested_limit_nanos",
        Long.toString(r.getRequestedLimit()), "note", note));
    return r;
  }

  private static void audit(DSLContext tx, Caller caller, LimitRequestsRecord r, String action,
      Map<String, String> details) {
    WalletManager.audit(tx, caller, r.getWallet(), action, r.getWallet() + "/limitRequests/" + r.getId(), details);
  }
}
