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

  public Optional<TransfersRecord> depositByReference(DSLContext tx, String currency, String reference) {
    return tx.selectFrom(TRANSFERS).where(TRANSFERS.CODE.eq("deposit"), TRANSFERS.CURRENCY_CODE.eq(currency),
        TRANSFERS.EXTERNAL_REFERENCE.eq(reference)).fetchOptional();
  }

  /**
   * The transfers of a wallet (both of its accounts) except its usage postings (the statement lists their
   * usage lines instead), newest first.
   */
  public List<TransfersRecord> statementWithoutUsage(DSLContext tx, Collection<String> accounts,
      Collection<String> codes, OffsetDateTime start, OffsetDateTime end, String member, String apiKey,
      String beforeId, int limit) {
    Condition c = TRANSFERS.DEBIT_ACCOUNT.in(accounts).or(TRANSFERS.CREDIT_ACCOUNT.in(accounts));
    c = c.and(TRANSFERS.CODE.ne("usage"));
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
