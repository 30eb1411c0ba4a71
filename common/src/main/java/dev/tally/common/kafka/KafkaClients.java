package dev.tally.common.kafka;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.kafka.KafkaClientMetrics;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Producer, consumer and admin clients with safe defaults: idempotent producers with {@code acks=all}, and
 * consumers that never auto-commit (offsets are stored where the effects are) and read only committed data.
 * Keys are strings (the billing account), values are serialized protobuf.
 */
public final class KafkaClients {
  private final KafkaConfig config;
  private final MeterRegistry registry;

  public KafkaClients(KafkaConfig config, MeterRegistry registry) {
    this.config = config;
    this.registry = registry;
  }

  public KafkaConfig config() {
    return config;
  }

  /** The registry client metrics go to; {@code null} in tools without metrics. */
  public MeterRegistry registry() {
    return registry;
  }

  public KafkaProducer<String, byte[]> producer(String clientId) {
    Map<String, Object> p = config.commonProperties();
    p.put(ProducerConfig.CLIENT_ID_CONFIG, clientId);
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 5);
    p.put(ProducerConfig.RETRIES_CONFIG, Integer.MAX_VALUE);
    p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30_000);
    p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
    // A send blocks at most this long for metadata when the broker is away; callers wait for acks with
    // their own, shorter bound (awaitAcks), so a call answers UNAVAILABLE within its deadline.
    p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, MAX_BLOCK_MS);
    p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
    p.put(ProducerConfig.BATCH_SIZE_CONFIG, 131_072);
    p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
    KafkaProducer<String, byte[]> producer = new KafkaProducer<>(p);
    bind(new KafkaClientMetrics(producer));
    return producer;
  }

  /** A consumer in {@code groupId}; {@code null} for manual assignment without a group. */
  public KafkaConsumer<String, byte[]> consumer(String clientId, String groupId) {
    Map<String, Object> p = config.commonProperties();
    p.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId);
    if (groupId != null) {
      p.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
    }
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 1_000);
    // A crashed member's partitions move after this long (the broker's minimum); 45 s by default.
    p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 6_000);
    p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, 1_500);
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
    KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(p);
    bind(new KafkaClientMetrics(consumer));
    return consumer;
  }

  public Admin admin() {
    return Admin.create(config.commonProperties());
  }

  /** Creates the topics that do not exist yet with the configured partitions and replication. */
  public void ensureTopics(Set<String> topics) {
    try (Admin admin = admin()) {
      Set<String> existing = admin.listTopics().names().get(30, TimeUnit.SECONDS);
      List<NewTopic> missing = topics.stream()
          .filter(t -> !existing.contains(t))
          .map(t -> new NewTopic(t, config.topicPartitions(), config.replicationFactor()))
          .toList();
      if (missing.isEmpty()) {
        return;
      }
      try {
        admin.createTopics(missing).all().get(30, TimeUnit.SECONDS);
      } catch (ExecutionException e) {
        if (!(e.getCause() instanceof TopicExistsException)) {
          throw e;
        }
      }
      awaitLeaders(admin, missing.stream().map(NewTopic::name).toList());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while creating topics " + topics, e);
    } catch (ExecutionException | TimeoutException e) {
      throw new IllegalStateException("cannot create topics " + topics + " on " + config.bootstrapServers()
          + ": " + e.getMessage(), e);
    }
  }

  /**
   * Returns once every partition of {@code topics} has a leader: a send to a topic whose leader is not
   * elected yet can fail, and an idempotent producer then loops on sequence errors until its delivery
   * timeout (seen with freshly created topics).
   */
  private static void awaitLeaders(Admin admin, List<String> topics)
      throws InterruptedException, ExecutionException, TimeoutException {
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (true) {
      boolean ready;
      try {
        ready = admin.describeTopics(topics).allTopicNames().get(10, TimeUnit.SECONDS).values().stream()
            .allMatch(t -> t.partitions().stream().allMatch(p -> p.leader() != null && !p.leader().isEmpty()));
      } catch (ExecutionException e) {
        // A topic just created may not be in the answering broker's metadata yet: not ready, not an error.
        if (!(e.getCause() instanceof org.apache.kafka.common.errors.UnknownTopicOrPartitionException)) {
          throw e;
        }
        ready = false;
      }
      if (ready) {
        return;
      }
      if (System.nanoTime() > until) {
        throw new TimeoutException("topics " + topics + " have no leader after 30 s");
      }
      Thread.sleep(50);
    }
  }

  /**
   * Waits until the broker has acknowledged every send, at most {@code timeout} in all and never past the
   * current gRPC call's deadline (less a margin to answer in); throws {@code UNAVAILABLE KAFKA_UNAVAILABLE}
   * when one was refused or not acknowledged in time. (No {@code flush()}: it waits for the producer's own
   * delivery timeout, far past any caller's deadline.)
   */
  public static void awaitAcks(List<java.util.concurrent.Future<org.apache.kafka.clients.producer.RecordMetadata>> sends,
      java.time.Duration timeout) {
    long budgetMs = timeout.toMillis();
    io.grpc.Deadline deadline = io.grpc.Context.current().getDeadline();
    if (deadline != null) {
      budgetMs = Math.min(budgetMs, deadline.timeRemaining(TimeUnit.MILLISECONDS) - ANSWER_MARGIN_MS);
    }
    long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(Math.max(0, budgetMs));
    for (var send : sends) {
      try {
        send.get(Math.max(0, until - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw kafkaUnavailable("interrupted while waiting for Kafka");
      } catch (ExecutionException | TimeoutException e) {
        throw kafkaUnavailable("Kafka did not acknowledge the events in time (" + e.getClass().getSimpleName() + ")");
      }
    }
  }

  /** Time kept back from a call's deadline to roll back and answer. */
  private static final long ANSWER_MARGIN_MS = 500;
  /** Longest a single send may block (waiting for metadata or buffer space). */
  private static final int MAX_BLOCK_MS = 500;

  /**
   * Sends {@code records} and waits for every acknowledgement within {@code timeout} and the call's deadline
   * (see {@link #awaitAcks}). A send is only started while enough time is left for it to block, so the whole
   * stays within the deadline even when the broker is gone and every send waits for metadata.
   */
  public static void sendAndAwait(KafkaProducer<String, byte[]> producer,
      List<org.apache.kafka.clients.producer.ProducerRecord<String, byte[]>> records, java.time.Duration timeout) {
    io.grpc.Deadline deadline = io.grpc.Context.current().getDeadline();
    List<java.util.concurrent.Future<org.apache.kafka.clients.producer.RecordMetadata>> sends =
        new java.util.ArrayList<>(records.size());
    for (var r : records) {
      if (deadline != null && deadline.timeRemaining(TimeUnit.MILLISECONDS) < MAX_BLOCK_MS + ANSWER_MARGIN_MS) {
        throw kafkaUnavailable("Kafka did not take the events before the call's deadline");
      }
      sends.add(producer.send(r));
    }
    awaitAcks(sends, timeout);
  }

  public static dev.tally.common.error.TallyException kafkaUnavailable(String message) {
    return new dev.tally.common.error.TallyException(io.grpc.Status.Code.UNAVAILABLE,
        dev.tally.common.error.Failures.KAFKA_UNAVAILABLE,
        message + "; nothing was recorded, retry with the same ids");
  }

  private void bind(KafkaClientMetrics metrics) {
    if (registry != null) {
      metrics.bindTo(registry);
    }
  }
}
