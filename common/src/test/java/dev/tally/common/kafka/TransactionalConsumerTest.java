package dev.tally.common.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.common.auth.Caller;
import dev.tally.common.db.Database;
import dev.tally.common.testing.Await;
import dev.tally.common.testing.TestInfra;
import dev.tally.proto.operations.v1.ParkedEvent;
import dev.tally.proto.operations.v1.ParkedEventFilter;
import dev.tally.proto.operations.v1.ParkedEventState;
import java.nio.charset.StandardCharsets;
import java.sql.SQLTransientConnectionException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.jooq.DSLContext;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The consumer's promises with real PostgreSQL and Kafka: bad records are isolated and parked while every
 * other record is applied once; outages are retried, never parked; the thread survives anything; a parked
 * record replays once after its cause is fixed.
 */
class TransactionalConsumerTest {
  private static Database db;
  private static KafkaClients clients;
  private static KafkaProducer<String, byte[]> producer;

  @BeforeAll
  static void open() {
    db = Database.open(TestInfra.newDatabase(TransactionalConsumerTest.class, "probe"), "probe", null);
    db.dsl().execute("create table applied (value text primary key)");
    clients = new KafkaClients(TestInfra.kafka(), null);
    // The test's own records go out with room to spare: on a starved two-core machine a produce response
    // took over the 10 s request timeout, and the retried first batch then met OutOfOrderSequence until the
    // delivery timeout although every record was on the topic. One request at a time, waited on for long.
    java.util.Map<String, Object> p = TestInfra.kafka().commonProperties();
    p.put(org.apache.kafka.clients.producer.ProducerConfig.CLIENT_ID_CONFIG, "consumer-test");
    p.put(org.apache.kafka.clients.producer.ProducerConfig.ACKS_CONFIG, "all");
    p.put(org.apache.kafka.clients.producer.ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 60_000);
    p.put(org.apache.kafka.clients.producer.ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 120_000);
    p.put(org.apache.kafka.clients.producer.ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 1);
    producer = new KafkaProducer<>(p, new org.apache.kafka.common.serialization.StringSerializer(),
        new org.apache.kafka.common.serialization.ByteArraySerializer());
  }

  @AfterAll
  static void close() {
    producer.close();
    db.close();
  }

  /** Inserts each record's value; a value starting with "bad" fails like bad data does. */
  private static final class Recorder implements TransactionalConsumer.BatchHandler {
    final AtomicBoolean fixed = new AtomicBoolean();
    final AtomicInteger outagesLeft = new AtomicInteger();
    final AtomicInteger crashesLeft = new AtomicInteger();

    @Override
    public void apply(DSLContext tx, List<ConsumerRecord<String, byte[]>> records) {
      if (outagesLeft.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
        throw new RuntimeException(new SQLTransientConnectionException("database is down (simulated)"));
      }
      if (crashesLeft.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
        throw new OutOfMemoryError("simulated: the thread must survive even this");
      }
      for (ConsumerRecord<String, byte[]> r : records) {
        String v = new String(r.value(), StandardCharsets.UTF_8);
        if (v.startsWith("bad") && !fixed.get()) {
          throw new IllegalArgumentException("cannot apply " + v);
        }
        tx.insertInto(DSL.table("applied"), DSL.field("value")).values(v).execute();
      }
    }
  }

  private static String send(String topic, String... values) throws Exception {
    List<java.util.concurrent.Future<org.apache.kafka.clients.producer.RecordMetadata>> sends = new ArrayList<>();
    for (String v : values) {
      sends.add(producer.send(new ProducerRecord<>(topic, "wallets/w", v.getBytes(StandardCharsets.UTF_8))));
    }
    for (var s : sends) {
      s.get();
    }
    return topic;
  }

  private static int applied(String prefix) {
    return db.dsl().fetchCount(DSL.table("applied"), DSL.field("value", String.class).startsWith(prefix));
  }

  @Test
  void badRecordsAreParkedAndEveryOtherRecordIsAppliedOnce() throws Exception {
    String topic = TestInfra.unique("poison");
    clients.ensureTopics(Set.of(topic));
    List<String> values = new ArrayList<>();
    for (int i = 0; i < 300; i++) {
      values.add((i == 17 || i == 211 ? "bad-" : topic + "-good-") + i);
    }
    send(topic, values.toArray(String[]::new));
    Recorder handler = new Recorder();
    String group = TestInfra.unique("g");
    try (TransactionalConsumer consumer = new TransactionalConsumer(db, clients, group, topic, group, handler)
        .start()) {
      Await.until("good records applied", Duration.ofSeconds(30), () -> applied(topic + "-good-") == 298);
      ParkedEventsApi api = new ParkedEventsApi(db, List.of(consumer));
      List<ParkedEvent> parked = Await.value("two parked", Duration.ofSeconds(10),
          () -> api.list(Caller.PLATFORM, ParkedEventFilter.getDefaultInstance(), 10, "").events(),
          l -> l.size() == 2);
      assertTrue(parked.getFirst().getError().contains("cannot apply bad-"), parked.getFirst().getError());
      assertEquals("wallets/w", parked.getFirst().getKey());
      assertFalse(consumer.stalled(Duration.ofSeconds(5)), "a consumer that parked and went on is not stalled");

      // The cause is fixed: the replay applies each once, a second replay finds nothing open.
      handler.fixed.set(true);
      var results = api.replay(Caller.PLATFORM, parked.stream().map(ParkedEvent::getId).toList());
      assertTrue(results.stream().allMatch(r -> r.getApplied()), results.toString());
      assertEquals(2, applied("bad-"));
      assertFalse(api.replay(Caller.PLATFORM, List.of(parked.getFirst().getId())).getFirst().getApplied());
      assertEquals(2, applied("bad-"));
      assertEquals(0, api.list(Caller.PLATFORM, ParkedEventFilter.getDefaultInstance(), 10, "").events().size());
      var history = api.list(Caller.PLATFORM, ParkedEventFilter.newBuilder().setIncludeReplayed(true).build(), 10, "")
          .events();
      assertTrue(history.stream().allMatch(p -> p.getState() == ParkedEventState.PARKED_EVENT_STATE_REPLAYED));
    }
    assertEquals(298, applied(topic + "-good-"), "each good record exactly once");
  }

  @Test
  void outagesAreRetriedNeverParkedAndTheThreadSurvivesAnyFailure() throws Exception {
    String topic = TestInfra.unique("outage");
    clients.ensureTopics(Set.of(topic));
    send(topic, topic + "-a", topic + "-b", topic + "-c");
    Recorder handler = new Recorder();
    handler.outagesLeft.set(4);
    handler.crashesLeft.set(2);
    String group = TestInfra.unique("g");
    try (TransactionalConsumer consumer = new TransactionalConsumer(db, clients, group, topic, group, handler)
        .start()) {
      Await.until("applied after the outage", Duration.ofSeconds(30), () -> applied(topic) == 3);
      assertEquals(0, ParkedEvents.list(db.dsl(), group, false, 0, 10).size(), "an outage parks nothing");
      send(topic, topic + "-d");
      Await.until("the consumer still runs", Duration.ofSeconds(30), () -> applied(topic) == 4);
    }
  }

  @Test
  void aConsumerWithRecordsWaitingAndNoProgressIsStalled() throws Exception {
    String topic = TestInfra.unique("stall");
    clients.ensureTopics(Set.of(topic));
    send(topic, topic + "-a");
    Recorder handler = new Recorder();
    handler.outagesLeft.set(Integer.MAX_VALUE);
    String group = TestInfra.unique("g");
    try (TransactionalConsumer consumer = new TransactionalConsumer(db, clients, group, topic, group, handler)
        .start()) {
      Await.until("stalled", Duration.ofSeconds(30), () -> consumer.stalled(Duration.ofSeconds(2)));
      handler.outagesLeft.set(0);
      Await.until("applied and no longer stalled", Duration.ofSeconds(30),
          () -> applied(topic) == 1 && !consumer.stalled(Duration.ofSeconds(2)));
    }
  }

  /**
   * Records the handler ignores commit no transaction of their own: their offsets go with the next batch it
   * applies, and a consumer started after that reads neither them nor what was applied again.
   */
  @Test
  void ignoredRecordsCommitNothingUntilABatchThatIsApplied() throws Exception {
    String topic = TestInfra.unique("ignored");
    clients.ensureTopics(Set.of(topic));
    List<String> skips = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      skips.add("skip-" + i);
    }
    send(topic, skips.toArray(String[]::new));
    AtomicInteger ignoredSeen = new AtomicInteger();
    AtomicInteger applies = new AtomicInteger();
    Recorder recorder = new Recorder();
    TransactionalConsumer.BatchHandler handler = new TransactionalConsumer.BatchHandler() {
      @Override
      public boolean ignores(ConsumerRecord<String, byte[]> r) {
        boolean skip = new String(r.value(), StandardCharsets.UTF_8).startsWith("skip-");
        if (skip) {
          ignoredSeen.incrementAndGet();
        }
        return skip;
      }

      @Override
      public void apply(DSLContext tx, List<ConsumerRecord<String, byte[]>> records) {
        applies.incrementAndGet();
        recorder.apply(tx, records.stream().filter(r -> !ignores(r)).toList());
      }
    };
    String group = TestInfra.unique("g");
    var offsets = dev.tally.common.db.jooq.Tables.CONSUMER_OFFSETS;
    try (TransactionalConsumer consumer = new TransactionalConsumer(db, clients, group, topic, group, handler)
        .ignoredOffsetsEvery(Duration.ofMinutes(10)).start()) {
      Await.until("the ignored records read", Duration.ofSeconds(30), () -> ignoredSeen.get() >= 50);
      assertEquals(0, applies.get(), "no transaction for records the handler ignores");
      assertEquals(0, db.dsl().fetchCount(offsets, offsets.CONSUMER_GROUP.eq(group)), "no offsets stored yet");
      send(topic, topic + "-real-1");
      Await.until("applied", Duration.ofSeconds(30), () -> applied(topic + "-real-") == 1);
      assertEquals(51L, db.dsl().select(org.jooq.impl.DSL.max(offsets.NEXT_OFFSET)).from(offsets)
          .where(offsets.CONSUMER_GROUP.eq(group)).fetchOne().value1(), "stored past the ignored records");
    }
    int seenBefore = ignoredSeen.get();
    send(topic, topic + "-real-2");
    try (TransactionalConsumer again = new TransactionalConsumer(db, clients, group, topic, group, handler).start()) {
      Await.until("the next record applied", Duration.ofSeconds(30), () -> applied(topic + "-real-") == 2);
    }
    assertEquals(seenBefore, ignoredSeen.get(), "the restarted consumer did not read the ignored records again");
    assertEquals(2, applied(topic + "-real-"), "each applied record once");
  }
}
