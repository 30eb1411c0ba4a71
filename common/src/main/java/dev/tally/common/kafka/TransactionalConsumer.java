package dev.tally.common.kafka;

import static dev.tally.common.db.jooq.Tables.CONSUMER_OFFSETS;

import dev.tally.common.db.Database;
import dev.tally.common.db.jooq.tables.records.ParkedEventsRecord;
import dev.tally.common.error.Failures;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.Queue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.jooq.DSLContext;
import org.jooq.impl.DSL;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Consumes a topic in batches and applies each batch in one database transaction that also stores the
 * consumer's next offsets (Kafka's "store offsets outside Kafka" pattern). On every (re)assignment it seeks
 * to the stored offsets, so redelivery, restarts, rebalances and a crash between the commit and anything
 * else change nothing: each record's effects are committed exactly once.
 *
 * <p>One thread polls; {@code workers} threads apply, each owning the partitions {@code p % workers == i},
 * so the next batch is read while the current one commits and independent partitions commit in parallel
 * (a partition's records are always applied in order, by one worker). Batches waiting for the same worker
 * are merged into one transaction (group commit under load); a worker more than two batches behind has its
 * partitions paused until it catches up.
 *
 * <p>It never stops and never skips silently. An outage (database or broker down, a lost race: see
 * {@link Failures}) rolls the batch back and retries it from the stored offsets with backoff, for as long as
 * it takes. Any other failure is bad data: the batch is bisected until the failing record is alone, and that
 * record is parked with its error in the same transaction as the offsets ({@link ParkedEvents}); the rest is
 * applied. {@link #stalled} tells health checks when no progress was made for longer than a bound while
 * records were waiting.
 */
public final class TransactionalConsumer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(TransactionalConsumer.class);
  private static final Duration MIN_BACKOFF = Duration.ofMillis(100);
  private static final Duration MAX_BACKOFF = Duration.ofSeconds(5);

  /** Applies one batch of records inside the given transaction. */
  @FunctionalInterface
  public interface BatchHandler {
    void apply(DSLContext tx, List<ConsumerRecord<String, byte[]>> records);

    /** Called in the parking transaction of a record this handler could not apply (e.g. to emit an event). */
    default void parked(DSLContext tx, ConsumerRecord<String, byte[]> record, String error) {}

    /**
     * Whether applying {@code record} changes nothing (it is not this handler's business, from its headers or
     * key alone). A batch of only such records commits no transaction: its offsets are stored with the next
     * batch that does, or after {@link TransactionalConsumer#IGNORED_OFFSETS_EVERY}; after a restart they are
     * read and ignored again.
     */
    default boolean ignores(ConsumerRecord<String, byte[]> record) {
      return false;
    }
  }

  /** Longest a worker goes without storing the offsets of records its handler ignores, by default. */
  public static final Duration IGNORED_OFFSETS_EVERY = Duration.ofSeconds(5);

  /**
   * A record's protobuf payload; an unreadable one fails as bad data, so the consumer parks it (never skips
   * it silently).
   */
  public static <T> T parse(ConsumerRecord<String, byte[]> r, com.google.protobuf.Parser<T> parser, String kind) {
    try {
      return parser.parseFrom(r.value());
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new IllegalArgumentException("unreadable " + kind + " record at " + r.topic() + "-" + r.partition() + "@"
          + r.offset(), e);
    }
  }

  /** What replaying a parked record did. */
  public record Replay(long id, boolean applied, String error) {}

  private static final int MAX_MERGED_RECORDS = 2_000;
  /** Records queued for one worker beyond which its partitions are paused, and below which they resume. */
  private static final int PAUSE_ABOVE = 2_000;
  private static final int RESUME_AT_OR_BELOW = 1_000;

  private final Database db;
  private final KafkaConsumer<String, byte[]> consumer;
  private final String group;
  private final String topic;
  private final BatchHandler handler;
  private final Thread thread;
  private final AtomicBoolean running = new AtomicBoolean(true);
  private final Set<TopicPartition> pendingSeek = new HashSet<>();
  private final Set<TopicPartition> backpressured = new HashSet<>();
  private final Counter parkedCounter;
  private final AtomicLong appliedBatches = new AtomicLong();
  private final Queue<Worker> seekRequests = new ConcurrentLinkedQueue<>();
  private List<Worker> workers = List.of();
  private int workerCount = 1;
  private Duration ignoredOffsetsEvery = IGNORED_OFFSETS_EVERY;
  private volatile long backlog;
  private volatile long progressAtNanos = System.nanoTime();

  public TransactionalConsumer(Database db, KafkaClients clients, String group, String topic, String clientId,
      BatchHandler handler) {
    this.db = db;
    this.consumer = clients.consumer(clientId, group);
    this.group = group;
    this.topic = topic;
    this.handler = handler;
    this.thread = Thread.ofPlatform().name("consumer-" + clientId).daemon().unstarted(this::loop);
    MeterRegistry registry = clients.registry();
    this.parkedCounter = registry == null ? null : Counter.builder("tally.consumer.parked")
        .description("records parked because they could not be applied").tag("group", group).register(registry);
    if (registry != null) {
      Gauge.builder("tally.consumer.backlog", this, c -> c.backlog).tag("group", group)
          .description("records on the topic not yet applied (as last seen by the consumer)").register(registry);
    }
  }

  /**
   * Applies with {@code n} worker threads (before {@link #start}); only for handlers whose batches of different
   * partitions never wait on each other's locks in a cycle.
   */
  public TransactionalConsumer workers(int n) {
    if (n < 1 || n > 64) {
      throw new IllegalArgumentException("workers must be within 1..64, got " + n);
    }
    this.workerCount = n;
    return this;
  }

  /** How long a worker may go without storing the offsets of ignored records (before {@link #start}). */
  public TransactionalConsumer ignoredOffsetsEvery(Duration every) {
    this.ignoredOffsetsEvery = every;
    return this;
  }

  public TransactionalConsumer start() {
    List<Worker> ws = new ArrayList<>();
    for (int i = 0; i < workerCount; i++) {
      ws.add(new Worker(i, thread.getName() + "-apply-" + i));
    }
    workers = List.copyOf(ws);
    workers.forEach(w -> w.thread.start());
    thread.start();
    return this;
  }

  public String group() {
    return group;
  }

  /** Batches committed so far (for tests and metrics). */
  public long appliedBatches() {
    return appliedBatches.get();
  }

  /**
   * True when the consumer has made no progress for longer than {@code bound} although it had records to
   * apply (or did not know yet): an idle consumer is never stalled.
   */
  public boolean stalled(Duration bound) {
    return System.nanoTime() - progressAtNanos > bound.toNanos();
  }

  private void progressed() {
    progressAtNanos = System.nanoTime();
  }

  private Worker workerOf(TopicPartition tp) {
    return workers.get(tp.partition() % workers.size());
  }

  private void loop() {
    consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
      @Override
      public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
        handOver(partitions);
      }

      @Override
      public void onPartitionsLost(Collection<TopicPartition> partitions) {
        handOver(partitions);
      }

      @Override
      public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
        // No database work here: a failure inside the listener would escape poll(). Paused until seeked.
        consumer.pause(partitions);
        pendingSeek.addAll(partitions);
      }
    });
    Duration backoff = MIN_BACKOFF;
    try {
      while (running.get()) {
        try {
          step();
          backoff = MIN_BACKOFF;
        } catch (WakeupException e) {
          if (running.get()) {
            log.warn("{}: unexpected wakeup, continuing", group);
          }
        } catch (RuntimeException | LinkageError | OutOfMemoryError e) {
          // Whatever it was, the thread survives: drop what was read, re-read the stored offsets, try again.
          log.warn("{}: reading {} failed, retrying from the stored offsets in {} ms: {}", group, topic,
              backoff.toMillis(), e.toString());
          workers.forEach(Worker::discardQueued);
          requestSeek(consumer.assignment());
          pause(backoff);
          backoff = backoff.multipliedBy(2).compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : backoff.multipliedBy(2);
        }
      }
    } finally {
      workers.forEach(Worker::stop);
      try {
        consumer.close(Duration.ofSeconds(5));
      } catch (RuntimeException e) {
        log.warn("{}: closing the consumer failed: {}", group, e.toString());
      }
    }
  }

  /**
   * Partitions leave this consumer: what was read and not applied is dropped, in-flight batches finish (so
   * their offsets are stored before the next owner reads them), and the partitions kept are re-read from the
   * stored offsets.
   */
  private void handOver(Collection<TopicPartition> partitions) {
    pendingSeek.removeAll(partitions);
    backpressured.removeAll(partitions);
    workers.forEach(Worker::discardQueued);
    workers.forEach(w -> w.awaitIdle(Duration.ofSeconds(10)));
    Set<TopicPartition> kept = new HashSet<>(consumer.assignment());
    kept.removeAll(partitions);
    requestSeek(kept);
  }

  private void step() {
    Worker failed;
    while ((failed = seekRequests.poll()) != null) {
      // The worker rolled back and dropped what it held: read its partitions again from the stored offsets.
      Worker w = failed;
      requestSeek(consumer.assignment().stream().filter(tp -> workerOf(tp) == w).toList());
      w.acceptAfterSeek();
    }
    if (!pendingSeek.isEmpty()) {
      seekPending();
    }
    relieveBackpressure();
    ConsumerRecords<String, byte[]> polled = consumer.poll(backpressured.isEmpty() ? Duration.ofMillis(500)
        : Duration.ofMillis(20));
    backlog = currentBacklog();
    if (polled.isEmpty()) {
      if (pendingSeek.isEmpty() && backpressured.isEmpty() && workers.stream().allMatch(Worker::idle)) {
        progressed(); // idle: nothing is waiting
      }
      return;
    }
    Map<Worker, List<ConsumerRecord<String, byte[]>>> split = new HashMap<>();
    for (TopicPartition tp : polled.partitions()) {
      split.computeIfAbsent(workerOf(tp), w -> new ArrayList<>()).addAll(polled.records(tp));
    }
    split.forEach((w, records) -> {
      w.enqueue(records);
      if (w.queued() > PAUSE_ABOVE) {
        List<TopicPartition> mine = consumer.assignment().stream().filter(tp -> workerOf(tp) == w).toList();
        consumer.pause(mine);
        backpressured.addAll(mine);
      }
    });
  }

  private void relieveBackpressure() {
    if (backpressured.isEmpty()) {
      return;
    }
    List<TopicPartition> resumed = backpressured.stream().filter(tp -> workerOf(tp).queued() <= RESUME_AT_OR_BELOW)
        .filter(tp -> !pendingSeek.contains(tp)).toList();
    if (!resumed.isEmpty()) {
      consumer.resume(resumed);
      resumed.forEach(backpressured::remove);
    }
  }

  /** Applies one worker's partitions, in order, a transaction per (merged) batch. */
  private final class Worker {
    private final int index;
    private final Thread thread;
    private final BlockingQueue<Batch> queue = new LinkedBlockingQueue<>();
    private final AtomicInteger queuedRecords = new AtomicInteger();
    private final AtomicInteger epoch = new AtomicInteger();
    private volatile int acceptedEpoch;
    private volatile boolean busy;
    private Duration backoff = MIN_BACKOFF;
    /** The last ignored record per partition not yet stored, read in epoch {@link #ignoredEpoch}. */
    private final Map<Integer, ConsumerRecord<String, byte[]>> ignored = new HashMap<>();
    private int ignoredEpoch = -1;
    private long storedAtNanos = System.nanoTime();

    Worker(int index, String name) {
      this.index = index;
      this.thread = Thread.ofPlatform().name(name).daemon().unstarted(this::run);
    }

    private record Batch(int epoch, List<ConsumerRecord<String, byte[]>> records) {}

    void enqueue(List<ConsumerRecord<String, byte[]>> records) {
      queuedRecords.addAndGet(records.size());
      queue.add(new Batch(acceptedEpoch, records));
    }

    int queued() {
      return queuedRecords.get();
    }

    boolean idle() {
      return !busy && queue.isEmpty();
    }

    /** Everything queued becomes stale (dropped unapplied; the partitions are re-read from stored offsets). */
    void discardQueued() {
      acceptedEpoch = epoch.incrementAndGet();
    }

    void acceptAfterSeek() {
      acceptedEpoch = epoch.get();
    }

    void awaitIdle(Duration bound) {
      long until = System.nanoTime() + bound.toNanos();
      while (busy && System.nanoTime() < until) {
        pause(Duration.ofMillis(5));
      }
    }

    /** Lets the batch in flight commit, then ends the thread. */
    void stop() {
      awaitIdle(Duration.ofSeconds(10));
      thread.interrupt();
      try {
        thread.join(10_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    private void run() {
      while (running.get()) {
        Batch first;
        try {
          first = queue.take();
        } catch (InterruptedException e) {
          return;
        }
        busy = true;
        try {
          List<ConsumerRecord<String, byte[]>> merged = new ArrayList<>(first.records());
          int taken = first.records().size();
          boolean stale = first.epoch() != epoch.get();
          // Group commit: whatever else waits for this worker (same epoch) goes into the same transaction.
          while (!stale && merged.size() < MAX_MERGED_RECORDS && queue.peek() != null
              && queue.peek().epoch() == first.epoch()) {
            Batch next = queue.poll();
            merged.addAll(next.records());
            taken += next.records().size();
          }
          queuedRecords.addAndGet(-taken);
          if (stale) {
            continue;
          }
          if (ignoredEpoch != first.epoch()) { // read before a seek: read again from the stored offsets
            ignored.clear();
            ignoredEpoch = first.epoch();
          }
          if (ignoresAll(merged) && System.nanoTime() - storedAtNanos < ignoredOffsetsEvery.toNanos()) {
            merged.forEach(r -> ignored.put(r.partition(), r));
          } else {
            if (!ignored.isEmpty()) { // their offsets go with this batch (applying them changes nothing)
              merged.addAll(0, ignored.values());
              ignored.clear();
            }
            applyIsolating(merged);
            storedAtNanos = System.nanoTime();
          }
          progressed();
          backoff = MIN_BACKOFF;
        } catch (RuntimeException | LinkageError | OutOfMemoryError e) {
          // Rolled back: drop what is queued and have the poller re-read this worker's partitions.
          log.warn("{}: applying from {} failed, retrying from the stored offsets in {} ms: {}", group, topic,
              backoff.toMillis(), describe(e));
          epoch.incrementAndGet();
          seekRequests.add(this);
          pause(backoff);
          backoff = backoff.multipliedBy(2).compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : backoff.multipliedBy(2);
        } finally {
          busy = false;
        }
      }
    }

    @Override
    public String toString() {
      return group + "-worker-" + index;
    }
  }

  private boolean ignoresAll(List<ConsumerRecord<String, byte[]>> batch) {
    for (ConsumerRecord<String, byte[]> r : batch) {
      if (!handler.ignores(r)) {
        return false;
      }
    }
    return true;
  }

  /** Commits {@code batch}, or, when it holds bad data, every good record of it and parks each bad one. */
  private void applyIsolating(List<ConsumerRecord<String, byte[]>> batch) {
    try {
      commit(batch);
      return;
    } catch (RuntimeException e) {
      if (Failures.isTransient(e)) {
        throw e;
      }
      if (batch.size() == 1) {
        retryOnceThenPark(batch.getFirst(), e);
        return;
      }
      log.info("{}: a batch of {} records failed ({}); isolating the bad records", group, batch.size(), e.toString());
    }
    int half = batch.size() / 2;
    applyIsolating(batch.subList(0, half));
    applyIsolating(batch.subList(half, batch.size()));
  }

  private void retryOnceThenPark(ConsumerRecord<String, byte[]> r, RuntimeException first) {
    try {
      commit(List.of(r));
      return;
    } catch (RuntimeException e) {
      if (Failures.isTransient(e)) {
        throw e;
      }
    }
    String error = describe(first);
    try {
      park(r, error, true);
    } catch (RuntimeException e) {
      if (Failures.isTransient(e)) {
        throw e;
      }
      log.warn("{}: the parked-record hook failed ({}); parking without it", group, e.toString());
      park(r, error, false);
    }
    appliedBatches.incrementAndGet();
    if (parkedCounter != null) {
      parkedCounter.increment();
    }
    log.error("{}: parked record {}-{}@{} (key {}): {}", group, r.topic(), r.partition(), r.offset(), r.key(), error);
  }

  private void park(ConsumerRecord<String, byte[]> r, String error, boolean withHook) {
    db.transaction(tx -> {
      ParkedEvents.park(tx.dsl(), group, r, error);
      if (withHook) {
        handler.parked(tx.dsl(), r, error);
      }
      storeOffsets(tx.dsl(), List.of(r));
      return null;
    });
  }

  private void commit(List<ConsumerRecord<String, byte[]>> batch) {
    db.transaction(tx -> {
      handler.apply(tx.dsl(), batch);
      storeOffsets(tx.dsl(), batch);
      return null;
    });
    appliedBatches.incrementAndGet();
  }

  /**
   * Applies a parked record again (after the cause was fixed) in one transaction with marking it replayed;
   * when it still fails, the row stays parked with the new error.
   */
  public Replay replay(long parkedId) {
    try {
      return db.transaction(tx -> {
        ParkedEventsRecord p = ParkedEvents.lockOpen(tx.dsl(), group, parkedId).orElse(null);
        if (p == null) {
          return new Replay(parkedId, false, "no open parked record " + parkedId + " in " + group);
        }
        handler.apply(tx.dsl(), List.of(ParkedEvents.toRecord(p)));
        ParkedEvents.markReplayed(tx.dsl(), parkedId);
        return new Replay(parkedId, true, "");
      });
    } catch (RuntimeException e) {
      if (Failures.isTransient(e)) {
        throw e;
      }
      String error = describe(e);
      db.transaction(tx -> {
        ParkedEvents.recordFailedReplay(tx.dsl(), parkedId, error);
        return null;
      });
      return new Replay(parkedId, false, error);
    }
  }

  private static String describe(Throwable e) {
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String detail = root instanceof org.postgresql.util.PSQLException p && p.getServerErrorMessage() != null
        && p.getServerErrorMessage().getDetail() != null ? " [" + p.getServerErrorMessage().getDetail() + "]" : "";
    return (root == e ? e.toString() : e.toString() + " (cause: " + root + ")") + detail;
  }

  private long currentBacklog() {
    long sum = 0;
    for (TopicPartition tp : consumer.assignment()) {
      sum += consumer.currentLag(tp).orElse(0);
    }
    return sum;
  }

  private void requestSeek(Collection<TopicPartition> partitions) {
    if (partitions.isEmpty()) {
      return;
    }
    consumer.pause(partitions);
    pendingSeek.addAll(partitions);
  }

  private void seekPending() {
    Map<Integer, Long> stored = new HashMap<>();
    db.dsl().select(CONSUMER_OFFSETS.PARTITION_ID, CONSUMER_OFFSETS.NEXT_OFFSET).from(CONSUMER_OFFSETS)
        .where(CONSUMER_OFFSETS.CONSUMER_GROUP.eq(group), CONSUMER_OFFSETS.TOPIC.eq(topic))
        .forEach(r -> stored.put(r.value1(), r.value2()));
    List<TopicPartition> seeked = new ArrayList<>();
    List<TopicPartition> fresh = new ArrayList<>();
    Set<TopicPartition> assigned = consumer.assignment();
    for (TopicPartition tp : pendingSeek) {
      if (!assigned.contains(tp)) {
        continue;
      }
      Long next = stored.get(tp.partition());
      if (next == null) {
        fresh.add(tp);
      } else {
        consumer.seek(tp, next);
      }
      seeked.add(tp);
    }
    if (!fresh.isEmpty()) {
      consumer.seekToBeginning(fresh);
    }
    consumer.resume(seeked);
    pendingSeek.clear();
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
          // Never backwards: a batch finishing after its partition moved on must not undo the new owner's.
          .doUpdate().set(CONSUMER_OFFSETS.NEXT_OFFSET, DSL.greatest(CONSUMER_OFFSETS.NEXT_OFFSET, DSL.val(e.getValue())))
          .execute();
    }
  }

  private void pause(Duration d) {
    try {
      Thread.sleep(d.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      running.set(false);
    }
  }

  /** Stops consuming (idempotent); what was committed stays, the rest is read again by the next consumer. */
  @Override
  public void close() {
    if (!running.getAndSet(false)) {
      return;
    }
    consumer.wakeup(); // the poller stops the workers on its way out
    try {
      thread.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
