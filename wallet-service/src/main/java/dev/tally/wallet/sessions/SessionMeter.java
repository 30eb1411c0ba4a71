package dev.tally.wallet.sessions;

import static dev.tally.wallet.db.jooq.Tables.HOLDS;
import static dev.tally.wallet.db.jooq.Tables.SESSIONS;

import dev.tally.common.db.Database;
import dev.tally.wallet.db.jooq.tables.records.SessionsRecord;
import dev.tally.wallet.db.jooq.tables.records.WalletsRecord;
import dev.tally.wallet.events.WalletEvents;
import dev.tally.wallet.wallets.WalletBook;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.LockSupport;
import org.jooq.DSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the sessions: four times a second, for each wallet with open sessions (under the wallet's lock, so
 * replicas and restarts never accrue twice), accrues each session's elapsed seconds and projects the wallet's
 * runway; a session whose runway falls under its threshold (or whose wallet is suspended) gets one
 * {@code SessionStop}, and one {@code SessionResumable} once the runway is back above twice the threshold.
 */
public final class SessionMeter implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SessionMeter.class);
  static final Duration TICK = Duration.ofMillis(250);

  private final Database db;
  private final WalletBook book;
  private final Sessions sessions;
  private final WalletEvents events;
  private final dev.tally.wallet.db.WalletDao wallets;
  private final Thread thread;
  private volatile boolean running = true;

  public SessionMeter(Database db, WalletBook book, Sessions sessions, WalletEvents events,
      dev.tally.wallet.db.WalletDao wallets) {
    this.wallets = wallets;
    this.db = db;
    this.book = book;
    this.sessions = sessions;
    this.events = events;
    this.thread = Thread.ofVirtual().name("session-meter").unstarted(this::loop);
  }

  public SessionMeter start() {
    thread.start();
    return this;
  }

  private void loop() {
    while (running) {
      try {
        tick();
      } catch (RuntimeException e) {
        log.warn("sessions: {}", e.toString());
      }
      LockSupport.parkNanos(TICK.toNanos());
    }
  }

  /** One pass over the wallets with open sessions. */
  public void tick() {
    List<String> wallets = db.transaction(tx -> tx.dsl().selectDistinct(SESSIONS.WALLET).from(SESSIONS)
        .where(SESSIONS.STATE.ne("ended")).fetch(SESSIONS.WALLET));
    for (String wallet : wallets) {
      db.transaction(tx -> {
        run(tx.dsl(), wallet, book.now());
        return null;
      });
    }
  }

  private void run(DSLContext tx, String wallet, Instant now) {
    WalletsRecord w = book.lockExisting(tx, wallet);
    List<SessionsRecord> open = tx.selectFrom(SESSIONS).where(SESSIONS.WALLET.eq(wallet), SESSIONS.STATE.ne("ended"))
        .orderBy(SESSIONS.ID).forUpdate().fetch();
    for (SessionsRecord s : open) {
      long charged = s.getAccruedQuantity();
      long due = Math.multiplyExact(s.getRate(), Duration.between(s.getStartTime().toInstant(), now).toMillis()) / 1000;
      if (due - charged >= s.getRate()) { // a second or more: one usage event per session per second
        sessions.accrue(tx, w, s, now);
      }
    }
    long runway = runway(tx, w, open);
    boolean suspended = "suspended".equals(w.getStatus());
    for (SessionsRecord s : open) {
      if ("running".equals(s.getState()) && (suspended || runway < s.getStopThresholdSeconds())) {
        events.sessionStop(tx, wallet, Sessions.name(s),
            suspended ? dev.tally.common.error.Reasons.WALLET_SUSPENDED : "RUNWAY_LOW", runway);
        s.setState("stop_requested");
        s.store();
      } else if ("stop_requested".equals(s.getState()) && !suspended
          && runway >= 2L * Math.max(1, s.getStopThresholdSeconds())) {
        events.sessionResumable(tx, wallet, Sessions.name(s), runway);
        s.setState("running");
        s.store();
      }
    }
  }

  /** The runway of {@code wallet} now, for listing (read without locking it). */
  public long runwayOf(DSLContext tx, String wallet) {
    WalletsRecord w = wallets.get(tx, wallet).orElseThrow(() -> WalletBook.notFound(wallet));
    return runway(tx, w, tx.selectFrom(SESSIONS).where(SESSIONS.WALLET.eq(wallet), SESSIONS.STATE.ne("ended"))
        .fetch());
  }

  /** {@link Sessions#runway} of {@code w}'s open sessions, with their holds' amounts read once. */
  private long runway(DSLContext tx, WalletsRecord w, List<SessionsRecord> open) {
    Map<String, Long> held = tx.select(HOLDS.ID, HOLDS.AMOUNT).from(HOLDS)
        .where(HOLDS.ID.in(open.stream().map(SessionsRecord::getHoldId).toList()), HOLDS.STATE.eq("pending"))
        .fetchMap(HOLDS.ID, HOLDS.AMOUNT);
    return Sessions.runway(book.snapshot(tx, w), open, held);
  }

  @Override
  public void close() {
    running = false;
    LockSupport.unpark(thread);
  }
}
