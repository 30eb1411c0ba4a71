package dev.tally.wallet.wallets;

import dev.tally.common.db.Database;
import dev.tally.wallet.db.HoldDao;
import dev.tally.wallet.db.WalletDao;
import dev.tally.wallet.limits.EndedAlerts;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Periodic upkeep for wallets nobody touches: expired holds release themselves, expired grants are taken
 * back, plans are renewed at each period start. (Every operation on a wallet does the same first.)
 */
public final class Housekeeper implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Housekeeper.class);
  private static final int BATCH = 200;

  private final Database db;
  private final WalletDao wallets;
  private final HoldDao holdRows = new HoldDao();
  private final WalletBook book;
  private final EndedAlerts alerts;
  private final Duration every;
  private final Thread thread;
  private volatile boolean running = true;

  public Housekeeper(Database db, WalletDao wallets, WalletBook book, EndedAlerts alerts, Duration every) {
    this.db = db;
    this.alerts = alerts;
    this.wallets = wallets;
    this.book = book;
    this.every = every;
    this.thread = Thread.ofPlatform().name("wallet-housekeeper").daemon().unstarted(this::loop);
  }

  public Housekeeper start() {
    thread.start();
    return this;
  }

  /** One pass; returns the number of wallets brought up to date. */
  public int runOnce() {
    Set<String> due = new LinkedHashSet<>(db.transaction(tx -> holdRows.walletsWithDueHolds(tx.dsl(), book.nowOdt(), BATCH)));
    due.addAll(db.transaction(tx -> wallets.walletsWithDueGrantsOrPlans(tx.dsl(), book.nowOdt(), BATCH)));
    for (String name : due) {
      db.transaction(tx -> {
        book.bringUpToDate(tx.dsl(), wallets.lock(tx.dsl(), name).orElseThrow());
        return null;
      });
    }
    db.transaction(tx -> alerts.resolve(tx.dsl(), book.now()));
    return due.size();
  }

  private void loop() {
    while (running) {
      try {
        runOnce();
        Thread.sleep(every.toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      } catch (RuntimeException e) {
        log.warn("wallet housekeeping failed: {}", e.toString());
      }
    }
  }

  @Override
  public void close() {
    running = false;
    thread.interrupt();
  }
}
