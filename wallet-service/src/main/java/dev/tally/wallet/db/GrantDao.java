package dev.tally.wallet.db;

import static dev.tally.wallet.db.jooq.Tables.GRANTS;

import dev.tally.wallet.db.jooq.tables.records.GrantsRecord;
import java.time.OffsetDateTime;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import org.jooq.DSLContext;
import org.jooq.impl.DSL;

/** Credit grants (lots of promotional or plan credit) and what is left of them. */
public final class GrantDao {

  /** What grants of {@code source} gave the wallet since {@code since} (their full amounts, spent or not). */
  public long grantedSince(DSLContext tx, String wallet, String source, OffsetDateTime since) {
    var sum = tx.select(org.jooq.impl.DSL.sum(GRANTS.AMOUNT)).from(GRANTS)
        .where(GRANTS.WALLET.eq(wallet), GRANTS.SOURCE.eq(source), GRANTS.CREATE_TIME.ge(since)).fetchOne().value1();
    return sum == null ? 0 : sum.longValueExact();
  }

  public void insertGrant(DSLContext tx, GrantsRecord grant) {
    tx.insertInto(GRANTS).set(grant).execute();
  }

  /** Live lots in spending order: lowest priority number first, then soonest expiry. */
  public List<GrantsRecord> liveGrants(DSLContext tx, String wallet, OffsetDateTime now) {
    return tx.selectFrom(GRANTS).where(GRANTS.WALLET.eq(wallet), GRANTS.REMAINING.gt(0L),
        GRANTS.EXPIRE_TIME.isNull().or(GRANTS.EXPIRE_TIME.gt(now)))
        .orderBy(GRANTS.PRIORITY, GRANTS.EXPIRE_TIME.asc().nullsLast(), GRANTS.ID).fetch();
  }

  /** The live lots of several wallets in spending order (per wallet), in one read. */
  public List<GrantsRecord> liveGrantsOf(DSLContext tx, Collection<String> wallets, OffsetDateTime now) {
    return tx.selectFrom(GRANTS).where(GRANTS.WALLET.in(wallets), GRANTS.REMAINING.gt(0L),
        GRANTS.EXPIRE_TIME.isNull().or(GRANTS.EXPIRE_TIME.gt(now)))
        .orderBy(GRANTS.WALLET, GRANTS.PRIORITY, GRANTS.EXPIRE_TIME.asc().nullsLast(), GRANTS.ID).fetch();
  }

  /** Lots of several wallets whose expiry passed with credit left, in one read. */
  public List<GrantsRecord> dueGrantsOf(DSLContext tx, Collection<String> wallets, OffsetDateTime now) {
    return tx.selectFrom(GRANTS).where(GRANTS.WALLET.in(wallets), GRANTS.REMAINING.gt(0L),
        GRANTS.EXPIRE_TIME.le(now)).orderBy(GRANTS.ID).fetch();
  }

  /** Sets the remaining credit of several lots in one statement. */
  public void setRemainingAll(DSLContext tx, Map<String, Long> remaining) {
    if (remaining.isEmpty()) {
      return;
    }
    tx.connection(c -> {
      try (var ps = c.prepareStatement("update grants g set remaining = u.r from unnest(?::text[], ?::bigint[]) "
          + "as u(id, r) where g.id = u.id")) {
        ps.setArray(1, c.createArrayOf("text", remaining.keySet().toArray()));
        ps.setArray(2, c.createArrayOf("bigint", remaining.values().toArray()));
        ps.executeUpdate();
      }
    });
  }

  public void setRemaining(DSLContext tx, String grantId, long remaining) {
    tx.update(GRANTS).set(GRANTS.REMAINING, remaining).where(GRANTS.ID.eq(grantId)).execute();
  }
}
