package dev.tally.wallet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.common.db.Database;
import dev.tally.common.db.DatabaseConfig;
import dev.tally.common.testing.TestInfra;
import dev.tally.wallet.ledger.Ledger;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.Test;

/**
 * Usage posted by the per-event schema (one transfer per event and part, a claim in applied_events) is
 * carried into usage lines by the migration: every event becomes one line with its granted and paid parts,
 * its claim moves with it (so a redelivery is still recognised), and the ledger still reconciles.
 */
class UsageLinesMigrationTest {

  @Test
  void perEventUsageHistoryBecomesLinesWithItsClaims() throws Exception {
    DatabaseConfig db = TestInfra.newDatabase(UsageLinesMigrationTest.class, "wallet");
    try (Connection c = DriverManager.getConnection(db.url(), db.user(), db.password());
        Statement s = c.createStatement()) {
      migrate(db, "2");
      s.execute("set search_path to wallet");
      s.execute("insert into wallets (name, owner, currency_code, suspend_threshold) values "
          + "('wallets/team-m', 'teams/m', 'USD', 0)");
      s.execute("insert into accounts (id, currency_code, debits, credits) values "
          + "('wallets/team-m', 'USD', 700, 1000), ('wallets/team-m/granted', 'USD', 300, 300), "
          + "('system/revenue/USD', 'USD', 0, 1000), ('system/deposits/USD', 'USD', 1000, 0), "
          + "('system/grants/USD', 'USD', 300, 0)");
      s.execute("insert into transfers (id, debit_account, credit_account, amount, currency_code, code, "
          + "external_reference, occur_time) values ('t-dep', 'system/deposits/USD', 'wallets/team-m', 1000, 'USD', "
          + "'deposit', 'pay', now()), ('t-grant', 'system/grants/USD', 'wallets/team-m/granted', 300, 'USD', "
          + "'grant', null, now())");
      // e1 paid only, e2 split between granted credit and paid money, e3 all granted.
      s.execute("insert into transfers (id, debit_account, credit_account, amount, currency_code, code, member, "
          + "api_key, usage_event_id, list_amount, discount, description, occur_time) values "
          + "('u1p', 'wallets/team-m', 'system/revenue/USD', 400, 'USD', 'usage', 'teams/m/members/a', 'apiKeys/k', "
          + "'e1', 400, 0, 'requests × 4', '2026-11-20T10:00:00Z'), "
          + "('u2g', 'wallets/team-m/granted', 'system/revenue/USD', 200, 'USD', 'usage', null, 'apiKeys/k', 'e2', "
          + "null, null, 'granted credit: requests × 5', '2026-11-20T11:00:00Z'), "
          + "('u2p', 'wallets/team-m', 'system/revenue/USD', 300, 'USD', 'usage', null, 'apiKeys/k', 'e2', 500, 0, "
          + "'requests × 5', '2026-11-20T11:00:00Z'), "
          + "('u3g', 'wallets/team-m/granted', 'system/revenue/USD', 100, 'USD', 'usage', null, null, 'e3', 100, 0, "
          + "'granted credit: requests × 1', '2026-11-20T12:00:00Z')");
      s.execute("insert into applied_events (source, event_key, payload_hash) values "
          + "('usage', 'wallets/team-m|e1', '\\x01'), ('usage', 'wallets/team-m|e2', '\\x02'), "
          + "('usage', 'wallets/team-m|e3', '\\x03'), ('usage', 'wallets/team-m|e0', '\\x00'), "
          + "('identity', 'x', '\\x09')");

      migrate(db, "latest");

      try (ResultSet rs = s.executeQuery("select usage_event_id, granted_amount, paid_amount, list_amount, "
          + "payload_hash, description from usage_lines where wallet = 'wallets/team-m' order by usage_event_id")) {
        Object[][] expected = {
            {"e0", 0L, 0L, 0L, new byte[] {0}, "no charge"},
            {"e1", 0L, 400L, 400L, new byte[] {1}, "requests × 4"},
            {"e2", 200L, 300L, 500L, new byte[] {2}, "requests × 5"},
            {"e3", 100L, 0L, 100L, new byte[] {3}, "requests × 1"}};
        for (Object[] row : expected) {
          assertTrue(rs.next(), "a line for " + row[0]);
          assertEquals(row[0], rs.getString(1));
          assertEquals(row[1], rs.getLong(2), "granted part of " + row[0]);
          assertEquals(row[2], rs.getLong(3), "paid part of " + row[0]);
          assertEquals(row[3], rs.getLong(4), "list price of " + row[0]);
          assertArrayEquals((byte[]) row[4], rs.getBytes(5), "claim of " + row[0]);
          assertEquals(row[5], rs.getString(6));
        }
        assertTrue(!rs.next());
      }
      try (ResultSet rs = s.executeQuery("select source from applied_events")) {
        assertTrue(rs.next());
        assertEquals("identity", rs.getString(1), "only the usage claims moved");
        assertTrue(!rs.next());
      }
    }
    try (Database database = Database.open(db, "wallet", null)) {
      Ledger.Reconciliation r = database.transaction(tx -> new Ledger().reconcile(tx.dsl()));
      assertTrue(r.balanced(), "lines agree with the per-event postings: " + r.mismatched());
    }
  }

  private static void migrate(DatabaseConfig db, String target) {
    Flyway.configure().dataSource(db.url(), db.user(), db.password()).schemas("wallet").defaultSchema("wallet")
        .createSchemas(true).locations("classpath:db/common", "classpath:db/migration/wallet")
        .target(target).load().migrate();
  }
}
