package dev.tally.wallet.ledger;

import static dev.tally.wallet.db.jooq.Tables.ACCOUNTS;
import static dev.tally.wallet.db.jooq.Tables.TRANSFERS;

import dev.tally.wallet.db.jooq.tables.records.TransfersRecord;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.jooq.DSLContext;
import org.jooq.impl.DSL;

/**
 * The only writer of transfers. Posts a batch of transfers in the caller's transaction and updates each
 * touched account once (in sorted order, so concurrent batches cannot deadlock), keeping every account's
 * totals equal to its transfers.
 */
public final class Ledger {

  /** Creates an account unless it exists. */
  public void ensureAccount(DSLContext tx, String id, String currency) {
    tx.insertInto(ACCOUNTS).set(ACCOUNTS.ID, id).set(ACCOUNTS.CURRENCY_CODE, currency).onConflictDoNothing()
        .execute();
  }

  /** Balance (credits − debits) of an account; 0 when it does not exist. */
  public long balance(DSLContext tx, String account) {
    var r = tx.select(ACCOUNTS.CREDITS, ACCOUNTS.DEBITS).from(ACCOUNTS).where(ACCOUNTS.ID.eq(account)).fetchOne();
    return r == null ? 0 : r.value1() - r.value2();
  }

  public List<TransfersRecord> post(DSLContext tx, List<NewTransfer> transfers) {
    if (transfers.isEmpty()) {
      return List.of();
    }
    Map<String, long[]> deltas = new TreeMap<>(); // account -> {debits, credits}
    Map<String, String> currencies = new HashMap<>();
    List<TransfersRecord> rows = new ArrayList<>(transfers.size());
    for (NewTransfer t : transfers) {
      deltas.computeIfAbsent(t.debitAccount(), k -> new long[2])[0] += t.amount();
      deltas.computeIfAbsent(t.creditAccount(), k -> new long[2])[1] += t.amount();
      currencies.put(t.debitAccount(), t.currency());
      currencies.put(t.creditAccount(), t.currency());
      rows.add(record(t));
    }
    for (String account : deltas.keySet()) {
      ensureAccount(tx, account, currencies.get(account));
    }
    tx.batchInsert(rows).execute();
    for (Map.Entry<String, long[]> e : deltas.entrySet()) {
      tx.update(ACCOUNTS)
          .set(ACCOUNTS.DEBITS, ACCOUNTS.DEBITS.plus(e.getValue()[0]))
          .set(ACCOUNTS.CREDITS, ACCOUNTS.CREDITS.plus(e.getValue()[1]))
          .where(ACCOUNTS.ID.eq(e.getKey()))
          .execute();
    }
    return rows;
  }

  public TransfersRecord postOne(DSLContext tx, NewTransfer t) {
    return post(tx, List.of(t)).getFirst();
  }

  /** Result of {@link #reconcile}. */
  public record Reconciliation(boolean balanced, long accounts, long transfers, List<String> mismatched) {}

  /**
   * Recomputes every account's totals from the transfers and checks that the ledger balances (total debits
   * equal total credits, every currency on its own).
   */
  public Reconciliation reconcile(DSLContext tx) {
    var debits = tx.select(TRANSFERS.DEBIT_ACCOUNT, DSL.sum(TRANSFERS.AMOUNT)).from(TRANSFERS)
        .groupBy(TRANSFERS.DEBIT_ACCOUNT).fetchMap(TRANSFERS.DEBIT_ACCOUNT, DSL.sum(TRANSFERS.AMOUNT));
    var credits = tx.select(TRANSFERS.CREDIT_ACCOUNT, DSL.sum(TRANSFERS.AMOUNT)).from(TRANSFERS)
        .groupBy(TRANSFERS.CREDIT_ACCOUNT).fetchMap(TRANSFERS.CREDIT_ACCOUNT, DSL.sum(TRANSFERS.AMOUNT));
    List<String> mismatched = new ArrayList<>();
    Map<String, Long> netPerCurrency = new HashMap<>();
    long accounts = 0;
    for (var a : tx.selectFrom(ACCOUNTS).fetch()) {
      accounts++;
      long d = debits.getOrDefault(a.getId(), java.math.BigDecimal.ZERO).longValueExact();
      long c = credits.getOrDefault(a.getId(), java.math.BigDecimal.ZERO).longValueExact();
      if (d != a.getDebits() || c != a.getCredits()) {
        mismatched.add(a.getId());
      }
      netPerCurrency.merge(a.getCurrencyCode(), a.getCredits() - a.getDebits(), Long::sum);
    }
    boolean zeroSum = netPerCurrency.values().stream().allMatch(v -> v == 0);
    if (!zeroSum) {
      mismatched.add("(total credits differ from total debits: " + netPerCurrency + ")");
    }
    long transferCount = tx.fetchCount(TRANSFERS);
    boolean sameCurrency = tx.fetchCount(tx.select(TRANSFERS.ID).from(TRANSFERS)
        .join(ACCOUNTS.as("d")).on(ACCOUNTS.as("d").ID.eq(TRANSFERS.DEBIT_ACCOUNT))
        .join(ACCOUNTS.as("c")).on(ACCOUNTS.as("c").ID.eq(TRANSFERS.CREDIT_ACCOUNT))
        .where(ACCOUNTS.as("d").CURRENCY_CODE.ne(TRANSFERS.CURRENCY_CODE)
            .or(ACCOUNTS.as("c").CURRENCY_CODE.ne(TRANSFERS.CURRENCY_CODE)))) == 0;
    if (!sameCurrency) {
      mismatched.add("(transfers across currencies)");
    }
    return new Reconciliation(mismatched.isEmpty(), accounts, transferCount, mismatched);
  }

  private static TransfersRecord record(NewTransfer t) {
    TransfersRecord r = new TransfersRecord();
    r.setId(t.id());
    r.setDebitAccount(t.debitAccount());
    r.setCreditAccount(t.creditAccount());
    r.setAmount(t.amount());
    r.setCurrencyCode(t.currency());
    r.setCode(t.code());
    r.setMember(t.member());
    r.setApiKey(t.apiKey());
    r.setUsageEventId(t.usageEventId());
    r.setExternalReference(t.externalReference());
    r.setListAmount(t.listAmount());
    r.setDiscount(t.discount());
    r.setDescription(t.description() == null ? "" : t.description());
    r.setOccurTime(t.occurTime());
    r.setCreateTime(java.time.OffsetDateTime.now());
    return r;
  }
}
