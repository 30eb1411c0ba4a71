package dev.tally.wallet.wallets;

import dev.tally.common.admission.AdmissionRules;
import dev.tally.common.ids.Wallets;
import java.util.Map;
import dev.tally.common.kafka.AuditTrail;
import dev.tally.common.auth.Caller;
import dev.tally.common.error.Reasons;
import dev.tally.common.error.TallyException;
import dev.tally.common.ids.Ids;
import dev.tally.common.ids.PageTokens;
import dev.tally.wallet.access.BillingAccess;
import dev.tally.wallet.db.TransferDao;
import dev.tally.wallet.db.UsageLineDao;
import dev.tally.wallet.db.LimitDao;
import dev.tally.wallet.db.WalletDao;
import dev.tally.wallet.events.WalletEvents;
import dev.tally.wallet.db.jooq.tables.records.SpendRecord;
import dev.tally.wallet.db.jooq.tables.records.TransfersRecord;
import dev.tally.wallet.db.jooq.tables.records.WalletsRecord;
import dev.tally.wallet.ledger.Accounts;
import dev.tally.wallet.ledger.Ledger;
import dev.tally.wallet.ledger.Money;
import dev.tally.wallet.ledger.NewTransfer;
import dev.tally.wallet.periods.Periods;
import dev.tally.wallet.plans.Plan;
import dev.tally.wallet.usage.ChargeBatch;
import dev.tally.wallet.usage.UsageLine;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.regex.Pattern;
import org.jooq.DSLContext;

/** Wallet operations: reading, deposits, statement, limits, quotas, discount, auto-refill, plans, grants. */
public final class WalletManager {
  // A member or a key; `*` in place of the user or key sets the team's default for each of them.
  private static final Pattern MEMBER = Pattern.compile("teams/([A-Za-z0-9_-]{1,64})/members/([A-Za-z0-9_-]{1,64}|\\*)");
  private static final Pattern KEY = Pattern.compile("apiKeys/([A-Za-z0-9_-]{1,64}|\\*)");

  private final WalletBook book;
  private final WalletDao wallets;
  private final LimitDao limitRows = new LimitDao();
  private final TransferDao transfers;
  private final UsageLineDao usageLines;
  private final Ledger ledger;
  private final BillingAccess access;
  private final WalletEvents events;

  public WalletManager(WalletBook book, WalletDao wallets, TransferDao transfers, UsageLineDao usageLines,
      Ledger ledger, BillingAccess access, WalletEvents events) {
    this.usageLines = usageLines;
    this.events = events;
    this.book = book;
    this.wallets = wallets;
    this.transfers = transfers;
    this.ledger = ledger;
    this.access = access;
  }

  public Snapshot get(DSLContext tx, Caller caller, String name) {
    String wallet = access.resolve(caller, name);
    access.requireView(caller, wallet);
    return book.snapshot(tx, book.lockFresh(tx, wallet));
  }

  public record Deposited(TransfersRecord transfer, Snapshot wallet) {}

  /** Credits a payment once per external reference; a deposit above the threshold resumes the wallet. */
  public Deposited deposit(DSLContext tx, Caller caller, String name, long amount, String currency, String reference,
      String description) {
    requirePlatform(caller, "deposits record payments the platform received; a team asks the platform to top up");
    String wallet = access.resolve(caller, name);
    access.requireOwnerExists(wallet);
    WalletsRecord w = book.lockFresh(tx, wallet);
    if (!w.getCurrencyCode().equals(currency)) {
      throw TallyException.invalidArgument("currency_code", "the wallet holds " + w.getCurrencyCode());
    }
    if (Boolean.TRUE.equals(w.getClosed())) {
      throw TallyException.failedPrecondition(Reasons.WALLET_CLOSED, "the wallet's team was deleted");
    }
    // The unique index on (currency, reference) is the real guard; this lookup gives the friendly answer.
    var existing = transfers.depositByReference(tx, currency, reference);
    if (existing.isPresent()) {
      TransfersRecord t = existing.get();
      if (t.getAmount() != amount || !t.getCreditAccount().equals(Accounts.paid(wallet))) {
        throw TallyException.alreadyExists(Reasons.IDEMPOTENCY_KEY_REUSED,
            "payment " + reference + " was already deposited with another amount or wallet");
      }
      return new Deposited(t, book.snapshot(tx, w));
    }
    long balance = ledger.balance(tx, Accounts.paid(wallet));
    Money.add(balance, amount);
    TransfersRecord t = ledger.postOne(tx, new NewTransfer(Ids.newId(), Accounts.deposits(currency),
        Accounts.paid(wallet), amount, currency, "deposit", null, null, null, reference, null, null,
        description.isEmpty() ? "deposit" : description, book.nowOdt()));
    audit(tx, caller, wallet, "wallet.deposit", Map.of("amount_nanos", Long.toString(amount),
        "currency_code", currency, "external_reference", reference, "transfer", t.getId(),
        "before.balance_nanos", Long.toString(balance), "after.balance_nanos", Long.toString(balance + amount)));
    w.setAutoRefillFailures(0); // a payment was recorded: whatever was pending is settled
    w.setAutoRefillPending(0L);
    return new Deposited(t, book.afterChange(tx, w));
  }

  public record Page(String wallet, List<TransfersRecord> transfers, String nextPageToken) {}

  public Page statement(DSLContext tx, Caller caller, String name, Collection<String> codes, OffsetDateTime start,
      OffsetDateTime end, String member, String apiKey, String pageToken, int pageSize) {
    String wallet = access.resolve(caller, name);
    access.requireView(caller, wallet);
    int size = PageTokens.pageSize(pageSize);
    String list = "transfers:" + wallet;
    String before = PageTokens.decode(list, pageToken);
    // Usage is posted per batch and itemized per event: the statement lists the lines, not the postings.
    List<String> ledgerCodes = codes.stream().filter(c -> !c.equals("usage")).toList();
    List<TransfersRecord> rows = new ArrayList<>();
    if (codes.isEmpty() || !ledgerCodes.isEmpty()) {
      rows.addAll(transfers.statementWithoutUsage(tx, List.of(Accounts.paid(wallet), Accounts.granted(wallet)),
          ledgerCodes, start, end, member, apiKey, before, size + 1));
    }
    if (codes.isEmpty() || codes.contains("usage")) {
      for (UsageLine line : usageLines.statement(tx, wallet, start, end, member, apiKey, before, size + 1)) {
        line.statementItems().stream().filter(i -> before == null || i.getId().compareTo(before) < 0)
            .forEach(rows::add);
      }
    }
    rows.sort(java.util.Comparator.comparing(TransfersRecord::getId).reversed());
    String next = rows.size() > size ? PageTokens.encode(list, rows.get(size - 1).getId()) : "";
    return new Page(wallet, rows.size() > size ? rows.subList(0, size) : rows, next);
  }

  public Snapshot setSpendingLimit(DSLContext tx, Caller caller, String name, String period, long limit,
      boolean clear, List<Integer> alertPercents) {
    String wallet = access.resolve(caller, name);
    access.requireManage(caller, wallet);
    return setLimit(tx, caller, "wallet.set_spending_limit", wallet, wallet, period, limit, clear, alertPercents);
  }

  public Snapshot setQuota(DSLContext tx, Caller caller, String name, String subject, String period, long limit,
      boolean clear, List<Integer> alertPercents) {
    String wallet = access.resolve(caller, name);
    access.requireManage(caller, wallet);
    var member = MEMBER.matcher(subject);
    boolean ok = (member.matches() && wallet.equals("wallets/team-" + member.group(1))) || KEY.matcher(subject).matches();
    if (!ok) {
      throw TallyException.invalidArgument("subject",
          "must be a member of the wallet's team (teams/{team}/members/{user}) or a key (apiKeys/{key})");
    }
    return setLimit(tx, caller, "wallet.set_quota", wallet, subject, period, limit, clear, alertPercents);
  }

  private Snapshot setLimit(DSLContext tx, Caller caller, String action, String wallet, String subject, String period,
      long limit, boolean clear, List<Integer> alertPercents) {
    List<Integer> alerts = alertPercents.isEmpty() ? ChargeBatch.DEFAULT_ALERTS
        : alertPercents.stream().distinct().sorted().toList();
    WalletsRecord w = book.lockFresh(tx, wallet);
    String before = limitRows.limits(tx, wallet).stream()
        .filter(l -> l.getSubject().equals(subject) && l.getPeriod().equals(period))
        .map(l -> Long.toString(l.getLimitNanos())).findFirst().orElse("none");
    Map<String, String> details = Map.of("subject", subject, "period", period, "before.limit_nanos", before,
        "after.limit_nanos", clear ? "none" : Long.toString(limit));
    if (!clear && limit > Money.MAX_AMOUNT) {
      throw TallyException.invalidArgument("limit_nanos", "must be at most " + Money.MAX_AMOUNT);
    }
    // Spend windows are only kept where a limit reads them (and the wallet's month): a new limit starts from
    // what the usage lines in its current window add up to. A limit below that is accepted and blocks at once
    // (remaining 0): lowering a cap is how an admin stops spending now, so it must never be refused.
    java.util.Set<String> ownLimits = new java.util.HashSet<>();
    limitRows.limits(tx, wallet).forEach(l -> ownLimits.add(l.getSubject() + "|" + l.getPeriod()));
    for (SpendRecord window : recount(tx, w, subject, period)) {
      // An alert that fired in this window is over once the limit no longer puts the spend past it.
      int stillCrossed = clear ? 0 : ChargeBatch.highestCrossed(window.getSpent(), limit, alerts);
      // Under a default, a member or key with its own limit of the period is not affected by the change.
      boolean overridden = !window.getSubject().equals(subject) && ownLimits.contains(window.getSubject() + "|" + period);
      if (window.getNotifiedPct() > stillCrossed && !overridden) {
        events.thresholdResolved(tx, wallet, window.getSubject(), period, window.getNotifiedPct(), clear ? 0 : limit,
            window.getSpent(), clear ? "LIMIT_CLEARED" : "LIMIT_RAISED");
        limitRows.setNotifiedPct(tx, window, stillCrossed);
      }
    }
    if (clear) {
      limitRows.deleteLimit(tx, wallet, subject, period);
      audit(tx, caller, wallet, action, details);
      return book.afterChange(tx, w);
    }
    limitRows.putLimit(tx, wallet, subject, period, limit, alerts);
    audit(tx, caller, wallet, action, details);
    return book.afterChange(tx, w);
  }

  /**
   * Sets the spend of a limit's current window (under the wallet's anchor) to what the usage lines in it add
   * up to: for a team default, the window of every member or key that spent in it. Returns the windows.
   */
  private List<SpendRecord> recount(DSLContext tx, WalletsRecord w, String subject, String period) {
    var window = LimitDao.SpendIncrement.window(w.getName(), subject, period, WalletBook.periods(w), book.now());
    if (!AdmissionRules.isDefault(subject)) {
      return limitRows.setSpendAll(tx, List.of(window.withAmount(usageLines.spent(tx, w.getName(), subject,
          window.windowStart(), window.windowEnd()))));
    }
    List<LimitDao.SpendIncrement> each = new ArrayList<>();
    usageLines.spentPerSubject(tx, w.getName(), subject.equals(AdmissionRules.KEY_DEFAULT), window.windowStart(),
        window.windowEnd()).forEach((who, spent) -> each.add(new LimitDao.SpendIncrement(w.getName(), who, period,
        window.windowStart(), window.windowEnd(), spent)));
    return limitRows.setSpendAll(tx, each);
  }

  /**
   * Anchors the wallet's windows to its team's billing day and time zone. Every window a limit (or the
   * wallet's month) reads is recounted from the usage lines under the new anchor, so spend is never lost or
   * counted twice by the move; the plan's current period ends as it was granted and the next one follows the
   * new anchor (pro rata where they overlap).
   */
  public Snapshot setBillingPeriod(DSLContext tx, Caller caller, String name, int billingDay, String timeZone) {
    String wallet = access.resolve(caller, name);
    access.requireManage(caller, wallet);
    Periods anchor = Periods.of(billingDay, timeZone);
    WalletsRecord w = book.lockFresh(tx, wallet);
    audit(tx, caller, wallet, "wallet.set_billing_period", Map.of("before.billing_day",
        Integer.toString(w.getBillingDay()), "before.time_zone", w.getTimeZone(), "after.billing_day",
        Integer.toString(anchor.billingDay()), "after.time_zone", anchor.zone().getId()));
    w.setBillingDay((short) anchor.billingDay());
    w.setTimeZone(anchor.zone().getId());
    wallets.store(tx, w);
    recount(tx, w, wallet, "month");
    for (var l : limitRows.limits(tx, wallet)) {
      recount(tx, w, l.getSubject(), l.getPeriod());
    }
    return book.afterChange(tx, w);
  }

  public Snapshot setDiscount(DSLContext tx, Caller caller, String name, int bps) {
    String wallet = access.resolve(caller, name);
    requirePlatform(caller, "discounts are set by the platform's operators");
    WalletsRecord w = book.lockFresh(tx, wallet);
    audit(tx, caller, wallet, "wallet.set_discount", Map.of("before.discount_basis_points",
        Integer.toString(w.getDiscountBps()), "after.discount_basis_points", Integer.toString(bps)));
    w.setDiscountBps(bps);
    return book.afterChange(tx, w);
  }

  public Snapshot setAutoRefill(DSLContext tx, Caller caller, String name, boolean enabled, long threshold,
      long amount, long target, long monthlyCap, int maxFailures) {
    String wallet = access.resolve(caller, name);
    access.requireManage(caller, wallet);
    if (enabled && amount <= 0 && target <= 0) {
      throw TallyException.invalidArgument("amount_nanos",
          "a positive amount_nanos or target_balance_nanos is needed when auto-refill is enabled");
    }
    if (target > 0 && target <= threshold) {
      throw TallyException.invalidArgument("target_balance_nanos", "must be above threshold_nanos");
    }
    if (amount > Money.MAX_AMOUNT || threshold > Money.MAX_AMOUNT) {
      throw TallyException.invalidArgument("amount_nanos", "must be at most " + Money.MAX_AMOUNT);
    }
    WalletsRecord w = book.lockFresh(tx, wallet);
    audit(tx, caller, wallet, "wallet.set_auto_refill", Map.of(
        "before.enabled", Boolean.toString(w.getAutoRefillEnabled()), "after.enabled", Boolean.toString(enabled),
        "before.threshold_nanos", Long.toString(w.getAutoRefillThreshold()), "after.threshold_nanos",
        Long.toString(threshold), "before.amount_nanos", Long.toString(w.getAutoRefillAmount()),
        "after.amount_nanos", Long.toString(amount)));
    w.setAutoRefillEnabled(enabled);
    w.setAutoRefillThreshold(threshold);
    w.setAutoRefillAmount(amount);
    w.setAutoRefillTarget(target);
    w.setAutoRefillMonthlyCap(monthlyCap);
    w.setAutoRefillMaxFailures(maxFailures > 0 ? maxFailures : 3);
    w.setAutoRefillFailures(0);
    w.setAutoRefillRequested(false);
    return book.afterChange(tx, w);
  }

  /**
   * A requested refill could not be collected: it no longer counts against the month's cap, the next attempt
   * is requested at once (the balance is still below the threshold), and after the configured number of
   * failures in a row auto-refill switches itself off, saying so on wallet.v1.
   */
  public Snapshot refillFailed(DSLContext tx, Caller caller, String name, String refillId) {
    String wallet = access.resolve(caller, name);
    requirePlatform(caller, "refill payments are reported by the platform's billing backend");
    WalletsRecord w = book.lockFresh(tx, wallet);
    if (!w.getAutoRefillEnabled()) {
      throw TallyException.failedPrecondition(Reasons.AUTO_REFILL_OFF, "auto-refill is off for " + wallet);
    }
    w.setAutoRefillFailures(w.getAutoRefillFailures() + 1);
    w.setAutoRefillMonthRequested(Math.max(0, w.getAutoRefillMonthRequested() - w.getAutoRefillPending()));
    w.setAutoRefillPending(0L);
    w.setAutoRefillRequested(false);
    Map<String, String> details = Map.of("refill_id", refillId, "failed_attempts",
        Integer.toString(w.getAutoRefillFailures()));
    if (w.getAutoRefillFailures() >= w.getAutoRefillMaxFailures()) {
      w.setAutoRefillEnabled(false);
      events.autoRefillDisabled(tx, wallet, w.getAutoRefillFailures(), refillId);
      audit(tx, caller, wallet, "wallet.auto_refill_disabled", details);
    } else {
      audit(tx, caller, wallet, "wallet.auto_refill_failed", details);
    }
    return book.afterChange(tx, w);
  }

  public Snapshot setAdmissionMode(DSLContext tx, Caller caller, String name, String mode) {
    // Soft mode trades an overspend bound for speed: the platform's risk, so the platform's call.
    requirePlatform(caller, "the admission mode is set by the platform's operators");
    String wallet = access.resolve(caller, name);
    WalletsRecord w = book.lockFresh(tx, wallet);
    audit(tx, caller, wallet, "wallet.set_admission_mode", Map.of("before.mode", w.getAdmissionMode(),
        "after.mode", mode));
    w.setAdmissionMode(mode);
    return book.afterChange(tx, w);
  }

  /**
   * Subscribes a team wallet to a plan. New included usage (more seats, or a bigger plan) is granted at
   * once pro rata for the rest of the month; the full grant follows at each period start.
   */
  public Snapshot setPlan(DSLContext tx, Caller caller, String name, String planName, int seats) {
    requirePlatform(caller, "seats are paid to the platform, which records the plan");
    String wallet = access.resolve(caller, name);
    access.requireOwnerExists(wallet);
    if (!wallet.startsWith("wallets/team-")) {
      throw TallyException.invalidArgument("wallet", "plans are for team wallets");
    }
    WalletsRecord w = book.lockFresh(tx, wallet);
    audit(tx, caller, wallet, "wallet.set_plan", Map.of("before.plan", w.getPlan() == null ? "none" : w.getPlan(),
        "before.seats", Integer.toString(w.getSeats()), "after.plan", planName.isEmpty() ? "none" : planName,
        "after.seats", Integer.toString(planName.isEmpty() ? 0 : seats)));
    if (planName.isEmpty()) {
      w.setPlan(null);
      w.setSeats(0);
      w.setPlanPeriodStart(null);
      w.setPlanPeriodEnd(null);
      return book.afterChange(tx, w);
    }
    if (!planName.startsWith("plans/")) {
      throw TallyException.invalidArgument("plan", "must look like plans/{plan}");
    }
    if (seats <= 0) {
      throw TallyException.invalidArgument("seats", "must be at least 1 with a plan");
    }
    Plan plan = book.plan(planName.substring("plans/".length()));
    long before = w.getPlan() == null ? 0 : book.plan(w.getPlan()).includedPerSeat() * w.getSeats();
    long after = Math.multiplyExact(plan.includedPerSeat(), (long) seats);
    Instant now = book.now();
    OffsetDateTime start = WalletBook.periods(w).windowStart("month", now);
    OffsetDateTime end = WalletBook.periods(w).windowEnd("month", now);
    if (after > before) {
      long remaining = Duration.between(now, end.toInstant()).toSeconds();
      long whole = Duration.between(start.toInstant(), end.toInstant()).toSeconds();
      long grant = Money.proRata(after - before, remaining, whole);
      if (grant > 0) {
        book.grant(tx, w, grant, 0, end, "plan " + plan.id() + " × " + seats + " (pro rata)", "plan");
      }
    }
    w.setPlan(plan.id());
    w.setSeats(seats);
    w.setPlanPeriodStart(start);
    w.setPlanPeriodEnd(end);
    return book.afterChange(tx, w);
  }

  public List<Plan> plans() {
    return book.policy().plans();
  }

  public record Granted(TransfersRecord transfer, Snapshot wallet) {}

  public Snapshot grantCredits(DSLContext tx, Caller caller, String name, long amount, int priority,
      OffsetDateTime expire, String description) {
    String wallet = access.resolve(caller, name);
    requirePlatform(caller, "credits are granted by the platform's operators");
    access.requireOwnerExists(wallet);
    if (expire != null && !expire.toInstant().isAfter(book.now())) {
      throw TallyException.invalidArgument("expire_time", "must be in the future");
    }
    WalletsRecord w = book.lockFresh(tx, wallet);
    book.grant(tx, w, amount, priority, expire, description.isEmpty() ? "promotional credit" : description, "promo");
    audit(tx, caller, wallet, "wallet.grant_credits", Map.of("amount_nanos", Long.toString(amount),
        "priority", Integer.toString(priority), "expire_time", expire == null ? "never" : expire.toString()));
    return book.afterChange(tx, w);
  }

  public List<WalletsRecord> statesPage(DSLContext tx, Caller caller, String after, int limit) {
    requirePlatform(caller, "wallet states are internal");
    return wallets.page(tx, after, limit);
  }

  /** Records an administrative change of {@code wallet} in its owner's audit log (see {@link AuditTrail}). */
  private static void audit(DSLContext tx, Caller caller, String wallet, String action, Map<String, String> details) {
    audit(tx, caller, wallet, action, wallet, details);
  }

  /** Records an action on {@code target} (the wallet or something of it) in the wallet owner's audit log. */
  public static void audit(DSLContext tx, Caller caller, String wallet, String action, String target,
      Map<String, String> details) {
    String owner = Wallets.owner(wallet);
    AuditTrail.record(tx, caller, owner == null ? AuditTrail.PLATFORM_SCOPE : owner, action, target, details);
  }

  public static void requirePlatform(Caller caller, String why) {
    if (!caller.platform()) {
      throw TallyException.permissionDenied(Reasons.ROLE_FORBIDDEN, why);
    }
  }
}
