package dev.tally.wallet.holds;

import dev.tally.common.admission.AdmissionRules;
import dev.tally.common.error.Reasons;
import dev.tally.common.error.TallyException;
import dev.tally.common.ids.Ids;
import dev.tally.common.db.Idempotency;
import dev.tally.wallet.db.UsageLineDao;
import dev.tally.wallet.db.WalletDao;
import dev.tally.wallet.usage.UsageLine;
import dev.tally.wallet.db.jooq.tables.records.HoldsRecord;
import dev.tally.wallet.db.jooq.tables.records.LimitsRecord;
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
import java.util.List;
import org.jooq.DSLContext;

/**
 * Holds: reservations of available balance for requests in flight (TigerBeetle's pending transfers).
 * Reserve checks the whole chain (key quota, member quota, wallet spending limit, available balance) under
 * the wallet's row lock, so two Reserves can never spend the same money.
 */
public final class HoldManager {
  private final WalletBook book;
  private final WalletDao wallets;
  private final Ledger ledger;
  private final UsageLineDao lines;
  private final Charges charges;
  private final WalletEvents events;

  public HoldManager(WalletBook book, WalletDao wallets, UsageLineDao lines, Ledger ledger, Charges charges,
      WalletEvents events) {
    this.book = book;
    this.lines = lines;
    this.wallets = wallets;
    this.ledger = ledger;
    this.charges = charges;
    this.events = events;
  }

  public record Reserved(HoldsRecord hold, long available) {}

  /** One reservation request; several for one wallet are decided under a single lock (see {@link ReserveBatcher}). */
  public record Request(String wallet, long amount, String apiKey, String member, Duration ttl) {}

  /**
   * A wallet locked for a batch of reservations, with what its decisions read (once per batch, for every
   * wallet of the batch at once, then kept current in memory as holds are added): its limits with their
   * windows' spend, the amounts held per limited subject (only for wallets with limits: the wallet's total
   * held is a column, so a wallet without limits never reads its pending holds) and its balance.
   */
  public static final class Locked {
    final WalletsRecord wallet;
    final List<Snapshot.LimitState> limits;
    final java.util.Map<String, Long> heldBySubject;
    final long balance;
    final List<HoldsRecord> added = new java.util.ArrayList<>();
    boolean changed;

    Locked(WalletsRecord wallet, List<Snapshot.LimitState> limits, java.util.Map<String, Long> heldBySubject,
        long balance, boolean changed) {
      this.wallet = wallet;
      this.limits = limits;
      this.heldBySubject = heldBySubject;
      this.balance = balance;
      this.changed = changed;
    }

    /** Counts a new hold the way {@link WalletDao#pendingHeldBySubject} counts stored ones. */
    void held(Request r) {
      heldBySubject.merge(wallet.getName(), r.amount(), Long::sum);
      if (r.member() != null && !r.member().isEmpty()) {
        heldBySubject.merge(r.member(), r.amount(), Long::sum);
      }
      if (r.apiKey() != null && !r.apiKey().isEmpty()) {
        heldBySubject.merge(r.apiKey(), r.amount(), Long::sum);
      }
    }
  }

  /**
   * Locks the wallets of a batch of reservations (created when not seen yet: a team's creation may still be
   * on its way) in name order and reads what their decisions need, with a fixed number of statements
   * whatever their number.
   */
  public java.util.Map<String, Locked> lockAll(DSLContext tx, java.util.Collection<String> walletNames) {
    java.util.TreeSet<String> names = new java.util.TreeSet<>(walletNames);
    book.ensureAll(tx, names);
    List<WalletsRecord> rows = wallets.lockAll(tx, names);
    java.util.Set<WalletsRecord> housekept = new java.util.HashSet<>(book.housekeepAll(tx, rows));
    List<Snapshot> snapshots = book.snapshotAll(tx, rows);
    List<String> limited = snapshots.stream().filter(sn -> !sn.limits().isEmpty()).map(sn -> sn.wallet().getName())
        .toList();
    java.util.Map<String, java.util.Map<String, Long>> held = wallets.pendingHeldBySubject(tx, limited);
    java.util.Map<String, Locked> out = new java.util.LinkedHashMap<>();
    for (Snapshot sn : snapshots) {
      String name = sn.wallet().getName();
      out.put(name, new Locked(sn.wallet(), sn.limits(), held.getOrDefault(name, new java.util.HashMap<>()),
          sn.balance(), housekept.contains(sn.wallet())));
    }
    return out;
  }

  /**
   * Decides one reservation against the locked wallet: status, then every limit on the chain (key quota,
   * member quota, wallet spending limit) counting spend and open holds, then the available balance. The
   * hold is written by {@link #finishAll}.
   */
  public Reserved reserveLocked(Locked locked, Request listed) {
    WalletsRecord w = locked.wallet;
    // Estimates arrive at list price; the team pays (and is limited by) its net price.
    Request r = new Request(listed.wallet(), dev.tally.common.money.Pricing.net(listed.amount(), w.getDiscountBps()),
        listed.apiKey(), listed.member(), listed.ttl());
    String walletName = w.getName();
    Instant now = book.now();
    AdmissionRules.Request request = new AdmissionRules.Request(r.amount(), r.member(), r.apiKey());
    List<AdmissionRules.Limit> limits = new java.util.ArrayList<>(locked.limits.size());
    for (AdmissionRules.Limit l : AdmissionRules.resolveDefaults(AdmissionLimits.of(locked.limits), request)) {
      limits.add(l.withHeld(locked.heldBySubject.getOrDefault(l.subject(), 0L)));
    }
    long available = locked.balance - w.getHeld();
    AdmissionRules.check(new AdmissionRules.State(walletName, Boolean.TRUE.equals(w.getClosed()),
        "suspended".equals(w.getStatus()), available, limits), request, now);
    HoldsRecord hold = new HoldsRecord();
    hold.setId(Ids.newId());
    hold.setWallet(walletName);
    hold.setAmount(r.amount());
    hold.setState("pending");
    hold.setSettled(0L);
    hold.setApiKey(r.apiKey() == null ? "" : r.apiKey());
    hold.setMember(r.member() == null ? "" : r.member());
    hold.setExpireTime(OffsetDateTime.ofInstant(now.plus(r.ttl()), java.time.ZoneOffset.UTC));
    hold.setCreateTime(book.nowOdt());
    locked.added.add(hold);
    w.setHeld(w.getHeld() + r.amount());
    locked.held(r);
    // A soft-mode wallet reserves only while a gateway has no state of it yet: tell the gateways.
    locked.changed |= "soft".equals(w.getAdmissionMode());
    // Suspension applies from the next request on: available at or below the threshold.
    if (available - r.amount() <= w.getSuspendThreshold()) {
      w.setStatus("suspended");
      locked.changed = true;
    }
    return new Reserved(hold, available - r.amount());
  }

  /**
   * Writes a batch's holds in one statement and stores the wallets once. A wallet whose state changed beyond
   * its held amount (suspended, housekeeping) goes out on wallet.v1; one that only held more does not: holds
   * are decided here in hard mode, gateways do not read them from the event, and an event per batch per
   * wallet made Kafka the largest cost of admission. The next state event (usage, settle, deposit) carries
   * the held amount; a soft-mode wallet (reserving only while a gateway has no state of it) always emits.
   */
  public void finishAll(DSLContext tx, java.util.Collection<Locked> batch) {
    List<HoldsRecord> added = new java.util.ArrayList<>();
    batch.forEach(l -> added.addAll(l.added));
    wallets.insertHolds(tx, added);
    book.afterChangeAll(tx, batch.stream().filter(l -> l.changed).map(l -> l.wallet).toList());
    wallets.storeAll(tx, batch.stream().filter(l -> !l.changed && !l.added.isEmpty()).map(l -> l.wallet).toList());
  }

  /** Posts the actual cost of a held request and frees the hold. */
  public HoldsRecord settle(DSLContext tx, String walletName, String holdId, long actual, String eventId) {
    WalletsRecord w = book.lockExisting(tx, walletName);
    HoldsRecord hold = wallets.hold(tx, walletName, holdId).orElseThrow(() -> holdNotFound(walletName, holdId));
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
      spend.flush(tx, wallets, events);
      hold.setSettled(line.charged());
    }
    wallets.closeHold(tx, holdId, "settled", hold.getSettled());
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
    HoldsRecord hold = wallets.hold(tx, walletName, holdId).orElseThrow(() -> holdNotFound(walletName, holdId));
    if (!"pending".equals(hold.getState())) {
      throw TallyException.failedPrecondition(Reasons.HOLD_NOT_PENDING, "the hold is already " + hold.getState());
    }
    WalletsRecord w = locked.wallet;
    Request more = new Request(walletName, listAmount, hold.getApiKey(), hold.getMember(), book.policy().holdTtl());
    Reserved added = reserveLocked(locked, more);
    // The decision and the wallet's totals are those of a reservation; what is stored is the one hold, larger.
    locked.added.clear();
    long net = added.hold().getAmount();
    wallets.extendHold(tx, holdId, net, added.hold().getExpireTime());
    hold.setAmount(hold.getAmount() + net);
    hold.setExpireTime(added.hold().getExpireTime());
    if (locked.changed) {
      book.afterChangeAll(tx, List.of(w));
    } else {
      wallets.storeAll(tx, List.of(w)); // its held amount
    }
    return new Reserved(hold, added.available());
  }

  public HoldsRecord release(DSLContext tx, String walletName, String holdId) {
    WalletsRecord w = book.lockExisting(tx, walletName);
    HoldsRecord hold = wallets.hold(tx, walletName, holdId).orElseThrow(() -> holdNotFound(walletName, holdId));
    if (!"pending".equals(hold.getState())) {
      throw TallyException.failedPrecondition(Reasons.HOLD_NOT_PENDING, "the hold is already " + hold.getState());
    }
    wallets.closeHold(tx, holdId, "released", 0);
    w.setHeld(w.getHeld() - hold.getAmount());
    book.afterChange(tx, w);
    hold.setState("released");
    return hold;
  }


  private static TallyException holdNotFound(String wallet, String id) {
    return TallyException.notFound(Reasons.NOT_FOUND, "hold " + wallet + "/holds/" + id + " not found");
  }
}
