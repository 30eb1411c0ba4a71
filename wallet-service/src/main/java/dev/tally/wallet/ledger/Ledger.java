package dev.tally.wallet.ledger;

import static dev.tally.wallet.db.jooq.Tables.ACCOUNTS;
import static dev.tally.wallet.db.jooq.Tables.TRANSFERS;

import dev.tally.wallet.db.jooq.tables.records.TransfersRecord;
import dev.tally.common.error.TallyException;
import dev.tally.common.money.MoneyBounds;
import java.math.BigInteger;
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

  /** Balance (credits − debits) of a wallet's account; 0 when it does not exist. */
  public long balance(DSLContext tx, String account) {
    var r = tx.select(ACCOUNTS.CREDITS, ACCOUNTS.DEBITS).from(ACCOUNTS).where(ACCOUNTS.ID.eq(account)).fetchOne();
    return r == null ? 0 : wide(r.value1()).subtract(wide(r.value2())).longValueExact();
  }

  public List<TransfersRecord> post(DSLContext tx, List<NewTransfer> transfers) {
    if (transfers.isEmpty()) {
      return List.of();
    }
    Map<String, BigInteger[]> deltas = new TreeMap<>(); // account -> {debits, credits}
    Map<String, String> currencies = new HashMap<>();
    List<TransfersRecord> rows = new ArrayList<>(transfers.size());
    for (NewTransfer t : transfers) {
      BigInteger amount = BigInteger.valueOf(t.amount());
      deltas.computeIfAbsent(t.debitAccount(), k -> zeros())[0] = deltas.get(t.debitAccount())[0].add(amount);
      deltas.computeIfAbsent(t.creditAccount(), k -> zeros())[1] = deltas.get(t.creditAccount())[1].add(amount);
      currencies.put(t.debitAccount(), t.currency());
      currencies.put(t.creditAccount(), t.currency());
      rows.add(record(t));
    }
    for (String account : deltas.keySet()) {
      ensureAccount(tx, account, currencies.get(account));
    }
    tx.batchInsert(rows).execute();
    for (Map.Entry<String, BigInteger[]> e : deltas.entrySet()) {
      var totals = tx.update(ACCOUNTS)
          .set(ACCOUNTS.DEBITS, ACCOUNTS.DEBITS.plus(e.getValue()[0]))
          .set(ACCOUNTS.CREDITS, ACCOUNTS.CREDITS.plus(e.getValue()[1]))
          .where(ACCOUNTS.ID.eq(e.getKey()))
          .returning(ACCOUNTS.CREDITS, ACCOUNTS.DEBITS)
          .fetchOne();
      if (!Accounts.isSystem(e.getKey())) {
        requireWithinBounds(e.getKey(), wide(totals.getCredits()).subtract(wide(totals.getDebits())));
      }
    }
    return rows;
  }

  /** A wallet's balance stays within ±{@link MoneyBounds#MAX_WALLET_BALANCE_NANOS}, far inside int64. */
  private static void requireWithinBounds(String account, BigInteger balance) {
    if (balance.abs().compareTo(BigInteger.valueOf(MoneyBounds.MAX_WALLET_BALANCE_NANOS)) > 0) {
      throw TallyException.failedPrecondition("BALANCE_LIMIT_EXCEEDED", "this would take the balance of " + account
          + " beyond " + MoneyBounds.MAX_WALLET_BALANCE_NANOS + " nanos, the most a wallet may hold or owe");
    }
  }

  private static BigInteger[] zeros() {
    return new BigInteger[] {BigInteger.ZERO, BigInteger.ZERO};
  }

  private static BigInteger wide(Number n) {
    return n instanceof BigInteger b ? b : n instanceof java.math.BigDecimal d ? d.toBigIntegerExact()
        : BigInteger.valueOf(n.longValue());
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
    Map<String, BigInteger> netPerCurrency = new HashMap<>();
    long accounts = 0;
    for (var a : tx.selectFrom(ACCOUNTS).fetch()) {
      accounts++;
      BigInteger d = wide(debits.getOrDefault(a.getId(), java.math.BigDecimal.ZERO));
      BigInteger c = wide(credits.getOrDefault(a.getId(), java.math.BigDecimal.ZERO));
      if (!d.equals(wide(a.getDebits())) || !c.equals(wide(a.getCredits()))) {
        mismatched.add(a.getId());
      }
      netPerCurrency.merge(a.getCurrencyCode(), wide(a.getCredits()).subtract(wide(a.getDebits())), BigInteger::add);
    }
    boolean zeroSum = netPerCurrency.values().stream().allMatch(v -> v.signum() == 0);
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
