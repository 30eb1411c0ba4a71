package dev.tally.common.kafka;

import static dev.tally.common.db.jooq.Tables.CONSUMER_OFFSETS;

import dev.tally.common.db.Database;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.jooq.DSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Consumes a topic in batches and applies each batch in one database transaction that also stores the
 * consumer's next offsets (Kafka's "store offsets outside Kafka" pattern). On every (re)assignment it seeks
 * to the stored offsets, so redelivery, restarts, rebalances and a crash between the commit and anything
 * else change nothing: each record's effects are committed exactly once. A failed batch is rolled back and
 * retried from the stored offsets after a pause.
 */
public final class TransactionalConsumer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(TransactionalConsumer.class);

  /** Applies one batch of records inside the given transaction. */
  @FunctionalInterface
  public interface BatchHandler {
    void apply(DSLContext tx, List<ConsumerRecord<String, byte[]>> records);
  }

  private final Database db;
  private final KafkaConsumer<String, byte[]> consumer;
  private final String group;
  private final String topic;
  private final BatchHandler handler;
  private final Thread thread;
  private final AtomicBoolean running = new AtomicBoolean(true);
  private volatile long appliedBatches;

  public TransactionalConsumer(Database db, KafkaClients clients, String group, String topic, String clientId,
      BatchHandler handler) {
    this.db = db;
    this.consumer = clients.consumer(clientId, group);
    this.group = group;
    this.topic = topic;
    this.handler = handler;
    this.thread = Thread.ofPlatform().name("consumer-" + clientId).daemon().unstarted(this::loop);
  }

  public TransactionalConsumer start() {
    thread.start();
    return this;
  }

  /** Batches committed so far (for tests and metrics). */
  public long appliedBatches() {
    return appliedBatches;
  }

  private void loop() {
    consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
      @Override
      public void onPartitionsRevoked(Collection<TopicPartition> partitions) {}

      @Override
      public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
        seekToStored(partitions);
      }
    });
    try {
      while (running.get()) {
        ConsumerRecords<String, byte[]> polled = consumer.poll(Duration.ofMillis(500));
        if (polled.isEmpty()) {
          continue;
        }
        List<ConsumerRecord<String, byte[]>> batch = new ArrayList<>(polled.count());
        polled.forEach(batch::add);
        try {
          db.transaction(tx -> {
            handler.apply(tx.dsl(), batch);
            storeOffsets(tx.dsl(), batch);
            return null;
          });
          appliedBatches++;
        } catch (RuntimeException e) {
          log.warn("{}: batch of {} records from {} failed, retrying from the stored offsets: {}", group,
              batch.size(), topic, e.toString(), e);
          seekToStored(consumer.assignment());
          pause(Duration.ofSeconds(1));
        }
      }
    } catch (WakeupException e) {
      if (running.get()) {
        throw e;
      }
    } finally {
      consumer.close(Duration.ofSeconds(5));
    }
  }

  private void seekToStored(Collection<TopicPartition> partitions) {
    if (partitions.isEmpty()) {
      return;
    }
    Map<Integer, Long> stored = new HashMap<>();
    db.dsl().select(CONSUMER_OFFSETS.PARTITION_ID, CONSUMER_OFFSETS.NEXT_OFFSET).from(CONSUMER_OFFSETS)
        .where(CONSUMER_OFFSETS.CONSUMER_GROUP.eq(group), CONSUMER_OFFSETS.TOPIC.eq(topic))
        .forEach(r -> stored.put(r.value1(), r.value2()));
    List<TopicPartition> fresh = new ArrayList<>();
    for (TopicPartition tp : partitions) {
      Long next = stored.get(tp.partition());
      if (next == null) {
        fresh.add(tp);
      } else {
        consumer.seek(tp, next);
      }
    }
    if (!fresh.isEmpty()) {
      consumer.seekToBeginning(fresh);
    }
  }

  private void storeOffsets(DSLContext tx, List<ConsumerRecord<String, byte[]>> batch) {
    Map<Integer, Long> next = new HashMap<>();
    for (ConsumerRecord<String, byte[]> r : batch) {
      next.merge(r.partition(), r.offset() + 1, Math::max);
    }
    for (Map.Entry<Integer, Long> e : next.entrySet()) {
      tx.insertInto(CONSUMER_OFFSETS)
          .set(CONSUMER_OFFSETS.CONSUMER_GROUP, group).set(CONSUMER_OFFSETS.TOPIC, topic)
          .set(CONSUMER_OFFSETS.PARTITION_ID, e.getKey()).set(CONSUMER_OFFSETS.NEXT_OFFSET, e.getValue())
          .onConflict(CONSUMER_OFFSETS.CONSUMER_GROUP, CONSUMER_OFFSETS.TOPIC, CONSUMER_OFFSETS.PARTITION_ID)
          .doUpdate().set(CONSUMER_OFFSETS.NEXT_OFFSET, e.getValue())
          .execute();
    }
  }

  private void pause(Duration d) {
    try {
      Thread.sleep(d.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Stops consuming (idempotent); what was committed stays, the rest is read again by the next consumer. */
  @Override
  public void close() {
    if (!running.getAndSet(false)) {
      return;
    }
    consumer.wakeup();
    try {
      thread.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
