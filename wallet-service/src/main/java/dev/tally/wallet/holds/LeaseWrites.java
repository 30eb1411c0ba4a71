package dev.tally.wallet.holds;

import dev.tally.common.admission.SubHoldIds;
import dev.tally.common.db.Database;
import dev.tally.common.error.Failures;
import dev.tally.wallet.db.HoldDao;
import dev.tally.wallet.db.WalletDao;
import dev.tally.wallet.db.jooq.tables.records.HoldsRecord;
import dev.tally.wallet.db.jooq.tables.records.WalletsRecord;
import dev.tally.wallet.wallets.WalletBook;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.jooq.DSLContext;

/**
 * What gateways admitted from their leases, written to the wallet: each admission becomes an ordinary hold
 * (settled, released, extended and expired like any) whose amount moves out of its lease, so the wallet's
 * held total and every subject's do not change; a lease the gateway stopped using is closed and what it still
 * holds released. Usually one statement that locks only the leases ({@link #moveAll}); otherwise one
 * transaction under the wallets' row locks, with a fixed number of statements ({@link #write}).
 *
 * <p>Written once: a retried item finds its hold and changes nothing. An item whose request was settled or
 * released before the write (by usage, or through another gateway) finds the stand-in that left
 * ({@link HoldDao#requestHold}) and frees its amount from the lease instead. An item whose lease has already
 * ended (expired or closed: its money given back) is held anew — never less held than admitted.
 */
public final class LeaseWrites {
  /** One admission from a lease: its hold id is {@code {lease}_{n}}; amounts net of the team's discount. */
  public record SubHold(String wallet, String lease, String id, long amount, OffsetDateTime expireTime) {}

  /** A lease its gateway no longer admits from. */
  public record Close(String wallet, String lease) {}

  /** How many holds were written now, the new expiry of each lease extended, what to run once committed. */
  public record Result(int written, Map<String, OffsetDateTime> extended, Runnable afterCommit) {}

  /** What the quick write did. */
  private record Moved(int written, Map<String, OffsetDateTime> extended) {}

  private final WalletBook book;
  private final WalletDao wallets;
  private final HoldManager holds;
  private final HoldDao holdRows = new HoldDao();

  public LeaseWrites(WalletBook book, WalletDao wallets, HoldManager holds) {
    this.book = book;
    this.wallets = wallets;
    this.holds = holds;
  }

  /** Thrown by {@link #moveAll} when an item is not a plain move: its transaction rolls back. */
  private static final class NotPlain extends RuntimeException {
    NotPlain() {
      super("a sub-hold is not a plain move out of its lease", null, false, false);
    }
  }

  private static final NotPlain NOT_PLAIN = new NotPlain();
  /** How long the lock-free write waits for a lock before it goes the locking way. */
  static final Duration MOVE_LOCK_WAIT = Duration.ofMillis(50);

  /**
   * Writes {@code items}, extends {@code extensions}, then closes {@code closes}, each step in a transaction of
   * its own. The items and extensions go the quick way ({@link #withoutWalletLocks}) when every item allows it — nearly
   * always — and otherwise, like the closes, under the wallets' locks ({@link #write}); either way each item is
   * written once. An extension only moves a pending lease's expiry (its money is held already, so nothing is
   * decided again, and what this replica remembers for admission only ever expects it to end sooner).
   */
  public Result writeAll(Database db, List<SubHold> items, List<HoldDao.LeaseExtension> extensions,
      List<Close> closes) {
    Moved moved = new Moved(0, Map.of());
    List<SubHold> rest = items;
    List<HoldDao.LeaseExtension> unextended = extensions;
    if (!items.isEmpty() || !extensions.isEmpty()) {
      try {
        moved = db.transaction(tx -> withoutWalletLocks(tx.dsl(), items, extensions));
        rest = List.of();
        unextended = List.of();
      } catch (RuntimeException e) {
        if (e != NOT_PLAIN && !Failures.isLockWaitEnded(e)) {
          throw e;
        }
        // rolled back: the locking path below writes them all
      }
    }
    if (rest.isEmpty() && unextended.isEmpty() && closes.isEmpty()) {
      return new Result(moved.written(), moved.extended(), () -> {});
    }
    List<SubHold> locked = rest;
    List<HoldDao.LeaseExtension> lockedExtensions = unextended;
    Result r = db.transaction(tx -> write(tx.dsl(), locked, lockedExtensions, closes));
    Map<String, OffsetDateTime> extended = new HashMap<>(moved.extended());
    extended.putAll(r.extended());
    return new Result(moved.written() + r.written(), extended, r.afterCommit());
  }

  /**
   * The items ({@link #moveAll}) and the extensions, locking only the leases and the new holds. Those locks
   * come in the items' order, not the wallet-first order of every other writer: a wait here can close a
   * cycle with a transaction settling these holds before their write (usage, Release) or expiring these
   * leases. Such a wait is given up at once — the locking path queues behind the wallet's lock instead —
   * rather than left to PostgreSQL's deadlock check, which would fail one side after a second.
   */
  private Moved withoutWalletLocks(DSLContext tx, List<SubHold> items, List<HoldDao.LeaseExtension> extensions) {
    Database.waitForLocksAtMost(tx, MOVE_LOCK_WAIT);
    int written = moveAll(tx, items);
    return new Moved(written, holdRows.extendLeases(tx, extensions, book.nowOdt()));
  }

  /**
   * The usual write, without the wallets' locks: every item a new hold whose amount moves out of a pending
   * lease that covers it and ends no later, keeping the lease's key and member — so no wallet's held total,
   * no subject's, no wallet row and nothing this replica remembers for admission changes. One statement.
   * Throws {@link NotPlain} when any item is something else (a retry, a lease ended or short, a request
   * settled before its write, a hold ending before its lease, an item {@link #write} skips).
   */
  private int moveAll(DSLContext tx, List<SubHold> items) {
    List<HoldsRecord> rows = new ArrayList<>(items.size());
    Set<String> ids = new HashSet<>();
    for (SubHold i : items) {
      if (!wellFormed(i) || !ids.add(i.id())) {
        throw NOT_PLAIN;
      }
      HoldsRecord h = new HoldsRecord();
      h.setId(i.id());
      h.setWallet(i.wallet());
      h.setAmount(i.amount());
      h.setExpireTime(i.expireTime());
      rows.add(h);
    }
    if (holdRows.moveOutOfLeases(tx, rows, book.nowOdt()) != rows.size()) {
      throw NOT_PLAIN;
    }
    return rows.size();
  }

  /** Named as a hold of its lease, an id that fits, an amount that is one. */
  private static boolean wellFormed(SubHold i) {
    return i.lease().equals(SubHoldIds.leaseOf(i.id())) && i.id().length() <= 64 && i.amount() >= 0;
  }

  /** Writes {@code items}, extends {@code extensions}, then closes {@code closes}, under the wallets' row locks. */
  public Result write(DSLContext tx, List<SubHold> items, List<HoldDao.LeaseExtension> extensions,
      List<Close> closes) {
    TreeSet<String> names = new TreeSet<>();
    Set<String> leaseIds = new LinkedHashSet<>();
    items.forEach(i -> {
      names.add(i.wallet());
      leaseIds.add(i.lease());
    });
    extensions.forEach(e -> {
      names.add(e.wallet());
      leaseIds.add(e.id());
    });
    closes.forEach(c -> {
      names.add(c.wallet());
      leaseIds.add(c.lease());
    });
    Map<String, WalletsRecord> locked = new HashMap<>();
    wallets.lockAll(tx, names).forEach(w -> locked.put(w.getName(), w));
    Map<String, HoldsRecord> leases = holdRows.leasesForUpdate(tx, leaseIds);
    OffsetDateTime now = book.nowOdt();
    Map<String, SubHold> byId = new HashMap<>();
    List<HoldsRecord> rows = new ArrayList<>(items.size());
    for (SubHold i : items) {
      HoldsRecord lease = leases.get(i.lease());
      if (lease == null || !lease.getWallet().equals(i.wallet()) || !wellFormed(i) || byId.putIfAbsent(i.id(), i) != null) {
        continue; // not a lease of this wallet, not its sub-hold, or repeated: nothing to write
      }
      HoldsRecord h = new HoldsRecord();
      h.setId(i.id());
      h.setWallet(i.wallet());
      h.setAmount(i.amount());
      h.setApiKey(lease.getApiKey());
      h.setMember(lease.getMember());
      h.setCreateTime(now);
      h.setExpireTime(i.expireTime());
      rows.add(h);
    }
    List<HoldDao.Written> written = holdRows.writeSubHolds(tx, rows);
    Map<String, Long> leaseAmounts = new HashMap<>();
    Set<WalletsRecord> changed = new LinkedHashSet<>();
    Set<WalletsRecord> grew = new LinkedHashSet<>();
    Map<String, Map<String, Long>> freed = new HashMap<>();
    for (HoldDao.Written w : written) {
      HoldsRecord lease = leases.get(byId.get(w.id()).lease());
      WalletsRecord wallet = locked.get(lease.getWallet());
      long fromLease = "pending".equals(lease.getState()) ? Math.min(w.amount(), lease.getAmount()) : 0;
      if (fromLease > 0) {
        lease.setAmount(lease.getAmount() - fromLease);
        leaseAmounts.put(lease.getId(), lease.getAmount());
      }
      long heldChange = w.ended() ? -fromLease : w.amount() - fromLease;
      // A hold that expires before its lease would end this replica's admission memory too late: re-read.
      boolean expiresEarly = !w.ended() && byId.get(w.id()).expireTime().isBefore(lease.getExpireTime());
      if (heldChange != 0 || expiresEarly) {
        wallet.setHeld(wallet.getHeld() + heldChange);
        changed.add(wallet);
      }
      if (heldChange > 0 || expiresEarly) {
        grew.add(wallet); // held anew (less available may cross a threshold), or memory must end sooner
      } else if (heldChange < 0) {
        free(freed, lease, -heldChange);
      }
    }
    Map<String, OffsetDateTime> extended = holdRows.extendLeases(tx, extensions, now);
    List<String> closed = new ArrayList<>();
    for (Close c : closes) {
      HoldsRecord lease = leases.get(c.lease());
      if (lease != null && lease.getWallet().equals(c.wallet()) && "pending".equals(lease.getState())) {
        WalletsRecord wallet = locked.get(lease.getWallet());
        wallet.setHeld(wallet.getHeld() - lease.getAmount());
        free(freed, lease, lease.getAmount());
        lease.setState("released");
        closed.add(lease.getId());
        changed.add(wallet);
      }
    }
    holdRows.storeLeaseAmounts(tx, leaseAmounts);
    holdRows.closeHolds(tx, closed, "released", false);
    // Where less is held and nothing else changed, the held total is stored (a new version, so admission
    // memory re-reads it) without a state event: gateways do not read holds in hard mode, and leases end by
    // the second. A suspended wallet (more available may resume it) or one holding more goes the full way.
    List<WalletsRecord> signalled = changed.stream().filter(w -> grew.contains(w) || "suspended".equals(w.getStatus()))
        .toList();
    book.afterChangeAll(tx, signalled);
    List<WalletsRecord> quiet = changed.stream().filter(w -> !signalled.contains(w)).toList();
    Map<String, Long> versions = new HashMap<>();
    quiet.forEach(w -> versions.put(w.getName(), w.getVersion()));
    wallets.storeHeldAll(tx, quiet);
    List<Runnable> remember = new ArrayList<>();
    for (WalletsRecord w : quiet) {
      remember.add(holds.leasesFreed(w, versions.get(w.getName()), freed.getOrDefault(w.getName(), Map.of())));
    }
    return new Result(written.size(), extended, () -> remember.forEach(Runnable::run));
  }

  /** Counts {@code amount} given back by {@code lease} for its wallet, key and member, as holds are counted. */
  private static void free(Map<String, Map<String, Long>> freed, HoldsRecord lease, long amount) {
    AdmissionCache.count(freed.computeIfAbsent(lease.getWallet(), k -> new HashMap<>()), lease, amount);
  }
}
