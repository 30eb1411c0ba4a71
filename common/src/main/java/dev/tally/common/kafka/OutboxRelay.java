package dev.tally.common.kafka;

import static dev.tally.common.db.jooq.Tables.OUTBOX;

import dev.tally.common.db.Database;
import dev.tally.common.db.jooq.tables.records.OutboxRecord;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Ships outbox rows to Kafka in id order and deletes them once the broker has acknowledged them
 * ({@code acks=all}). At-least-once: a crash between the send and the delete sends a row again, so every
 * event carries an id its consumers deduplicate on. Rows are claimed with {@code FOR UPDATE SKIP LOCKED}
 * so several replicas can relay side by side. {@link #wake()} shortens the wait after a commit.
 */
public final class OutboxRelay implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(OutboxRelay.class);
  private static final int BATCH = 500;

  private final Database db;
  private final KafkaProducer<String, byte[]> producer;
  private final Duration idleWait;
  private final Thread thread;
  private final Object signal = new Object();
  private volatile boolean running = true;
  private boolean woken;

  public OutboxRelay(Database db, KafkaProducer<String, byte[]> producer, Duration idleWait, String name) {
    this.db = db;
    this.producer = producer;
    this.idleWait = idleWait;
    this.thread = Thread.ofPlatform().name("outbox-relay-" + name).daemon().unstarted(this::loop);
  }

  public OutboxRelay start() {
    thread.start();
    return this;
  }

  /** Asks the relay to look for new rows now rather than after its idle wait. */
  public void wake() {
    synchronized (signal) {
      woken = true;
      signal.notifyAll();
    }
  }

  /** Relays until the outbox is empty; returns how many rows were shipped. */
  public int drain() {
    int total = 0;
    int shipped;
    do {
      shipped = relayBatch();
      total += shipped;
    } while (shipped > 0);
    return total;
  }

  private void loop() {
    while (running) {
      try {
        if (relayBatch() == 0) {
          synchronized (signal) {
            if (!woken && running) {
              signal.wait(idleWait.toMillis());
            }
            woken = false;
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      } catch (RuntimeException e) {
        log.warn("outbox relay failed, retrying: {}", e.toString());
        sleepQuietly(Math.min(idleWait.toMillis(), 1_000));
      }
    }
  }

  private int relayBatch() {
    return db.transactionWithoutHooks(tx -> {
      List<OutboxRecord> rows = tx.dsl().selectFrom(OUTBOX).orderBy(OUTBOX.ID).limit(BATCH).forUpdate().skipLocked()
          .fetch();
      if (rows.isEmpty()) {
        return 0;
      }
      List<Future<RecordMetadata>> sends = new ArrayList<>(rows.size());
      for (OutboxRecord row : rows) {
        sends.add(producer.send(new ProducerRecord<>(row.getTopic(), row.getRecordKey(), row.getPayload())));
      }
      producer.flush();
      for (Future<RecordMetadata> send : sends) {
        try {
          send.get(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IllegalStateException("interrupted while relaying the outbox", e);
        } catch (ExecutionException | TimeoutException e) {
          throw new IllegalStateException("Kafka did not take an outbox event: " + e.getMessage(), e);
        }
      }
      tx.dsl().deleteFrom(OUTBOX).where(OUTBOX.ID.in(rows.stream().map(OutboxRecord::getId).toList())).execute();
      return rows.size();
    });
  }

  private static void sleepQuietly(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
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
