package dev.tally.wallet.holds;

import dev.tally.common.admission.AdmissionRules;
import dev.tally.common.error.Reasons;
import dev.tally.common.error.TallyException;
import dev.tally.common.ids.Ids;
import dev.tally.common.db.Idempotency;
import dev.tally.wallet.db.UsageLineDao;
import dev.tally.wallet.db.HoldDao;
import dev.tally.wallet.db.WalletDao;
import dev.tally.wallet.usage.UsageLine;
import dev.tally.wallet.db.jooq.tables.records.HoldsRecord;
import dev.tally.wallet.db.jooq.tables.records.WalletsRecord;
import dev.tally.wallet.ledger.Ledger;
import dev.tally.wallet.usage.Charges;
import dev.tally.wallet.usage.ChargeBatch;
import dev.tally.wallet.events.WalletEvents;
import dev.tally.wallet.wallets.Snapshot;
import dev.tally.wallet.wallets.WalletBook;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.jooq.DSLContext;

/**
 * Holds: reservations of available balance for requests in flight (TigerBeetle's pending transfers).
 * Reserve checks the whole chain (key quota, member quota, wallet spending limit, available balance) under
 * the wallet's row lock, so two Reserves can never spend the same money.
 */
public final class HoldManager {
  private final WalletBook book;
  private final WalletDao wallets;
  private final HoldDao holdRows = new HoldDao();
  private final Ledger ledger;
  private final UsageLineDao lines;
  private final Charges charges;
  private final WalletEvents events;
  private final AdmissionCache cache = new AdmissionCache();

  public HoldManager(WalletBook book, WalletDao wallets, UsageLineDao lines, Ledger ledger, Charges charges,
      WalletEvents events) {
    this.book = book;
    this.lines = lines;
    this.wallets = wallets;
    this.ledger = ledger;
    this.charges = charges;
    this.events = events;
  }

  /** A hold made, the wallet's available balance after it, and the discount its amount was priced with. */
  public record Reserved(HoldsRecord hold, long available, int discountBps) {}

  /**
   * One reservation request; several for one wallet are decided under a single lock (see {@link ReserveBatcher}).
   * A {@code lease} asks for {@code amount} and takes at least {@code leaseMin} (both at list price), at most
   * half of what the chain of limits and the balance leave (see {@link #reserveLocked}).
   */
  public record Request(String wallet, long amount, String apiKey, String member, Duration ttl, boolean lease,
      long leaseMin) {
    public Request(String wallet, long amount, String apiKey, String member, Duration ttl) {
      this(wallet, amount, apiKey, member, ttl, false, 0);
    }
  }

  /**
   * A wallet locked for a batch of reservations, with what its decisions read (from this replica's memory
   * when it still describes the wallet, else read once per batch for all such wallets at once, then kept
   * current in memory as holds are added): its limits with their windows' spend, the amounts held per limited
   * subject (only for wallets with limits: the wallet's total held is a column, so a wallet without limits
   * never reads its pending holds) and its balance.
   */
  public static final class Locked {
    final WalletsRecord wallet;
    final List<Snapshot.LimitState> limits;
    final Map<String, Long> heldBySubject;
    final long balance;
    final List<HoldsRecord> added = new ArrayList<>();
    boolean changed;
    /** The first moment time alone changes what was read (a window ends, a hold or grant expires). */
    Instant validUntil;

    Locked(WalletsRecord wallet, List<Snapshot.LimitState> limits, Map<String, Long> heldBySubject, long balance,
        boolean changed, Instant validUntil) {
      this.wallet = wallet;
      this.limits = limits;
      this.heldBySubject = heldBySubject;
      this.balance = balance;
      this.changed = changed;
      this.validUntil = validUntil;
    }

    /** Counts a new hold the way {@link HoldDao#pendingHeldBySubject} counts stored ones. */
    void held(HoldsRecord hold) {
      AdmissionCache.count(heldBySubject, hold, hold.getAmount());
      Instant expires = hold.getExpireTime().toInstant();
      if (expires.isBefore(validUntil)) {
        validUntil = expires;
      }
    }
  }

  /**
   * Locks the wallets of a batch of reservations in name order (created first when not known yet: a team's
   * creation may still be on its way) and gets what their decisions need: from this replica's memory for
   * wallets whose rows it still describes (see {@link AdmissionCache}), else read with a fixed number of
   * statements for all the others together, after their housekeeping.
   */
  public Map<String, Locked> lockAll(DSLContext tx, Collection<String> walletNames) {
    TreeSet<String> names = new TreeSet<>(walletNames);
    if (!cache.allKnown(names)) {
      book.ensureAll(tx, names);
    }
    List<WalletsRecord> rows = wallets.lockAll(tx, names);
    Instant now = book.now();
    Map<String, Locked> out = new LinkedHashMap<>();
    List<WalletsRecord> stale = new ArrayList<>();
    for (WalletsRecord row : rows) {
      AdmissionCache.Entry e = cache.fresh(row, now);
      if (e == null) {
        stale.add(row);
        out.put(row.getName(), null); // keeps name order
      } else {
        out.put(row.getName(), new Locked(row, e.limits(), new HashMap<>(e.heldBySubject()), e.balance(), false,
            e.validUntil()));
      }
    }
    if (!stale.isEmpty()) {
      read(tx, stale).forEach(l -> out.put(l.wallet.getName(), l));
    }
    return out;
  }

  /** The admission state of wallets not known in memory, read after their housekeeping. */
  private List<Locked> read(DSLContext tx, List<WalletsRecord> rows) {
    Set<WalletsRecord> housekept = new HashSet<>(book.housekeepAll(tx, rows));
    List<Snapshot> snapshots = book.snapshotAll(tx, rows);
    List<String> names = rows.stream().map(WalletsRecord::getName).toList();
    List<String> limited = snapshots.stream().filter(sn -> !sn.limits().isEmpty()).map(sn -> sn.wallet().getName())
        .toList();
    Map<String, Map<String, Long>> held = holdRows.pendingHeldBySubject(tx, limited);
    Map<String, OffsetDateTime> expiries = wallets.nextExpiryOf(tx, names);
    List<Locked> out = new ArrayList<>(rows.size());
    for (Snapshot sn : snapshots) {
      WalletsRecord w = sn.wallet();
      String name = w.getName();
      out.add(new Locked(w, sn.limits(), held.getOrDefault(name, new HashMap<>()), sn.balance(),
          housekept.contains(w), AdmissionCache.validUntil(w, sn, expiries.get(name))));
    }
    return out;
  }

  /**
   * Keeps in memory the admission state a committed batch left its wallets in (their rows' versions as
   * stored by {@link #finishAll}), so the next batch for them reads nothing but their rows. Called only after
   * the batch's transaction committed: what a rolled-back one decided is never remembered.
   */
  public void remember(Collection<Locked> committed) {
    for (Locked l : committed) {
      cache.put(l.wallet.getName(), new AdmissionCache.Entry(l.wallet.getVersion(), l.balance, l.limits,
          l.heldBySubject, l.validUntil));
    }
  }

  /**
   * Keeps this replica's memory of a locked wallet current after leases gave back {@code freedBySubject}
   * (subject → amount; the wallet's own name for its total) and its row was stored at a new version, if it
   * described the row at {@code versionBefore}: so closing a lease costs the next decision no re-read. Returns
   * what to run once the transaction committed (nothing of a rolled-back one is remembered).
   */
  public Runnable leasesFreed(WalletsRecord row, long versionBefore, Map<String, Long> freedBySubject) {
    AdmissionCache.Entry e = cache.at(row.getName(), versionBefore);
    if (e == null) {
      return () -> {};
    }
    Map<String, Long> held = new HashMap<>(e.heldBySubject());
    freedBySubject.forEach((subject, amount) -> held.merge(subject, -amount, Long::sum));
    AdmissionCache.Entry next = new AdmissionCache.Entry(row.getVersion(), e.balance(), e.limits(), held,
        e.validUntil());
    return () -> cache.put(row.getName(), next);
  }

  /**
   * Decides one reservation against the locked wallet: status, then every limit on the chain (key quota,
   * member quota, wallet spending limit) counting spend and open holds, then the available balance. The
   * hold is written by {@link #finishAll}.
   *
   * <p>A lease is decided like a reservation of its least amount, and then takes what it asked for up to
   * half of the {@linkplain AdmissionRules#headroom headroom} above the suspension threshold — refused
   * ({@code LEASE_NOT_GRANTED}) when that half does not cover its least: however many gateways lease, the
   * sum of their leases stays under every limit, none takes the last of it (the last requests are decided
   * one by one again), and leasing never suspends the wallet.
   */
  public Reserved reserveLocked(Locked locked, Request listed) {
    WalletsRecord w = locked.wallet;
    // Estimates arrive at list price; the team pays (and is limited by) its net price.
    long wanted = dev.tally.common.money.Pricing.net(listed.amount(), w.getDiscountBps());
    long least = listed.lease() ? dev.tally.common.money.Pricing.net(listed.leaseMin(), w.getDiscountBps()) : wanted;
    String walletName = w.getName();
    Instant now = book.now();
    AdmissionRules.Request request = new AdmissionRules.Request(least, listed.member(), listed.apiKey());
    List<AdmissionRules.Limit> limits = new ArrayList<>(locked.limits.size());
    for (AdmissionRules.Limit l : AdmissionRules.resolveDefaults(AdmissionLimits.of(locked.limits), request)) {
      limits.add(l.withHeld(locked.heldBySubject.getOrDefault(l.subject(), 0L)));
    }
    long available = locked.balance - w.getHeld();
    AdmissionRules.State state = new AdmissionRules.State(walletName, Boolean.TRUE.equals(w.getClosed()),
        "suspended".equals(w.getStatus()), available, limits);
    AdmissionRules.check(state, request, now);
    long amount = wanted;
    if (listed.lease()) {
      long half = AdmissionRules.headroom(state, request, w.getSuspendThreshold()) / 2;
      if (half < least) {
        throw TallyException.failedPrecondition(Reasons.LEASE_NOT_GRANTED, "half of what is left under the "
            + "limits and the balance (" + half + " nanos) does not cover the lease's least amount");
      }
      amount = Math.max(least, Math.min(wanted, half));
    }
    HoldsRecord hold = new HoldsRecord();
    hold.setId(Ids.newId());
    hold.setWallet(walletName);
    hold.setAmount(amount);
    hold.setState("pending");
    hold.setKind(listed.lease() ? HoldDao.LEASE : HoldDao.HOLD);
    hold.setSettled(0L);
    hold.setApiKey(listed.apiKey() == null ? "" : listed.apiKey());
    hold.setMember(listed.member() == null ? "" : listed.member());
    hold.setExpireTime(OffsetDateTime.ofInstant(now.plus(listed.ttl()), java.time.ZoneOffset.UTC));
    hold.setCreateTime(book.nowOdt());
    locked.added.add(hold);
    w.setHeld(w.getHeld() + amount);
    locked.held(hold);
    // A soft-mode wallet reserves only while a gateway has no state of it yet: tell the gateways.
    locked.changed |= "soft".equals(w.getAdmissionMode());
    // Suspension applies from the next request on: available at or below the threshold.
    if (available - amount <= w.getSuspendThreshold()) {
      w.setStatus("suspended");
      locked.changed = true;
    }
    return new Reserved(hold, available - amount, w.getDiscountBps());
  }

  /**
   * Writes a batch's holds in one statement and stores the wallets once. A wallet whose state changed beyond
   * its held amount (suspended, housekeeping) goes out on wallet.v1; one that only held more does not: holds
   * are decided here in hard mode, gateways do not read them from the event, and an event per batch per
   * wallet made Kafka the largest cost of admission. The next state event (usage, settle, deposit) carries
   * the held amount; a soft-mode wallet (reserving only while a gateway has no state of it) always emits.
   */
  public void finishAll(DSLContext tx, Collection<Locked> batch) {
    List<HoldsRecord> added = new ArrayList<>();
    batch.forEach(l -> added.addAll(l.added));
    holdRows.insertHolds(tx, added);
    book.afterChangeAll(tx, batch.stream().filter(l -> l.changed).map(l -> l.wallet).toList());
    wallets.storeHeldAll(tx, batch.stream().filter(l -> !l.changed && !l.added.isEmpty()).map(l -> l.wallet)
        .toList());
  }

  /** Posts the actual cost of a held request and frees the hold. */
  public HoldsRecord settle(DSLContext tx, String walletName, String holdId, long actual, String eventId) {
    WalletsRecord w = book.lockExisting(tx, walletName);
    HoldsRecord hold = holdRows.requestHold(tx, walletName, holdId).orElseThrow(() -> holdNotFound(walletName, holdId));
    if (!"pending".equals(hold.getState())) {
      throw TallyException.failedPrecondition(Reasons.HOLD_NOT_PENDING, "the hold is already " + hold.getState());
    }
    if (actual > 0) {
      ChargeBatch spend = new ChargeBatch();
      // One line per hold (the hold's state guards a second settle); the request id names it in the statement.
      String lineId = "settle-" + holdId;
      UsageLine line = charges.charge(tx, w, new Charges.Usage(lineId, Idempotency.sha256(
          (lineId + "|" + eventId + "|" + actual).getBytes(java.nio.charset.StandardCharsets.UTF_8)), actual,
          hold.getMember(), hold.getApiKey(), book.now(), "settled hold " + holdId, null), spend, book.now());
      Charges.Posted posted = Charges.postings(List.of(line), book.now());
      lines.insertAll(tx, posted.lines());
      ledger.post(tx, posted.transfers());
      spend.flush(tx, events);
      hold.setSettled(line.charged());
    }
    holdRows.closeHold(tx, holdId, "settled", hold.getSettled());
    w.setHeld(w.getHeld() - hold.getAmount());
    book.afterChange(tx, w);
    hold.setState("settled");
    return hold;
  }

  /**
   * Adds {@code listAmount} (at the team's net price) to a pending hold under the same checks as a new
   * reservation — the hold's own amount already counts against every limit of its chain — and restarts its
   * time to live. Refused, nothing changes.
   */
  public Reserved extend(DSLContext tx, String walletName, String holdId, long listAmount) {
    Locked locked = lockAll(tx, List.of(walletName)).get(walletName);
    HoldsRecord hold = holdRows.hold(tx, walletName, holdId).orElseThrow(() -> holdRows.isUnwritten(tx, walletName,
        holdId) ? notWrittenYet() : holdNotFound(walletName, holdId));
    if (HoldDao.isLease(hold)) {
      throw holdNotFound(walletName, holdId); // a lease is the gateway's, not a request's to extend
    }
    if (!"pending".equals(hold.getState())) {
      throw TallyException.failedPrecondition(Reasons.HOLD_NOT_PENDING, "the hold is already " + hold.getState());
    }
    WalletsRecord w = locked.wallet;
    Request more = new Request(walletName, listAmount, hold.getApiKey(), hold.getMember(), book.policy().holdTtl());
    Reserved added = reserveLocked(locked, more);
    // The decision and the wallet's totals are those of a reservation; what is stored is the one hold, larger.
    locked.added.clear();
    long net = added.hold().getAmount();
    holdRows.extendHold(tx, holdId, net, added.hold().getExpireTime());
    hold.setAmount(hold.getAmount() + net);
    hold.setExpireTime(added.hold().getExpireTime());
    if (locked.changed) {
      book.afterChangeAll(tx, List.of(w));
    } else {
      wallets.storeHeldAll(tx, List.of(w));
    }
    return new Reserved(hold, added.available(), added.discountBps());
  }

  public HoldsRecord release(DSLContext tx, String walletName, String holdId) {
    WalletsRecord w = book.lockExisting(tx, walletName);
    HoldsRecord hold = holdRows.requestHold(tx, walletName, holdId).orElseThrow(() -> holdNotFound(walletName, holdId));
    if (!"pending".equals(hold.getState())) {
      throw TallyException.failedPrecondition(Reasons.HOLD_NOT_PENDING, "the hold is already " + hold.getState());
    }
    holdRows.closeHold(tx, holdId, "released", 0);
    w.setHeld(w.getHeld() - hold.getAmount());
    book.afterChange(tx, w);
    hold.setState("released");
    return hold;
  }


  private static TallyException notWrittenYet() {
    return new TallyException(io.grpc.Status.Code.UNAVAILABLE, Reasons.HOLD_NOT_WRITTEN,
        "the hold was admitted from a gateway's lease and is being written; retry shortly")
        .withRetryAfter(Duration.ofMillis(100));
  }

  private static TallyException holdNotFound(String wallet, String id) {
    return TallyException.notFound(Reasons.NOT_FOUND, "hold " + wallet + "/holds/" + id + " not found");
  }
}
