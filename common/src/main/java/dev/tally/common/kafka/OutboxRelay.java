package dev.tally.common.kafka;

import static dev.tally.common.db.jooq.Tables.OUTBOX;

import dev.tally.common.app.WakeableWorker;
import dev.tally.common.db.Database;
import dev.tally.common.db.jooq.tables.records.OutboxRecord;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;

/**
 * Ships outbox rows to Kafka in id order and deletes them once the broker has acknowledged them
 * ({@code acks=all}). At-least-once: a crash between the send and the delete sends a row again, so every
 * event carries an id its consumers deduplicate on. Rows are claimed with {@code FOR UPDATE SKIP LOCKED}
 * so several replicas can relay side by side. {@link #wake()} shortens the wait after a commit.
 */
public final class OutboxRelay implements AutoCloseable {
  private static final int BATCH = 500;

  private final Database db;
  private final KafkaProducer<String, byte[]> producer;
  private final WakeableWorker worker;

  public OutboxRelay(Database db, KafkaProducer<String, byte[]> producer, Duration idleWait, String name) {
    this.db = db;
    this.producer = producer;
    this.worker = new WakeableWorker("outbox-relay-" + name, idleWait, () -> relayBatch() > 0);
  }

  /** Exposes the rows waiting to be relayed ({@code tally.outbox.backlog}): growing means Kafka is not taking them. */
  public OutboxRelay metrics(io.micrometer.core.instrument.MeterRegistry registry) {
    dev.tally.common.metrics.SampledGauges.register(registry, "tally.outbox.backlog",
        "events written in transactions and not yet on Kafka", () -> db.dsl().fetchCount(
            org.jooq.impl.DSL.table(org.jooq.impl.DSL.name("outbox"))));
    return this;
  }

  public OutboxRelay start() {
    worker.start();
    return this;
  }

  /** Asks the relay to look for new rows now rather than after its idle wait. */
  public void wake() {
    worker.wake();
  }

  /**
   * Wakes the relay after each transaction of its database that appended to the outbox (a wake after every
   * commit made it query an empty outbox after each RecordUsage).
   */
  public OutboxRelay wakeOnAppends() {
    db.afterCommitOf(Outbox.class, this::wake);
    return this;
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
      KafkaClients.awaitAcks(sends, java.time.Duration.ofSeconds(30));
      tx.dsl().deleteFrom(OUTBOX).where(OUTBOX.ID.in(rows.stream().map(OutboxRecord::getId).toList())).execute();
      return rows.size();
    });
  }

  @Override
  public void close() {
    worker.close();
  }
}
