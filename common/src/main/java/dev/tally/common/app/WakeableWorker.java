package dev.tally.common.app;

import java.time.Duration;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A background thread that repeats a pass while passes find work, then waits until woken (after a commit
 * that queued something) or until its idle wait runs out. A failing pass is logged and retried after a
 * short pause rather than in a tight loop. Used by the outbox and mail relays.
 */
public final class WakeableWorker implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(WakeableWorker.class);

  private final BooleanSupplier pass;
  private final Duration idleWait;
  private final String name;
  private final Thread thread;
  private final Object signal = new Object();
  private volatile boolean running = true;
  private boolean woken;

  /** @param pass one round of work; true when it found something (so another round follows at once) */
  public WakeableWorker(String name, Duration idleWait, BooleanSupplier pass) {
    this.name = name;
    this.idleWait = idleWait;
    this.pass = pass;
    this.thread = Thread.ofPlatform().name(name).daemon().unstarted(this::loop);
  }

  public void start() {
    thread.start();
  }

  /** Asks for a pass now rather than after the idle wait. */
  public void wake() {
    synchronized (signal) {
      woken = true;
      signal.notifyAll();
    }
  }

  private void loop() {
    while (running) {
      try {
        if (!pass.getAsBoolean()) {
          idle(idleWait.toMillis());
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      } catch (RuntimeException e) {
        log.warn("{} failed, retrying: {}", name, e.toString());
        try {
          idle(Math.min(idleWait.toMillis(), 1_000));
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }
  }

  private void idle(long millis) throws InterruptedException {
    synchronized (signal) {
      if (!woken && running) {
        signal.wait(millis);
      }
      woken = false;
    }
  }

  @Override
  public void close() {
    running = false;
    wake();
    try {
      thread.join(5_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
