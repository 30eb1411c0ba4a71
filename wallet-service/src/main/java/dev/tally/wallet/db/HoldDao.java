package dev.tally.wallet.db;

import static dev.tally.wallet.db.jooq.Tables.HOLDS;

import dev.tally.common.admission.SubHoldIds;
import dev.tally.common.db.ColumnArrays;
import dev.tally.wallet.db.jooq.tables.records.HoldsRecord;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jooq.DSLContext;
import org.jooq.impl.DSL;

/** Holds: money reserved for a call until it is settled, released or expires. */
public final class HoldDao {
  /** {@code holds.kind}: a request's hold, or a gateway's lease (see {@code V13__leases.sql}). */
  public static final String HOLD = "hold";
  public static final String LEASE = "lease";

  public static boolean isLease(HoldsRecord hold) {
    return LEASE.equals(hold.getKind());
  }

  public Optional<HoldsRecord> hold(DSLContext tx, String wallet, String id) {
    return tx.selectFrom(HOLDS).where(HOLDS.WALLET.eq(wallet), HOLDS.ID.eq(id)).forUpdate().fetchOptional();
  }

  /**
   * A request's hold (never a lease) for update. When it is not there but its id is {@code {lease}_{n}} under a
   * lease of this wallet, it is a hold the lease's gateway admitted and has not written yet: it is inserted
   * now, pending at amount zero with the lease's key and member, for the caller to settle or release; the
   * gateway's later write then frees its amount from the lease instead of holding it
   * ({@link #writeSubHolds}).
   */
  public Optional<HoldsRecord> requestHold(DSLContext tx, String wallet, String id) {
    Optional<HoldsRecord> stored = hold(tx, wallet, id);
    if (stored.isPresent()) {
      return isLease(stored.get()) ? Optional.empty() : stored;
    }
    Optional<HoldsRecord> lease = leaseOf(tx, wallet, id);
    if (lease.isEmpty()) {
      return Optional.empty();
    }
    HoldsRecord mark = tx.newRecord(HOLDS);
    mark.setId(id);
    mark.setWallet(wallet);
    mark.setAmount(0L);
    mark.setState("pending");
    mark.setKind(HOLD);
    mark.setSettled(0L);
    mark.setApiKey(lease.get().getApiKey());
    mark.setMember(lease.get().getMember());
    mark.setCreateTime(OffsetDateTime.now());
    mark.setExpireTime(lease.get().getExpireTime());
    if (tx.insertInto(HOLDS).set(mark).onConflictDoNothing().execute() == 0) {
      // Its gateway's write committed meanwhile ({@link #moveOutOfLeases} takes no wallet lock): it is there.
      return hold(tx, wallet, id).filter(h -> !isLease(h));
    }
    return Optional.of(mark);
  }

  /** Whether {@code id} names a hold admitted from a lease of {@code wallet} that is not written yet. */
  public boolean isUnwritten(DSLContext tx, String wallet, String id) {
    return hold(tx, wallet, id).isEmpty() && leaseOf(tx, wallet, id).isPresent();
  }

  /** The lease a sub-hold id ({@link SubHoldIds}) was admitted from, when it is one of {@code wallet}'s. */
  private Optional<HoldsRecord> leaseOf(DSLContext tx, String wallet, String id) {
    String lease = SubHoldIds.leaseOf(id);
    return lease == null ? Optional.empty()
        : tx.selectFrom(HOLDS).where(HOLDS.WALLET.eq(wallet), HOLDS.ID.eq(lease), HOLDS.KIND.eq(LEASE)).fetchOptional();
  }

  /**
   * Pending holds of {@code wallets} past their expiry, at most {@link #DUE_HOLDS_PER_PASS} (oldest first): a
   * wave of expiries is worked off over a few passes instead of stalling the one that meets it. A hold left
   * for the next pass still counts as held, which never lets anyone spend more.
   */
  public List<HoldsRecord> duePendingHoldsOf(DSLContext tx, Collection<String> wallets, OffsetDateTime now) {
    if (wallets.isEmpty()) {
      return List.of();
    }
    // Wallet by wallet down the pending index (a lateral join): the cost follows the wallets and their due
    // holds, never how many holds are pending — an IN over many wallets let PostgreSQL scan them all.
    return tx.fetch("select d.* from unnest(?::text[]) as w(name) cross join lateral (select * from holds h "
        + "where h.wallet = w.name and h.state = 'pending' and h.expire_time <= ?::timestamptz order by h.expire_time "
        + "limit ?) d order by d.expire_time limit ?", wallets.toArray(String[]::new), now.toString(), DUE_HOLDS_PER_PASS,
        DUE_HOLDS_PER_PASS).into(HOLDS);
  }

  public static final int DUE_HOLDS_PER_PASS = 2_000;

  /**
   * Closes many pending holds with one statement, each settled at its whole amount or at nothing. Returns the
   * amounts closed by wallet as they were when closed: a lease's amount may have moved to holds admitted from
   * it after it was read ({@link #moveOutOfLeases} takes no wallet lock), never after this locks it.
   */
  public Map<String, Long> closeHolds(DSLContext tx, Collection<String> ids, String state, boolean settledAtAmount) {
    if (ids.isEmpty()) {
      return Map.of();
    }
    Map<String, Long> closed = new HashMap<>();
    tx.update(HOLDS).set(HOLDS.STATE, state).set(HOLDS.SETTLED, settledAtAmount ? HOLDS.AMOUNT : DSL.inline(0L))
        .set(HOLDS.CLOSE_TIME, OffsetDateTime.now()).where(HOLDS.ID.eq(DSL.any(ids.toArray(String[]::new))),
            HOLDS.STATE.eq("pending")).returning(HOLDS.WALLET, HOLDS.AMOUNT).fetch()
        .forEach(r -> closed.merge(r.getWallet(), r.getAmount(), Long::sum));
    return closed;
  }

  /**
   * What the pending holds of {@code wallets} add up to per wallet and per member and key, summed by
   * PostgreSQL (nothing per hold crosses the wire): {@code wallet -> subject -> amount}, where the wallet's
   * own entry counts every hold.
   */
  public Map<String, Map<String, Long>> pendingHeldBySubject(DSLContext tx, Collection<String> wallets) {
    Map<String, Map<String, Long>> out = new HashMap<>();
    if (wallets.isEmpty()) {
      return out;
    }
    tx.select(HOLDS.WALLET, HOLDS.MEMBER, HOLDS.API_KEY, DSL.sum(HOLDS.AMOUNT)).from(HOLDS)
        .where(HOLDS.WALLET.in(wallets), HOLDS.STATE.eq("pending"))
        .groupBy(HOLDS.WALLET, HOLDS.MEMBER, HOLDS.API_KEY)
        .forEach(r -> {
          Map<String, Long> w = out.computeIfAbsent(r.value1(), k -> new HashMap<>());
          long amount = r.value4().longValueExact();
          w.merge(r.value1(), amount, Long::sum);
          if (!r.value2().isEmpty()) {
            w.merge(r.value2(), amount, Long::sum);
          }
          if (!r.value3().isEmpty()) {
            w.merge(r.value3(), amount, Long::sum);
          }
        });
    return out;
  }

  /** Inserts holds from arrays, one statement whatever their number. */
  public void insertHolds(DSLContext tx, List<HoldsRecord> holds) {
    if (holds.isEmpty()) {
      return;
    }
    String[] types = {"text", "text", "bigint", "text", "text", "text", "timestamptz", "timestamptz", "text"};
    tx.connection(c -> {
      try (var ps = c.prepareStatement("insert into holds (id, wallet, amount, state, api_key, member, create_time, "
          + "expire_time, kind) select * from " + ColumnArrays.unnest(types))) {
        ColumnArrays.bind(c, ps, types, holds, h -> new Object[] {h.getId(), h.getWallet(), h.getAmount(),
            h.getState(), h.getApiKey(), h.getMember(), h.getCreateTime().toString(), h.getExpireTime().toString(),
            h.getKind() == null ? HOLD : h.getKind()});
        ps.executeUpdate();
      }
    });
  }

  /** The leases named, for update (whatever their state). */
  public Map<String, HoldsRecord> leasesForUpdate(DSLContext tx, Collection<String> ids) {
    Map<String, HoldsRecord> out = new HashMap<>();
    LEASES.lock(tx, ids).forEach(l -> out.put(l.getId(), l));
    return out;
  }

  private static final dev.tally.common.db.LockedRows<HoldsRecord> LEASES =
      new dev.tally.common.db.LockedRows<>(HOLDS, HOLDS.ID, "kind = '" + LEASE + "'");

  /** A sub-hold as written: its id, amount, and whether the request had already ended before it was written. */
  public record Written(String id, long amount, boolean ended) {}

  /**
   * Inserts holds admitted from leases, one statement whatever their number. Returns those written now: newly
   * inserted (pending), or the zero-amount stand-in {@link #requestHold} left for one settled or released
   * before its write (now given its amount, {@code ended}). A retried write returns nothing.
   */
  public List<Written> writeSubHolds(DSLContext tx, List<HoldsRecord> holds) {
    if (holds.isEmpty()) {
      return List.of();
    }
    String[] types = {"text", "text", "bigint", "text", "text", "timestamptz", "timestamptz"};
    List<Written> out = new ArrayList<>(holds.size());
    tx.connection(c -> {
      try (var ps = c.prepareStatement("insert into holds as h (id, wallet, amount, api_key, member, create_time, "
          + "expire_time, state) select *, 'pending' from " + ColumnArrays.unnest(types) + " on conflict (id) do update "
          + "set amount = excluded.amount where h.amount = 0 and h.state <> 'pending' and h.wallet = excluded.wallet "
          + "returning h.id, h.amount, h.state <> 'pending'")) {
        ColumnArrays.bind(c, ps, types, holds, h -> new Object[] {h.getId(), h.getWallet(), h.getAmount(),
            h.getApiKey(), h.getMember(), h.getCreateTime().toString(), h.getExpireTime().toString()});
        try (var rs = ps.executeQuery()) {
          while (rs.next()) {
            out.add(new Written(rs.getString(1), rs.getLong(2), rs.getBoolean(3)));
          }
        }
      }
    });
    return out;
  }

  /**
   * Inserts holds admitted from leases ({@code {lease}_{n}}, {@link SubHoldIds}) and takes each one's amount out
   * of its lease, with the lease's key and member, in one statement — only if every lease is pending, of the
   * hold's wallet, holds at least its holds' total and ends no later than the first of them, and no hold is
   * there yet. Returns how many holds were inserted: fewer than given means that was not so, and the caller
   * must roll back (the statement may have written part of it).
   */
  public int moveOutOfLeases(DSLContext tx, List<HoldsRecord> holds, OffsetDateTime now) {
    if (holds.isEmpty()) {
      return 0;
    }
    String[] types = {"text", "text", "text", "bigint", "timestamptz"};
    int[] inserted = new int[1];
    tx.connection(c -> {
      try (var ps = c.prepareStatement("with s(id, lease, wallet, amount, expire_time) as (select * from "
          + ColumnArrays.unnest(types) + "), "
          + "x as (select lease, wallet, sum(amount) as amount, min(expire_time) as first_end from s group by 1, 2), "
          + "moved as (update holds l set amount = l.amount - x.amount from x where l.id = x.lease and l.wallet = "
          + "x.wallet and l.kind = '" + LEASE + "' and l.state = 'pending' and l.amount >= x.amount "
          + "and l.expire_time <= x.first_end returning l.id, l.api_key, l.member) "
          + "insert into holds (id, wallet, amount, api_key, member, create_time, expire_time, state) "
          + "select s.id, s.wallet, s.amount, m.api_key, m.member, ?::timestamptz, s.expire_time, 'pending' "
          + "from s join moved m on m.id = s.lease on conflict (id) do nothing")) {
        ColumnArrays.bind(c, ps, types, holds, h -> new Object[] {h.getId(), SubHoldIds.leaseOf(h.getId()),
            h.getWallet(), h.getAmount(), h.getExpireTime().toString()});
        ps.setString(types.length + 1, now.toString());
        inserted[0] = ps.executeUpdate();
      }
    });
    return inserted[0];
  }

  /** Lease {@code id} of {@code wallet} to live {@code ttl} from now. */
  public record LeaseExtension(String id, String wallet, Duration ttl) {}

  /** The longest a lease lives from when it was granted, however often it is extended. */
  public static final Duration LEASE_MAX_LIFE = Duration.ofMinutes(1);

  /**
   * Extends pending leases not past their expiry to their {@code ttl} after {@code now}, never past
   * {@link #LEASE_MAX_LIFE} after their creation and never shorter than they were; one statement, locking only
   * those leases. Returns the new expiry of each lease extended.
   */
  public Map<String, OffsetDateTime> extendLeases(DSLContext tx, List<LeaseExtension> leases, OffsetDateTime now) {
    Map<String, OffsetDateTime> extended = new HashMap<>();
    if (leases.isEmpty()) {
      return extended;
    }
    String[] types = {"text", "text", "bigint"};
    tx.connection(c -> {
      try (var ps = c.prepareStatement("with x(id, wallet, ttl_ms) as (select * from " + ColumnArrays.unnest(types)
          + "), e as (select x.id, x.wallet, least(?::timestamptz + x.ttl_ms * interval '1 millisecond', "
          + "l.create_time + ?::interval) as until from x join holds l on l.id = x.id) "
          + "update holds l set expire_time = e.until from e where l.id = e.id and l.wallet = e.wallet "
          + "and l.kind = '" + LEASE + "' and l.state = 'pending' and l.expire_time > ?::timestamptz "
          + "and e.until > l.expire_time returning l.id, l.expire_time")) {
        ColumnArrays.bind(c, ps, types, leases, e -> new Object[] {e.id(), e.wallet(), e.ttl().toMillis()});
        ps.setString(types.length + 1, now.toString());
        ps.setString(types.length + 2, LEASE_MAX_LIFE.toSeconds() + " seconds");
        ps.setString(types.length + 3, now.toString());
        try (var rs = ps.executeQuery()) {
          while (rs.next()) {
            extended.put(rs.getString(1), rs.getObject(2, OffsetDateTime.class));
          }
        }
      }
    });
    return extended;
  }

  /** Sets the amounts leases still hold, one statement. */
  public void storeLeaseAmounts(DSLContext tx, Map<String, Long> amounts) {
    if (amounts.isEmpty()) {
      return;
    }
    String[] types = {"text", "bigint"};
    tx.connection(c -> {
      try (var ps = c.prepareStatement("update holds set amount = x.amount from " + ColumnArrays.unnest(types)
          + " as x(id, amount) where holds.id = x.id")) {
        ColumnArrays.bind(c, ps, types, List.copyOf(amounts.entrySet()), e -> new Object[] {e.getKey(), e.getValue()});
        ps.executeUpdate();
      }
    });
  }

  /** Adds to a pending hold and moves its expiry. */
  public void extendHold(DSLContext tx, String id, long amount, OffsetDateTime expireTime) {
    tx.update(HOLDS).set(HOLDS.AMOUNT, HOLDS.AMOUNT.plus(amount)).set(HOLDS.EXPIRE_TIME, expireTime)
        .where(HOLDS.ID.eq(id), HOLDS.STATE.eq("pending")).execute();
  }

  public List<HoldsRecord> pendingHolds(DSLContext tx, String wallet) {
    return tx.selectFrom(HOLDS).where(HOLDS.WALLET.eq(wallet), HOLDS.STATE.eq("pending")).fetch();
  }

  public void closeHold(DSLContext tx, String id, String state, long settled) {
    tx.update(HOLDS).set(HOLDS.STATE, state).set(HOLDS.SETTLED, settled).set(HOLDS.CLOSE_TIME, OffsetDateTime.now())
        .where(HOLDS.ID.eq(id)).execute();
  }

  /** Wallets having pending holds past their expiry, for the sweeper. */
  public List<String> walletsWithDueHolds(DSLContext tx, OffsetDateTime now, int limit) {
    return tx.selectDistinct(HOLDS.WALLET).from(HOLDS).where(HOLDS.STATE.eq("pending"), HOLDS.EXPIRE_TIME.le(now))
        .limit(limit).fetch(HOLDS.WALLET);
  }
}
