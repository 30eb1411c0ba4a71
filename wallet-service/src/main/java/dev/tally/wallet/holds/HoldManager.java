package dev.tally.wallet.holds;

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
import dev.tally.wallet.periods.Periods;
import dev.tally.wallet.usage.Charges;
import dev.tally.wallet.usage.ChargeBatch;
import dev.tally.wallet.events.WalletEvents;
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

  /** A wallet locked for a batch of reservations, with its pending holds. */
  public static final class Locked {
    final WalletsRecord wallet;
    final List<HoldsRecord> pending;
    boolean changed;

    Locked(WalletsRecord wallet, List<HoldsRecord> pending) {
      this.wallet = wallet;
      this.pending = pending;
    }
  }

  /** Locks the wallet (a wallet not seen yet, its team's creation still on its way, is simply empty). */
  public Locked lock(DSLContext tx, String walletName) {
    WalletsRecord w = book.lockFresh(tx, walletName);
    return new Locked(w, new java.util.ArrayList<>(wallets.pendingHolds(tx, walletName)));
  }

  /**
   * Decides one reservation against the locked wallet: status, then every limit on the chain (key quota,
   * member quota, wallet spending limit) counting spend and open holds, then the available balance.
   */
  public Reserved reserveLocked(DSLContext tx, Locked locked, Request r) {
    WalletsRecord w = locked.wallet;
    String walletName = w.getName();
    if (Boolean.TRUE.equals(w.getClosed())) {
      throw TallyException.failedPrecondition(Reasons.WALLET_SUSPENDED, "the wallet's team was deleted");
    }
    if ("suspended".equals(w.getStatus())) {
      throw TallyException.failedPrecondition(Reasons.WALLET_SUSPENDED,
          "the wallet is suspended: its available balance is at or below the threshold; deposit to resume");
    }
    Instant now = book.now();
    for (LimitsRecord l : wallets.limits(tx, walletName)) {
      boolean applies = l.getSubject().equals(walletName) || l.getSubject().equals(r.member())
          || l.getSubject().equals(r.apiKey());
      if (!applies) {
        continue;
      }
      long spent = wallets.spent(tx, walletName, l.getSubject(), l.getPeriod(), Periods.windowStart(l.getPeriod(), now));
      long held = locked.pending.stream().filter(h -> l.getSubject().equals(walletName)
          || l.getSubject().equals(h.getMember()) || l.getSubject().equals(h.getApiKey()))
          .mapToLong(HoldsRecord::getAmount).sum();
      if (spent + held + r.amount() > l.getLimitNanos()) {
        boolean quota = !l.getSubject().equals(walletName);
        throw TallyException.resourceExhausted(quota ? Reasons.QUOTA_EXCEEDED : Reasons.SPENDING_LIMIT_REACHED,
            (quota ? "the " + l.getPeriod() + " quota of " + l.getSubject() : "the wallet's " + l.getPeriod()
                + " spending limit") + " would be exceeded; it resets at " + resetText(l.getPeriod(), now));
      }
    }
    long available = ledger.balance(tx, dev.tally.wallet.ledger.Accounts.paid(walletName))
        + ledger.balance(tx, dev.tally.wallet.ledger.Accounts.granted(walletName)) - w.getHeld();
    if (r.amount() > available) {
      throw TallyException.failedPrecondition(Reasons.INSUFFICIENT_BALANCE,
          "the available balance does not cover the estimate");
    }
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
    wallets.insertHold(tx, hold);
    w.setHeld(w.getHeld() + r.amount());
    locked.pending.add(hold);
    locked.changed = true;
    // Suspension applies from the next request on: available at or below the threshold.
    if (available - r.amount() <= w.getSuspendThreshold()) {
      w.setStatus("suspended");
    }
    return new Reserved(hold, available - r.amount());
  }

  /** Stores the wallet once after its batch: the new state goes out on wallet.v1. */
  public void finish(DSLContext tx, Locked locked) {
    if (locked.changed) {
      book.afterChange(tx, locked.wallet);
    }
  }

  /** Posts the actual cost of a held request and frees the hold. */
  public HoldsRecord settle(DSLContext tx, String walletName, String holdId, long actual, String eventId) {
    WalletsRecord w = book.lockExisting(tx, walletName);
    HoldsRecord hold = wallets.hold(tx, walletName, holdId).orElseThrow(() -> holdNotFound(walletName, holdId));
    if (!"pending".equals(hold.getState())) {
      throw TallyException.failedPrecondition("HOLD_NOT_PENDING", "the hold is already " + hold.getState());
    }
    if (actual > 0) {
      ChargeBatch spend = new ChargeBatch();
      // One line per hold (the hold's state guards a second settle); the request id names it in the statement.
      String lineId = "settle-" + holdId;
      UsageLine line = charges.charge(tx, w, new Charges.Usage(lineId, Idempotency.sha256(
          (lineId + "|" + eventId + "|" + actual).getBytes(java.nio.charset.StandardCharsets.UTF_8)), actual,
          hold.getMember(), hold.getApiKey(), book.now(), "settled hold " + holdId), spend, book.now());
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

  public HoldsRecord release(DSLContext tx, String walletName, String holdId) {
    WalletsRecord w = book.lockExisting(tx, walletName);
    HoldsRecord hold = wallets.hold(tx, walletName, holdId).orElseThrow(() -> holdNotFound(walletName, holdId));
    if (!"pending".equals(hold.getState())) {
      throw TallyException.failedPrecondition("HOLD_NOT_PENDING", "the hold is already " + hold.getState());
    }
    wallets.closeHold(tx, holdId, "released", 0);
    w.setHeld(w.getHeld() - hold.getAmount());
    book.afterChange(tx, w);
    hold.setState("released");
    return hold;
  }

  private static String resetText(String period, Instant now) {
    OffsetDateTime end = Periods.windowEnd(period, now);
    return end == null ? "never (lifetime)" : end.toString();
  }

  private static TallyException holdNotFound(String wallet, String id) {
    return TallyException.notFound(Reasons.NOT_FOUND, "hold " + wallet + "/holds/" + id + " not found");
  }
}
