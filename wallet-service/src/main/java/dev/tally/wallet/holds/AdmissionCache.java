package dev.tally.wallet.holds;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.tally.wallet.db.jooq.tables.records.WalletsRecord;
import dev.tally.wallet.wallets.Snapshot;
import java.time.Instant;
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

  private final Cache<String, Entry> entries;

  AdmissionCache(long maxWallets) {
    this.entries = Caffeine.newBuilder().maximumSize(maxWallets).build();
  }

  /** The entry of a locked wallet row if it still describes it at {@code now}, else null. */
  Entry fresh(WalletsRecord row, Instant now) {
    Entry e = entries.getIfPresent(row.getName());
    if (e == null || e.version() != row.getVersion() || !now.isBefore(e.validUntil())) {
      return null;
    }
    return e;
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

  void invalidate(String wallet) {
    entries.invalidate(wallet);
  }
}
