package dev.tally.common.db;

import static org.jooq.impl.DSL.field;
import static org.jooq.impl.DSL.table;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tally.common.error.TallyException;
import dev.tally.common.testing.TestInfra;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.Status;
import java.util.concurrent.TimeUnit;
import org.jooq.exception.DataAccessException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class DatabaseTest {
  private static DatabaseConfig config;
  private static Database db;

  @BeforeAll
  static void open() {
    config = TestInfra.newDatabase(DatabaseTest.class, "probe");
    db = Database.open(config, "probe", null);
  }

  @AfterAll
  static void close() {
    db.close();
  }

  @Test
  void migrationsCreateTheSchemaAndTransactionsCommit() {
    db.transaction(tx -> tx.dsl().insertInto(table("probe"), field("id"), field("name")).values(1L, "a").execute());
    String name = db.dsl().select(field("name", String.class)).from(table("probe.probe")).where(field("id").eq(1L))
        .fetchOne(0, String.class);
    assertEquals("a", name);
  }

  @Test
  void connectionsAreHandedOutAtTheIsolationTheyReportWithoutAskingTheServer() {
    String database = db.dsl().fetchValue(field("current_database()", String.class));
    db.dsl().execute("alter database \"" + database + "\" set default_transaction_isolation = 'serializable'");
    try (Database fresh = Database.open(config, "probe", null)) { // a new pool on the same database
      // New sessions start serializable now; the pool puts each connection back to READ COMMITTED, which is
      // what the connection tells jOOQ (PooledConnections) instead of sending SHOW TRANSACTION ISOLATION LEVEL.
      String inTransaction = fresh.<String>transaction(tx -> tx.dsl().fetch("show transaction_isolation")
          .get(0).get(0, String.class));
      assertEquals("read committed", inTransaction);
      int reported = fresh.<Integer>transaction(tx -> tx.dsl().connectionResult(
          java.sql.Connection::getTransactionIsolation));
      assertEquals(java.sql.Connection.TRANSACTION_READ_COMMITTED, reported);
    } finally {
      db.dsl().execute("alter database \"" + database + "\" reset default_transaction_isolation");
    }
  }

  @Test
  void failedTransactionRollsBack() {
    assertThrows(IllegalStateException.class, () -> db.transaction(tx -> {
      tx.dsl().insertInto(table("probe"), field("id"), field("name")).values(2L, "b").execute();
      throw new IllegalStateException("boom");
    }));
    assertEquals(0, db.dsl().fetchCount(table("probe"), field("id").eq(2L)));
  }

  @Test
  void expiredDeadlineDoesNoWork() throws Exception {
    Context.CancellableContext ctx = Context.current().withDeadline(
        Deadline.after(1, TimeUnit.MILLISECONDS), java.util.concurrent.Executors.newSingleThreadScheduledExecutor());
    Thread.sleep(5); // the only way to be past a deadline is to wait past it
    TallyException e = ctx.call(() -> assertThrows(TallyException.class, () -> db.transaction(tx ->
        tx.dsl().insertInto(table("probe"), field("id"), field("name")).values(3L, "c").execute())));
    assertEquals(Status.Code.DEADLINE_EXCEEDED, e.code());
    assertEquals(0, db.dsl().fetchCount(table("probe"), field("id").eq(3L)));
  }

  @Test
  void statementsAreBoundedByTheCallDeadline() throws Exception {
    Context.CancellableContext ctx = Context.current().withDeadline(
        Deadline.after(300, TimeUnit.MILLISECONDS), java.util.concurrent.Executors.newSingleThreadScheduledExecutor());
    DataAccessException e = ctx.call(() -> assertThrows(DataAccessException.class,
        () -> db.transaction(tx -> tx.dsl().execute("select pg_sleep(5)"))));
    assertEquals("57014", e.sqlState()); // query_canceled by statement_timeout
  }

  /** A tagged hook runs after a commit that marked its tag, never after one that did not or that rolled back. */
  @Test
  void markedHooksRunOnlyAfterTheCommitThatMarked() {
    Object tag = new Object();
    java.util.concurrent.atomic.AtomicInteger runs = new java.util.concurrent.atomic.AtomicInteger();
    db.afterCommitOf(tag, runs::incrementAndGet);
    db.transaction(tx -> tx.dsl().selectOne().fetch());
    assertEquals(0, runs.get(), "unmarked");
    db.transaction(tx -> {
      Database.mark(tag);
      return db.transaction(inner -> inner.dsl().selectOne().fetch()); // a nested one keeps the outer's marks
    });
    assertEquals(1, runs.get(), "marked, once");
    assertThrows(IllegalStateException.class, () -> db.transaction(tx -> {
      Database.mark(tag);
      throw new IllegalStateException("rolled back");
    }));
    db.transaction(tx -> tx.dsl().selectOne().fetch());
    assertEquals(1, runs.get(), "what a rolled-back transaction marked is forgotten");
  }
}
