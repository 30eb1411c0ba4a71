package dev.tally.common.app;

import dev.tally.common.config.ConfigException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a process until SIGTERM/SIGINT, then closes what it started in reverse order (the gRPC server
 * first, so in-flight calls drain while the database and Kafka are still there).
 */
public final class ServiceRunner {
  private static final Logger log = LoggerFactory.getLogger(ServiceRunner.class);

  private final List<AutoCloseable> resources = new ArrayList<>();
  private final CountDownLatch stopped = new CountDownLatch(1);

  /** Registers something to close at shutdown; returns it for chaining. */
  public <T extends AutoCloseable> T manage(T resource) {
    resources.add(resource);
    return resource;
  }

  /** Blocks until the JVM is asked to stop and everything is closed. */
  public void awaitShutdown() throws InterruptedException {
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      closeAll();
      flushLogs();
    }, "shutdown"));
    stopped.await();
  }

  /** Drains the asynchronous log queue once everything has said it stopped (logback has no hook of its own here). */
  private static void flushLogs() {
    if (org.slf4j.LoggerFactory.getILoggerFactory() instanceof ch.qos.logback.classic.LoggerContext logback) {
      logback.stop();
    }
  }

  /** Closes everything managed, newest first. Safe to call more than once. */
  public synchronized void closeAll() {
    for (int i = resources.size() - 1; i >= 0; i--) {
      try {
        resources.get(i).close();
      } catch (Exception e) {
        log.warn("error while stopping {}: {}", resources.get(i).getClass().getSimpleName(), e.toString());
      }
    }
    resources.clear();
    stopped.countDown();
  }

  /**
   * {@code <service> migrate}: applies the schema migrations and exits, what the Helm chart's pre-upgrade
   * Job runs once per release (the Deployments then start with TALLY_DB_MIGRATE=false).
   */
  public static boolean migrateOnly(String[] args, dev.tally.common.db.DatabaseConfig db, String service) {
    if (args.length == 0 || !"migrate".equals(args[0])) {
      return false;
    }
    dev.tally.common.db.DatabaseConfig migrating = new dev.tally.common.db.DatabaseConfig(db.url(), db.user(),
        db.password(), db.schema(), 2, 0, db.connectionTimeout(), db.statementTimeout(), true);
    dev.tally.common.db.Database.open(migrating, service, null).close();
    log.info("{}: migrations applied", service);
    return true;
  }

  /** Standard main wrapper: a configuration error prints one line naming the variable and exits 2. */
  public static void main(String name, ThrowingRunnable body) {
    try {
      body.run();
    } catch (ConfigException e) {
      System.err.println(name + ": configuration error: " + e.getMessage());
      System.exit(2);
    } catch (Exception e) {
      log.error("{} failed to start", name, e);
      System.exit(1);
    }
  }

  /** A main body. */
  @FunctionalInterface
  public interface ThrowingRunnable {
    void run() throws Exception;
  }
}
