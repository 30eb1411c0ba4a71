package dev.tally.wallet.wallets;

import dev.tally.common.admission.AdmissionRules;
import dev.tally.common.error.Reasons;
import dev.tally.common.error.TallyException;
import dev.tally.common.ids.Ids;
import dev.tally.common.ids.Wallets;
import dev.tally.wallet.config.WalletPolicy;
import dev.tally.wallet.db.GrantDao;
import dev.tally.wallet.db.HoldDao;
import dev.tally.wallet.db.LimitDao;
import dev.tally.wallet.db.WalletDao;
import dev.tally.wallet.db.jooq.tables.records.GrantsRecord;
import dev.tally.wallet.db.jooq.tables.records.HoldsRecord;
import dev.tally.wallet.db.jooq.tables.records.LimitsRecord;
import dev.tally.wallet.db.jooq.tables.records.WalletsRecord;
import dev.tally.wallet.events.WalletEvents;
import dev.tally.wallet.ledger.Accounts;
import dev.tally.wallet.ledger.Ledger;
import dev.tally.wallet.ledger.Money;
import dev.tally.wallet.ledger.NewTransfer;
import dev.tally.wallet.periods.Periods;
import dev.tally.wallet.plans.Plan;
import java.time.Clock;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.regex.Pattern;
import org.jooq.DSLContext;

/**
 * The core of a wallet shared by every operation: creating it, reading its snapshot, its housekeeping
 * (expired holds, expired grants, plan renewals at period start) and what follows any change of its money
 * (suspension and resumption, low-balance and auto-refill signals, the state event for gateways).
 */
public final class WalletBook {
  private static final Pattern NAME = Pattern.compile("wallets/(team|user)-[A-Za-z0-9_-]{1,64}");

  private final WalletDao wallets;
  private final LimitDao limitRows = new LimitDao();
  private final HoldDao holdRows = new HoldDao();
  private final GrantDao grantRows = new GrantDao();
  private final Ledger ledger;
  private volatile ExpiredHolds expiredHolds = ExpiredHolds.RELEASE;
  private final WalletEvents events;
  private final WalletPolicy policy;
  private final Clock clock;

  public WalletBook(WalletDao wallets, Ledger ledger, WalletEvents events, WalletPolicy policy, Clock clock) {
    this.wallets = wallets;
    this.ledger = ledger;
    this.events = events;
    this.policy = policy;
    this.clock = clock;
  }

  public Instant now() {
    return clock.instant();
  }

  public OffsetDateTime nowOdt() {
    return clock.instant().atOffset(ZoneOffset.UTC);
  }

  /** Sets what expired holds cost (before the wallet serves calls; release until then). */
  public void onExpiredHolds(ExpiredHolds rule) {
    this.expiredHolds = rule;
  }

  public WalletPolicy policy() {
    return policy;
  }

  /** Creates the wallet (and its accounts) unless it exists. */
  public void ensure(DSLContext tx, String name) {
    ensureAll(tx, new TreeSet<>(List.of(name)));
  }

  /** A wallet's name as {@link #ensure} accepts it, else INVALID_ARGUMENT. */
  public static void requireWalletName(String name) {
    if (!NAME.matcher(name).matches()) {
      throw TallyException.invalidArgument("wallet", "must look like wallets/team-{team} or wallets/user-{user}");
    }
  }

  /** {@link #ensure} for many wallets with two statements. */
  public void ensureAll(DSLContext tx, SortedSet<String> names) {
    names.forEach(WalletBook::requireWalletName);
    List<String> sorted = List.copyOf(names);
    wallets.insertAllIfAbsent(tx, sorted, sorted.stream().map(Wallets::owner).toList(), policy.currency(),
        policy.suspendThreshold());
    List<String> accounts = new ArrayList<>(2 * names.size());
    names.forEach(n -> {
      accounts.add(Accounts.paid(n));
      accounts.add(Accounts.granted(n));
    });
    ledger.ensureAccounts(tx, accounts, policy.currency());
  }

  /**
   * {@link #housekeep} for many locked wallets, with one read of their due holds and one of their due grants
   * (never every pending hold); returns the wallets that changed.
   */
  public List<WalletsRecord> housekeepAll(DSLContext tx, List<WalletsRecord> locked) {
    OffsetDateTime now = nowOdt();
    List<String> names = locked.stream().map(WalletsRecord::getName).toList();
    Map<String, List<HoldsRecord>> dueHolds = new HashMap<>();
    holdRows.duePendingHoldsOf(tx, names, now).forEach(h ->
        dueHolds.computeIfAbsent(h.getWallet(), k -> new ArrayList<>()).add(h));
    Map<String, List<GrantsRecord>> dueGrants = new HashMap<>();
    grantRows.dueGrantsOf(tx, names, now).forEach(g ->
        dueGrants.computeIfAbsent(g.getWallet(), k -> new ArrayList<>()).add(g));
    List<WalletsRecord> changed = new ArrayList<>();
    ClosingHolds closing = new ClosingHolds();
    for (WalletsRecord w : locked) {
      if (housekeep(tx, w, dueHolds.getOrDefault(w.getName(), List.of()),
          dueGrants.getOrDefault(w.getName(), List.of()), closing)) {
        changed.add(w);
      }
    }
    closing.close(tx, holdRows, locked);
    return changed;
  }

  /**
   * The expired holds of a pass, closed together: two statements whatever the number of wallets. What they
   * held leaves the wallets' held totals at the amounts the closing found, not those read before it.
   */
  private static final class ClosingHolds {
    final List<String> released = new ArrayList<>();
    final List<String> charged = new ArrayList<>();

    void close(DSLContext tx, HoldDao holdRows, List<WalletsRecord> locked) {
      Map<String, Long> freed = new HashMap<>(holdRows.closeHolds(tx, released, "expired", false));
      holdRows.closeHolds(tx, charged, "expired", true).forEach((w, amount) -> freed.merge(w, amount, Long::sum));
      for (WalletsRecord w : locked) {
        w.setHeld(w.getHeld() - freed.getOrDefault(w.getName(), 0L));
      }
    }
  }

  /** Locks the wallet, creating it first when needed, and brings it up to date. */
  public WalletsRecord lockFresh(DSLContext tx, String name) {
    ensure(tx, name);
    WalletsRecord w = wallets.lock(tx, name).orElseThrow();
    bringUpToDate(tx, w);
    return w;
  }

  public WalletsRecord lockExisting(DSLContext tx, String name) {
    WalletsRecord w = wallets.lock(tx, name).orElseThrow(() -> notFound(name));
    bringUpToDate(tx, w);
    return w;
  }

  /** The wallet's period windows: its team's billing day and time zone. */
  public static Periods periods(WalletsRecord w) {
    return Periods.of(w.getBillingDay(), w.getTimeZone());
  }

  public Snapshot snapshot(DSLContext tx, WalletsRecord w) {
    return snapshotAll(tx, List.of(w)).getFirst();
  }

  /**
   * The money and limits of several wallets, with a fixed number of reads: their accounts' balances, their
   * limits and every spend window those limits (and the wallets' months) count in.
   */
  public List<Snapshot> snapshotAll(DSLContext tx, List<WalletsRecord> ws) {
    Instant now = now();
    List<String> names = ws.stream().map(WalletsRecord::getName).toList();
    List<String> accounts = new ArrayList<>(2 * names.size());
    names.forEach(n -> {
      accounts.add(Accounts.paid(n));
      accounts.add(Accounts.granted(n));
    });
    Map<String, Long> balances = ledger.balances(tx, accounts);
    Map<String, List<LimitsRecord>> limits = new HashMap<>();
    limitRows.limitsOf(tx, names).forEach(l -> limits.computeIfAbsent(l.getWallet(), k -> new ArrayList<>()).add(l));
    limits.values().forEach(l -> l.sort(Comparator.comparing(LimitsRecord::getSubject)
        .thenComparing(LimitsRecord::getPeriod)));
    List<LimitDao.SpendIncrement> windows = new ArrayList<>();
    List<LimitDao.SpendIncrement> defaultWindows = new ArrayList<>();
    for (WalletsRecord w : ws) {
      String name = w.getName();
      Periods periods = periods(w);
      windows.add(LimitDao.SpendIncrement.window(name, name, "month", periods, now));
      for (LimitsRecord l : limits.getOrDefault(name, List.of())) {
        var window = LimitDao.SpendIncrement.window(name, l.getSubject(), l.getPeriod(), periods, now);
        (AdmissionRules.isDefault(l.getSubject()) ? defaultWindows : windows).add(window);
      }
    }
    Map<String, Long> spent = limitRows.spentAll(tx, windows);
    // A team default counts against each member or key on its own: the windows of those that spent in it.
    Map<String, List<LimitDao.Spent>> underDefaults = limitRows.spentUnderDefaults(tx, defaultWindows);
    List<Snapshot> snapshots = new ArrayList<>(ws.size());
    for (WalletsRecord w : ws) {
      String name = w.getName();
      Periods periods = periods(w);
      List<LimitsRecord> own = limits.getOrDefault(name, List.of());
      Set<String> explicit = new HashSet<>();
      own.forEach(l -> explicit.add(l.getSubject() + "|" + l.getPeriod()));
      List<Snapshot.LimitState> states = new ArrayList<>();
      for (LimitsRecord l : own) {
        OffsetDateTime start = periods.windowStart(l.getPeriod(), now);
        OffsetDateTime reset = periods.windowEnd(l.getPeriod(), now);
        List<Integer> alerts = List.of(l.getAlertPercents());
        if (!AdmissionRules.isDefault(l.getSubject())) {
          states.add(new Snapshot.LimitState(l.getSubject(), l.getPeriod(), l.getLimitNanos(),
              spent.getOrDefault(LimitDao.windowKey(name, l.getSubject(), l.getPeriod(), start), 0L), reset, alerts,
              false));
          continue;
        }
        states.add(new Snapshot.LimitState(l.getSubject(), l.getPeriod(), l.getLimitNanos(), 0, reset, alerts, false));
        for (LimitDao.Spent s : underDefaults.getOrDefault(LimitDao.windowKey(name, l.getSubject(), l.getPeriod(),
            start), List.of())) {
          if (!explicit.contains(s.subject() + "|" + l.getPeriod())) { // an override replaces the default
            states.add(new Snapshot.LimitState(s.subject(), l.getPeriod(), l.getLimitNanos(), s.spent(), reset, alerts,
                true));
          }
        }
      }
      OffsetDateTime monthStart = periods.windowStart("month", now);
      snapshots.add(new Snapshot(w, balances.getOrDefault(Accounts.paid(name), 0L),
          balances.getOrDefault(Accounts.granted(name), 0L), w.getHeld(),
          spent.getOrDefault(LimitDao.windowKey(name, name, "month", monthStart), 0L), monthStart,
          periods.windowEnd("month", now), states,
          w.getPlan() == null ? 0 : grantRows.grantedSince(tx, name, "plan", monthStart)));
    }
    return snapshots;
  }

  /**
   * Brings a locked wallet up to date ({@link #housekeep}) and stores it when that changed anything: what
   * housekeeping closes or takes back changes the row object, and a caller that did not store it left the
   * stored held total holding expired holds' money for good.
   */
  public void bringUpToDate(DSLContext tx, WalletsRecord w) {
    if (housekeep(tx, w)) {
      afterChange(tx, w);
    }
  }

  /**
   * Releases expired holds, takes back expired grants and renews the plan grant at a new period. Returns
   * whether anything changed. The wallet must be locked.
   */
  private boolean housekeep(DSLContext tx, WalletsRecord w) {
    OffsetDateTime now = nowOdt();
    ClosingHolds closing = new ClosingHolds();
    boolean changed = housekeep(tx, w, holdRows.duePendingHoldsOf(tx, List.of(w.getName()), now),
        grantRows.dueGrantsOf(tx, List.of(w.getName()), now), closing);
    closing.close(tx, holdRows, List.of(w));
    return changed;
  }

  private boolean housekeep(DSLContext tx, WalletsRecord w, List<HoldsRecord> dueHolds, List<GrantsRecord> dueGrants,
      ClosingHolds closing) {
    boolean changed = false;
    // A lease is no request's estimate: it is released, whatever expired holds cost.
    List<HoldsRecord> estimates = dueHolds.stream().filter(h -> !HoldDao.isLease(h)).toList();
    boolean charged = !estimates.isEmpty() && expiredHolds.expired(tx, w, estimates);
    estimates.forEach(h -> (charged ? closing.charged : closing.released).add(h.getId()));
    dueHolds.stream().filter(HoldDao::isLease).forEach(h -> closing.released.add(h.getId()));
    changed |= !dueHolds.isEmpty(); // their amounts leave the held total as they are closed (ClosingHolds)
    for (GrantsRecord g : dueGrants) {
      expireGrant(tx, w, g, "expired");
      changed = true;
    }
    if (w.getPlan() != null && w.getPlanPeriodEnd() != null && !w.getPlanPeriodEnd().toInstant().isAfter(now())) {
      renewPlan(tx, w);
      changed = true;
    }
    return changed;
  }

  /**
   * Grants the plan's included usage for the billing month that is starting. When the billing day moved, the
   * new month overlaps the one already granted: only the part after the old end is granted, pro rata.
   */
  private void renewPlan(DSLContext tx, WalletsRecord w) {
    Periods periods = periods(w);
    OffsetDateTime start = periods.windowStart("month", now());
    OffsetDateTime end = periods.windowEnd("month", now());
    OffsetDateTime from = w.getPlanPeriodEnd().isAfter(start) ? w.getPlanPeriodEnd() : start;
    Plan plan = plan(w.getPlan());
    long amount = Money.proRata(Money.proRata(plan.includedPerSeat(), w.getSeats(), 1),
        java.time.Duration.between(from, end).toSeconds(), java.time.Duration.between(start, end).toSeconds());
    if (amount > 0) {
      grant(tx, w, amount, 0, end, "plan " + plan.id() + " × " + w.getSeats(), "plan");
    }
    w.setPlanPeriodStart(start);
    w.setPlanPeriodEnd(end);
  }

  /** Grants credit to a locked wallet: a GRANT transfer and a lot spent before paid money. */
  public void grant(DSLContext tx, WalletsRecord w, long amount, int priority, OffsetDateTime expire,
      String description, String source) {
    String id = Ids.newId();
    ledger.postOne(tx, NewTransfer.simple(id, Accounts.grants(w.getCurrencyCode()), Accounts.granted(w.getName()),
        amount, w.getCurrencyCode(), "grant", description, nowOdt()));
    GrantsRecord g = new GrantsRecord();
    g.setId(id);
    g.setWallet(w.getName());
    g.setAmount(amount);
    g.setRemaining(amount);
    g.setPriority(priority);
    g.setExpireTime(expire);
    g.setSource(source);
    grantRows.insertGrant(tx, g);
  }

  /** Takes back what is left of a grant (GRANT_EXPIRY transfer). */
  public void expireGrant(DSLContext tx, WalletsRecord w, GrantsRecord g, String why) {
    ledger.postOne(tx, NewTransfer.simple(Ids.newId(), Accounts.granted(w.getName()),
        Accounts.grants(w.getCurrencyCode()), g.getRemaining(), w.getCurrencyCode(), "grant_expiry",
        "grant " + g.getId() + " " + why, nowOdt()));
    grantRows.setRemaining(tx, g.getId(), 0);
  }

  /**
   * What follows any money change of a locked wallet: suspension at or below the threshold, resumption
   * above it, a low-balance signal and an auto-refill request once per dip, then the new state for gateways.
   */
  public Snapshot afterChange(DSLContext tx, WalletsRecord w) {
    Snapshot s = snapshot(tx, w);
    applySignals(tx, w, s);
    wallets.store(tx, w); // bumps the version carried by the event (s.wallet() is w)
    events.stateChanged(tx, s);
    return s;
  }

  /**
   * {@link #afterChange} for many locked wallets with a fixed number of statements: balances, limits and
   * spend windows read once for all, every wallet stored in one update, every state event in one outbox
   * insert (signals such as low balance are rare and written as they happen).
   */
  public void afterChangeAll(DSLContext tx, List<WalletsRecord> changed) {
    if (changed.isEmpty()) {
      return;
    }
    List<Snapshot> snapshots = snapshotAll(tx, changed);
    snapshots.forEach(s -> applySignals(tx, s.wallet(), s));
    wallets.storeAll(tx, changed);
    events.stateChangedAll(tx, snapshots);
  }

  /**
   * One refill request: up to the target balance (or by the fixed amount), within what the monthly cap
   * leaves; none when the cap is used up.
   */
  private void requestRefill(DSLContext tx, WalletsRecord w, long balance) {
    OffsetDateTime month = periods(w).windowStart("month", now());
    if (w.getAutoRefillMonthStart() == null || w.getAutoRefillMonthStart().isBefore(month)) {
      w.setAutoRefillMonthStart(month);
      w.setAutoRefillMonthRequested(0L);
    }
    long amount = w.getAutoRefillTarget() > 0 ? w.getAutoRefillTarget() - balance : w.getAutoRefillAmount();
    if (w.getAutoRefillMonthlyCap() > 0) {
      amount = Math.min(amount, w.getAutoRefillMonthlyCap() - w.getAutoRefillMonthRequested());
    }
    if (amount <= 0) {
      return; // this month's cap is used up: nothing is asked of the payer until the next month
    }
    events.refillRequested(tx, w.getName(), amount, w.getAutoRefillThreshold(), balance);
    w.setAutoRefillRequested(true);
    w.setAutoRefillPending(amount);
    w.setAutoRefillMonthRequested(w.getAutoRefillMonthRequested() + amount);
  }

  /** Suspension and resumption, the low-balance signal and the auto-refill request, decided on {@code s}. */
  private void applySignals(DSLContext tx, WalletsRecord w, Snapshot s) {
    long available = s.available();
    w.setStatus(available <= w.getSuspendThreshold() && !Boolean.TRUE.equals(w.getClosed()) ? "suspended" : "active");
    if (Boolean.TRUE.equals(w.getClosed())) {
      w.setStatus("suspended");
    }
    if (!w.getStatus().equals(w.getStatusNotified())) {
      events.statusChanged(tx, w.getName(), "suspended".equals(w.getStatus()), available, w.getSuspendThreshold());
      w.setStatusNotified(w.getStatus());
    }
    if (s.balance() <= policy.lowBalanceThreshold()) {
      if (!w.getLowBalanceNotified()) {
        events.lowBalance(tx, w.getName(), s.balance(), policy.lowBalanceThreshold());
        w.setLowBalanceNotified(true);
      }
    } else if (w.getLowBalanceNotified()) {
      events.lowBalanceResolved(tx, w.getName(), s.balance(), policy.lowBalanceThreshold());
      w.setLowBalanceNotified(false);
    }
    if (w.getAutoRefillEnabled() && s.balance() < w.getAutoRefillThreshold()) {
      if (!w.getAutoRefillRequested()) {
        requestRefill(tx, w, s.balance());
      }
    } else if (s.balance() >= w.getAutoRefillThreshold()) {
      w.setAutoRefillRequested(false);
    }
  }

  public Plan plan(String id) {
    return policy.plans().stream().filter(p -> p.id().equals(id)).findFirst()
        .orElseThrow(() -> TallyException.notFound(Reasons.NOT_FOUND, "plan plans/" + id + " not found"));
  }

  public static TallyException notFound(String name) {
    return TallyException.notFound(Reasons.NOT_FOUND, "wallet " + name + " not found");
  }
}
