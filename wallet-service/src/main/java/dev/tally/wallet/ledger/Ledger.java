package dev.tally.wallet.ledger;

import dev.tally.common.error.Reasons;
import static dev.tally.wallet.db.jooq.Tables.ACCOUNTS;
import static dev.tally.wallet.db.jooq.Tables.TRANSFERS;

import dev.tally.wallet.db.jooq.tables.records.TransfersRecord;
import dev.tally.common.db.ColumnArrays;
import dev.tally.common.db.Database;
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

  /** Balances (credits − debits) of wallet accounts, in one read; missing accounts are absent. */
  public Map<String, Long> balances(DSLContext tx, java.util.Collection<String> accounts) {
    Map<String, Long> out = new HashMap<>();
    tx.select(ACCOUNTS.ID, ACCOUNTS.CREDITS, ACCOUNTS.DEBITS).from(ACCOUNTS).where(ACCOUNTS.ID.in(accounts))
        .forEach(r -> out.put(r.value1(), wide(r.value2()).subtract(wide(r.value3())).longValueExact()));
    return out;
  }

  /** Creates the accounts that do not exist yet, in one statement. */
  public void ensureAccounts(DSLContext tx, java.util.Collection<String> ids, String currency) {
    Map<String, String> currencies = new HashMap<>();
    ids.forEach(id -> currencies.put(id, currency));
    tx.connection(c -> ensureAccounts(c, new java.util.TreeSet<>(ids), currencies));
  }

  /** Balance (credits − debits) of a wallet's account; 0 when it does not exist. */
  public long balance(DSLContext tx, String account) {
    var r = tx.select(ACCOUNTS.CREDITS, ACCOUNTS.DEBITS).from(ACCOUNTS).where(ACCOUNTS.ID.eq(account)).fetchOne();
    return r == null ? 0 : wide(r.value1()).subtract(wide(r.value2())).longValueExact();
  }

  /**
   * Posts {@code transfers} with a fixed number of statements whatever their number: the accounts they touch
   * are created when missing, the transfers inserted from arrays ({@code unnest}), and every touched account's
   * totals updated once. A wallet account pushed past its bound fails the whole batch.
   */
  public List<TransfersRecord> post(DSLContext tx, List<NewTransfer> transfers) {
    Deferred d = postDeferringSystemAccounts(tx, transfers);
    d.finish(tx);
    return d.rows();
  }

  /**
   * {@link #post} except the system accounts' totals (revenue, deposits, ...), which the caller applies with
   * {@link Deferred#finish} just before it commits: every batch of every wallet updates the same revenue row,
   * and its lock is held from that update to the commit, so the later the better. Accounts are always locked
   * wallets first, system accounts last, each in id order, so concurrent postings cannot deadlock.
   */
  public Deferred postDeferringSystemAccounts(DSLContext tx, List<NewTransfer> transfers) {
    if (transfers.isEmpty()) {
      return new Deferred(List.of(), new TreeMap<>());
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
    Map<String, BigInteger[]> wallets = new TreeMap<>();
    Map<String, BigInteger[]> system = new TreeMap<>();
    deltas.forEach((account, d) -> (Accounts.isSystem(account) ? system : wallets).put(account, d));
    tx.connection(c -> {
      ensureAccounts(c, deltas.keySet(), currencies);
      insertTransfers(c, rows);
      updateTotals(c, wallets);
    });
    return new Deferred(rows, system);
  }

  /** Posted transfers whose system accounts' totals are still to be applied. */
  public record Deferred(List<TransfersRecord> rows, Map<String, BigInteger[]> systemDeltas) {
    public void finish(DSLContext tx) {
      if (!systemDeltas.isEmpty()) {
        tx.connection(c -> updateTotals(c, systemDeltas));
      }
    }
  }

  private static void ensureAccounts(java.sql.Connection c, java.util.Set<String> ids, Map<String, String> currencies)
      throws java.sql.SQLException {
    // Existing accounts are skipped before the insert: a conflicting insert would wait for whoever last
    // updated the row (the hot revenue account) to commit.
    try (var ps = c.prepareStatement("insert into accounts (id, currency_code) select u.id, u.c from "
        + "unnest(?::text[], ?::text[]) as u(id, c) where not exists (select 1 from accounts a where a.id = u.id) "
        + "on conflict do nothing")) {
      ps.setArray(1, c.createArrayOf("text", ids.toArray()));
      ps.setArray(2, c.createArrayOf("text", ids.stream().map(currencies::get).toArray()));
      ps.executeUpdate();
    }
  }

  private static void insertTransfers(java.sql.Connection c, List<TransfersRecord> rows) throws java.sql.SQLException {
    String[] types = {"text", "text", "text", "bigint", "text", "text", "text", "text", "text", "text", "bigint",
        "bigint", "text", "timestamptz"};
    try (var ps = c.prepareStatement("insert into transfers (id, debit_account, credit_account, amount, "
        + "currency_code, code, member, api_key, usage_event_id, external_reference, list_amount, discount, "
        + "description, occur_time) select * from " + ColumnArrays.unnest(types))) {
      ColumnArrays.bind(c, ps, types, rows, r -> new Object[] {r.getId(), r.getDebitAccount(), r.getCreditAccount(),
          r.getAmount(), r.getCurrencyCode(), r.getCode(), r.getMember(), r.getApiKey(), r.getUsageEventId(),
          r.getExternalReference(), r.getListAmount(), r.getDiscount(), r.getDescription(),
          r.getOccurTime().toString()});
      ps.executeUpdate();
    }
  }


  private static void updateTotals(java.sql.Connection c, Map<String, BigInteger[]> deltas)
      throws java.sql.SQLException {
    if (deltas.isEmpty()) {
      return;
    }
    Object[] ids = deltas.keySet().toArray();
    // In id order, so concurrent batches never deadlock; NO KEY UPDATE (what the UPDATE takes anyway), as FOR
    // UPDATE would conflict with the key-share locks that other batches' transfer inserts hold on the same
    // accounts through their foreign keys.
    try (var lock = c.prepareStatement("select id from accounts where id = any(?::text[]) order by id "
        + "for no key update")) {
      lock.setArray(1, c.createArrayOf("text", ids));
      lock.executeQuery().close();
    }
    Object[] debits = deltas.values().stream().map(d -> d[0].toString()).toArray();
    Object[] credits = deltas.values().stream().map(d -> d[1].toString()).toArray();
    try (var ps = c.prepareStatement("update accounts a set debits = a.debits + d.debits, credits = a.credits + "
        + "d.credits from unnest(?::text[], ?::numeric[], ?::numeric[]) as d(id, debits, credits) "
        + "where a.id = d.id returning a.id, a.credits - a.debits")) {
      ps.setArray(1, c.createArrayOf("text", ids));
      ps.setArray(2, c.createArrayOf("numeric", debits));
      ps.setArray(3, c.createArrayOf("numeric", credits));
      try (var rs = ps.executeQuery()) {
        while (rs.next()) {
          String account = rs.getString(1);
          if (!Accounts.isSystem(account)) {
            requireWithinBounds(account, rs.getBigDecimal(2).toBigIntegerExact());
          }
        }
      }
    }
  }

  /** A wallet's balance stays within ±{@link MoneyBounds#MAX_WALLET_BALANCE_NANOS}, far inside int64. */
  private static void requireWithinBounds(String account, BigInteger balance) {
    if (balance.abs().compareTo(BigInteger.valueOf(MoneyBounds.MAX_WALLET_BALANCE_NANOS)) > 0) {
      throw TallyException.failedPrecondition(Reasons.BALANCE_LIMIT_EXCEEDED, "this would take the balance of " + account
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
    // A batch committing between the sums and the totals would show a mismatch that does not exist.
    Database.readOneSnapshot(tx);
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
    // Usage is posted per batch: each wallet's usage postings must equal the sum of its itemized lines.
    tx.fetch("""
        with signed as (
          select debit_account as account, amount from transfers
            where code = 'usage' and debit_account like 'wallets/%'
          union all
          select credit_account, -amount from transfers
            where code = 'usage' and credit_account like 'wallets/%'),
        postings as (
          select regexp_replace(regexp_replace(account, '/granted$', ''), '/paid$', '') as wallet,
              coalesce(sum(amount) filter (where account like '%/granted'), 0) as granted,
              coalesce(sum(amount) filter (where account not like '%/granted'), 0) as paid
          from signed group by 1),
        lines as (
          select wallet, sum(granted_amount) as granted, sum(paid_amount) as paid from usage_lines group by wallet)
        select coalesce(p.wallet, l.wallet) from postings p full join lines l on l.wallet = p.wallet
        where coalesce(p.granted, 0) <> coalesce(l.granted, 0) or coalesce(p.paid, 0) <> coalesce(l.paid, 0)""")
        .forEach(r -> mismatched.add("(usage lines of " + r.get(0, String.class) + " differ from its usage postings)"));
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
