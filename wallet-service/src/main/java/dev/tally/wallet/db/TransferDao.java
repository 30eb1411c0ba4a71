package dev.tally.wallet.db;

import static dev.tally.wallet.db.jooq.Tables.TRANSFERS;

import dev.tally.wallet.db.jooq.tables.records.TransfersRecord;
import java.time.OffsetDateTime;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import org.jooq.Condition;
import org.jooq.DSLContext;
import org.jooq.impl.DSL;

/** Reading transfers (writing is the {@link dev.tally.wallet.ledger.Ledger}'s job). */
public final class TransferDao {

  /**
   * What usage debits of {@code wallet} that count against {@code subject} (the wallet, a member or a key)
   * add up to in [{@code start}, {@code end}) by occurrence time; {@code end} null for no end.
   */
  public long usageSpent(DSLContext tx, String wallet, String subject, OffsetDateTime start, OffsetDateTime end) {
    var where = TRANSFERS.CODE.eq("usage")
        .and(TRANSFERS.DEBIT_ACCOUNT.in(wallet, wallet + "/granted"))
        .and(TRANSFERS.OCCUR_TIME.ge(start));
    if (end != null) {
      where = where.and(TRANSFERS.OCCUR_TIME.lt(end));
    }
    if (subject.startsWith("apiKeys/")) {
      where = where.and(TRANSFERS.API_KEY.eq(subject));
    } else if (!subject.equals(wallet)) {
      where = where.and(TRANSFERS.MEMBER.eq(subject));
    }
    var sum = tx.select(org.jooq.impl.DSL.sum(TRANSFERS.AMOUNT)).from(TRANSFERS).where(where).fetchOne().value1();
    return sum == null ? 0 : sum.longValueExact();
  }

  public Optional<TransfersRecord> depositByReference(DSLContext tx, String currency, String reference) {
    return tx.selectFrom(TRANSFERS).where(TRANSFERS.CODE.eq("deposit"), TRANSFERS.CURRENCY_CODE.eq(currency),
        TRANSFERS.EXTERNAL_REFERENCE.eq(reference)).fetchOptional();
  }

  /** The statement of a wallet (both of its accounts), newest first. */
  public List<TransfersRecord> statement(DSLContext tx, Collection<String> accounts, Collection<String> codes,
      OffsetDateTime start, OffsetDateTime end, String member, String apiKey, String beforeId, int limit) {
    Condition c = TRANSFERS.DEBIT_ACCOUNT.in(accounts).or(TRANSFERS.CREDIT_ACCOUNT.in(accounts));
    if (!codes.isEmpty()) {
      c = c.and(TRANSFERS.CODE.in(codes));
    }
    if (start != null) {
      c = c.and(TRANSFERS.OCCUR_TIME.ge(start));
    }
    if (end != null) {
      c = c.and(TRANSFERS.OCCUR_TIME.lt(end));
    }
    if (!member.isEmpty()) {
      c = c.and(TRANSFERS.MEMBER.eq(member));
    }
    if (!apiKey.isEmpty()) {
      c = c.and(TRANSFERS.API_KEY.eq(apiKey));
    }
    Condition before = beforeId == null ? DSL.noCondition() : TRANSFERS.ID.lt(beforeId);
    return tx.selectFrom(TRANSFERS).where(c, before).orderBy(TRANSFERS.ID.desc()).limit(limit).fetch();
  }
}
