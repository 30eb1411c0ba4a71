package dev.tally.common.db;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import com.zaxxer.hikari.metrics.micrometer.MicrometerMetricsTrackerFactory;
import dev.tally.common.error.Reasons;
import dev.tally.common.error.TallyException;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.Status;
import com.google.protobuf.Message;
import com.google.protobuf.Parser;
import dev.tally.common.auth.Caller;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.TransactionalCallable;
import org.jooq.conf.Settings;
import org.jooq.impl.DSL;

/**
 * One service's database: a HikariCP pool, its Flyway migrations (see {@link #migrate}),
 * and jOOQ. {@link #transaction} bounds every statement by the calling RPC's deadline.
 */
public final class Database implements AutoCloseable {
  /** Time kept back from a call's deadline to roll back and answer. */
  private static final long ANSWER_MARGIN_MS = 300;

  private final HikariDataSource dataSource;
  private final DSLContext dsl;
  private final DatabaseConfig config;
  private final List<Runnable> afterCommit = new CopyOnWriteArrayList<>();
  /** Hooks that run only after a transaction that {@link #mark marked} their tag. */
  private final List<java.util.Map.Entry<Object, Runnable>> afterMarkedCommit = new CopyOnWriteArrayList<>();

  /** What this thread's running transaction marked, and how deep in transactions it is. */
  private static final class Marks {
    int depth;
    final java.util.Set<Object> tags = new java.util.HashSet<>();
  }

  private static final ThreadLocal<Marks> MARKS = ThreadLocal.withInitial(Marks::new);

  private Database(HikariDataSource dataSource, DatabaseConfig config) {
    this.dataSource = dataSource;
    this.config = config;
    this.dsl = DSL.using(new org.jooq.impl.DefaultConfiguration().set(new PooledConnections(dataSource))
        .set(SQLDialect.POSTGRES).set(new Settings().withExecuteLogging(false)));
  }

  /** Opens the pool and, when configured, migrates the schema to the latest version. */
  public static Database open(DatabaseConfig config, String service, MeterRegistry registry) {
    HikariConfig hikari = new HikariConfig();
    hikari.setPoolName("db-" + config.schema());
    hikari.setJdbcUrl(config.url());
    hikari.setUsername(config.user());
    hikari.setPassword(config.password());
    hikari.setMaximumPoolSize(config.maxPoolSize());
    hikari.setMinimumIdle(Math.min(config.minIdle(), config.maxPoolSize()));
    hikari.setConnectionTimeout(config.connectionTimeout().toMillis());
    hikari.setValidationTimeout(Math.min(config.connectionTimeout().toMillis(), 5_000));
    hikari.setIdleTimeout(600_000);
    hikari.setMaxLifetime(1_800_000);
    // Every connection is handed out at this level, so jOOQ can be told without asking the server.
    hikari.setTransactionIsolation(PooledConnections.ISOLATION_NAME);
    hikari.setConnectionInitSql("set search_path to " + config.schema() + ", public");
    hikari.addDataSourceProperty("options", "-c statement_timeout=" + config.statementTimeout().toMillis());
    hikari.addDataSourceProperty("reWriteBatchedInserts", "true");
    if (registry != null) {
      hikari.setMetricsTrackerFactory(new MicrometerMetricsTrackerFactory(registry));
    }
    HikariDataSource ds = new HikariDataSource(hikari);
    try {
      if (config.migrate()) {
        migrate(ds, config.schema(), service);
      }
    } catch (RuntimeException e) {
      ds.close();
      throw e;
    }
    return new Database(ds, config);
  }

  /**
   * Applies the shared tables ({@code classpath:db/common}: request log, outbox; versions 0.x) and the
   * service's own {@code classpath:db/migration/<service>} (versions 1 and up) to {@code schema}.
   */
  public static void migrate(DataSource ds, String schema, String service) {
    Flyway.configure()
        .dataSource(ds)
        .schemas(schema)
        .defaultSchema(schema)
        .createSchemas(true)
        .locations("classpath:db/common", "classpath:db/migration/" + service)
        .failOnMissingLocations(true)
        .load()
        .migrate();
  }

  public DSLContext dsl() {
    return dsl;
  }

  public DataSource dataSource() {
    return dataSource;
  }

  public String schema() {
    return config.schema();
  }

  /**
   * Runs {@code work} in one transaction. When the current gRPC call has a deadline, the transaction's
   * statements are limited to the time left, and an already expired call does no work at all.
   */
  public <T> T transaction(TransactionalCallable<T> work) {
    Marks marks = MARKS.get();
    if (marks.depth++ == 0) {
      marks.tags.clear(); // what a rolled-back transaction marked is forgotten
    }
    T result;
    try {
      result = transactionWithoutHooks(work);
    } finally {
      marks.depth--;
    }
    afterCommit.forEach(Runnable::run);
    if (marks.depth == 0 && !marks.tags.isEmpty()) {
      for (var hook : afterMarkedCommit) {
        if (marks.tags.contains(hook.getKey())) {
          hook.getValue().run();
        }
      }
      marks.tags.clear();
    }
    return result;
  }

  /**
   * Makes the running transaction read one snapshot, read only: a read of several statements under READ
   * COMMITTED can mix two moments (a batch committed between two sums, a lease given back between the balance
   * and the holds). Must come before the transaction's first query.
   */
  public static void readOneSnapshot(DSLContext tx) {
    tx.execute("set transaction isolation level repeatable read, read only");
  }

  /**
   * Makes the running transaction give up any lock wait longer than {@code wait} (SQL state 55P03, see
   * {@code Failures.isLockWaitEnded}) instead of waiting, or waiting for the deadlock check.
   */
  public static void waitForLocksAtMost(DSLContext tx, Duration wait) {
    tx.execute("set local lock_timeout = '" + wait.toMillis() + "ms'");
  }

  /**
   * Marks this thread's running transaction with {@code tag}: when it commits, the hooks registered for that
   * tag with {@link #afterCommitOf} run (e.g. the outbox relay is woken only by transactions that appended).
   */
  public static void mark(Object tag) {
    MARKS.get().tags.add(tag);
  }

  /**
   * A mutating RPC's transaction, idempotent on its {@code request_id} (see {@link Idempotency}): the
   * work runs once per caller, method and request id; replays get the first response.
   */
  public <Q extends Message, R extends Message> R mutate(
      Caller caller, String method, String requestId, Q request, Parser<R> parser, Function<DSLContext, R> work) {
    return transaction(tx -> Idempotency.once(tx.dsl(), caller.key(), method, requestId, request, parser, work));
  }

  /** Runs {@code hook} after every committed transaction. */
  public void afterCommit(Runnable hook) {
    afterCommit.add(hook);
  }

  /** Runs {@code hook} after every committed transaction {@link #mark marked} with {@code tag}. */
  public void afterCommitOf(Object tag, Runnable hook) {
    afterMarkedCommit.add(java.util.Map.entry(tag, hook));
  }

  /**
   * A transaction that does not run the after-commit hooks: for the relays the hooks wake, which would
   * otherwise wake themselves after every pass and spin.
   */
  public <T> T transactionWithoutHooks(TransactionalCallable<T> work) {
    Deadline deadline = Context.current().getDeadline();
    if (deadline == null) {
      return dsl.transactionResult(work);
    }
    long remainingMs = deadline.timeRemaining(TimeUnit.MILLISECONDS);
    if (remainingMs <= 0) {
      throw new TallyException(Status.Code.DEADLINE_EXCEEDED, Reasons.DEADLINE_EXCEEDED,
          "the call's deadline passed before the database was reached");
    }
    long timeoutMs = Math.min(remainingMs, config.statementTimeout().toMillis());
    // The pool's own wait (TALLY_DB_CONNECT_TIMEOUT) may outlast the caller: wait at most what the call has
    // left, less a moment to answer, so an outage reaches the client as UNAVAILABLE, not as its own timeout.
    long acquireMs = Math.max(1, Math.min(remainingMs - ANSWER_MARGIN_MS, config.connectionTimeout().toMillis()));
    try (java.sql.Connection connection = ((com.zaxxer.hikari.pool.HikariPool) dataSource.getHikariPoolMXBean())
        .getConnection(acquireMs)) {
      DSLContext own = DSL.using(PooledConnections.wrap(connection), SQLDialect.POSTGRES, dsl.settings());
      return own.transactionResult(tx -> {
        tx.dsl().execute("set local statement_timeout = " + Math.max(1, timeoutMs));
        return work.run(tx);
      });
    } catch (java.sql.SQLException e) {
      throw new org.jooq.exception.DataAccessException("no database connection within " + acquireMs + " ms", e);
    }
  }

  @Override
  public void close() {
    dataSource.close();
  }
}
