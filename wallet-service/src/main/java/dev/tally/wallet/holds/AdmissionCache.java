package dev.tally.wallet.holds;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.tally.wallet.db.jooq.tables.records.HoldsRecord;
import dev.tally.wallet.db.jooq.tables.records.WalletsRecord;
import dev.tally.wallet.wallets.Snapshot;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * What admission decides on for each wallet, kept in this replica's memory between batches: the wallet's
 * balance, its limits with their windows' spend, and what its pending holds add up to per subject.
 *
 * <p>An entry is used only while the wallet's row still carries the version the entry was read or written
 * at, and that is checked under the row's lock: every transaction that changes a wallet's money, limits,
 * spend or holds stores the row and bumps its version (WalletBook.afterChange, WalletDao.bumpVersions), so a
 * change by another path or another replica is seen by the next batch, which reads that wallet again. Time
 * alone changes an entry too (a limit's window ends, a hold or a grant expires, a plan renews): it is used
 * only before the first such moment. A batch for wallets it knows therefore reads nothing but their locked
 * rows, whatever the number of pending holds.
 */
final class AdmissionCache {
  /** One wallet's admission state at {@code version}, good until {@code validUntil}. */
  record Entry(long version, long balance, List<Snapshot.LimitState> limits, Map<String, Long> heldBySubject,
      Instant validUntil) {}

  /** Wallets whose state a replica keeps at most (a few hundred bytes each); the rest are read per batch. */
  private static final long MAX_WALLETS = 100_000;

  private final Cache<String, Entry> entries = Caffeine.newBuilder().maximumSize(MAX_WALLETS).build();

  /** The entry of a locked wallet row if it still describes it at {@code now}, else null. */
  Entry fresh(WalletsRecord row, Instant now) {
    Entry e = entries.getIfPresent(row.getName());
    if (e == null || e.version() != row.getVersion() || !now.isBefore(e.validUntil())) {
      return null;
    }
    return e;
  }

  /**
   * Adds {@code amount} held by {@code hold}'s wallet, member and key to {@code heldBySubject}, the way
   * {@code HoldDao.pendingHeldBySubject} counts stored holds (the wallet's own name counts every hold).
   */
  static void count(Map<String, Long> heldBySubject, HoldsRecord hold, long amount) {
    heldBySubject.merge(hold.getWallet(), amount, Long::sum);
    if (!hold.getMember().isEmpty()) {
      heldBySubject.merge(hold.getMember(), amount, Long::sum);
    }
    if (!hold.getApiKey().isEmpty()) {
      heldBySubject.merge(hold.getApiKey(), amount, Long::sum);
    }
  }

  /** The entry of {@code wallet} at exactly {@code version}, else null. */
  Entry at(String wallet, long version) {
    Entry e = entries.getIfPresent(wallet);
    return e != null && e.version() == version ? e : null;
  }

  /** Whether every wallet was seen committed by this replica (wallets are never deleted: closed at most). */
  boolean allKnown(Collection<String> names) {
    for (String n : names) {
      if (entries.getIfPresent(n) == null) {
        return false;
      }
    }
    return true;
  }

  /** Keeps the state of a wallet as a committed transaction left it (its row at {@code version}). */
  void put(String wallet, Entry entry) {
    entries.put(wallet, entry);
  }

  /**
   * The first moment after which time alone changes a wallet's admission state as just read: a limit's
   * window ends, a pending hold or live grant expires ({@code nextExpiry}), its plan renews.
   */
  static Instant validUntil(WalletsRecord w, Snapshot sn, OffsetDateTime nextExpiry) {
    Instant until = Instant.MAX;
    for (Snapshot.LimitState l : sn.limits()) {
      if (l.resetTime() != null && l.resetTime().toInstant().isBefore(until)) {
        until = l.resetTime().toInstant();
      }
    }
    if (nextExpiry != null && nextExpiry.toInstant().isBefore(until)) {
      until = nextExpiry.toInstant();
    }
    if (w.getPlan() != null && w.getPlanPeriodEnd() != null && w.getPlanPeriodEnd().toInstant().isBefore(until)) {
      until = w.getPlanPeriodEnd().toInstant();
    }
    return until;
  }
}
