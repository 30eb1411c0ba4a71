package dev.tally.common.kafka;

import static dev.tally.common.db.jooq.Tables.OUTBOX;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tally.common.db.Database;
import dev.tally.common.testing.TestInfra;
import dev.tally.proto.events.v1.IdentityEvent;
import dev.tally.proto.events.v1.TeamCreated;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class OutboxRelayTest {
  private static Database db;
  private static KafkaClients clients;

  @BeforeAll
  static void open() {
    db = Database.open(TestInfra.newDatabase(OutboxRelayTest.class, "probe"), "probe", null);
    clients = new KafkaClients(TestInfra.kafka(), null);
  }

  @AfterAll
  static void close() {
    db.close();
  }

  private static IdentityEvent event(String id) {
    return IdentityEvent.newBuilder().setEventId(id)
        .setTeamCreated(TeamCreated.newBuilder().setTeam("teams/" + id)).build();
  }

  @Test
  void committedEventsAreRelayedInOrderAndRolledBackOnesNever() throws Exception {
    String topic = TestInfra.unique("outbox");
    clients.ensureTopics(Set.of(topic));
    db.transaction(tx -> {
      Outbox.append(tx.dsl(), topic, "teams/a", event("1"));
      Outbox.append(tx.dsl(), topic, "teams/a", event("2"));
      return null;
    });
    assertThrows(IllegalStateException.class, () -> db.transaction(tx -> {
      Outbox.append(tx.dsl(), topic, "teams/a", event("rolled-back"));
      throw new IllegalStateException("the change failed");
    }));
    db.transaction(tx -> {
      Outbox.append(tx.dsl(), topic, "teams/a", event("3"));
      return null;
    });

    try (KafkaProducer<String, byte[]> producer = clients.producer("outbox-test");
        OutboxRelay relay = new OutboxRelay(db, producer, Duration.ofSeconds(5), "test")) {
      assertEquals(3, relay.drain());
    }
    assertEquals(0, db.dsl().fetchCount(OUTBOX));

    List<String> ids = new ArrayList<>();
    try (KafkaConsumer<String, byte[]> consumer = clients.consumer("outbox-reader", TestInfra.unique("g"))) {
      consumer.subscribe(List.of(topic));
      long until = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (ids.size() < 3 && System.nanoTime() < until) {
        for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
          assertEquals("teams/a", r.key());
          ids.add(IdentityEvent.parseFrom(r.value()).getEventId());
        }
      }
    }
    assertEquals(List.of("1", "2", "3"), ids);
  }

  @Test
  void anIdleRelayWokenByCommitsDoesNotSpin() throws Exception {
    try (KafkaProducer<String, byte[]> producer = clients.producer("outbox-idle");
        OutboxRelay relay = new OutboxRelay(db, producer, Duration.ofMinutes(5), "idle")) {
      db.afterCommit(relay::wake); // as the services wire it
      relay.start();
      Thread.sleep(300); // let it settle into its idle wait
      long cpu = threadCpu("outbox-relay-idle");
      Thread.sleep(500);
      long used = threadCpu("outbox-relay-idle") - cpu;
      // Idle, it waits; its own empty passes must not wake it again (that was a busy loop).
      org.junit.jupiter.api.Assertions.assertTrue(used < 50_000_000L, "idle relay used " + used / 1_000_000 + " ms CPU");
    }
  }

  private static long threadCpu(String name) {
    var mx = java.lang.management.ManagementFactory.getThreadMXBean();
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.getName().equals(name)) {
        return mx.getThreadCpuTime(t.threadId());
      }
    }
    throw new AssertionError("no thread " + name);
  }

  @Test
  void runningRelayShipsRowsAfterWake() throws Exception {
    String topic = TestInfra.unique("outbox-live");
    clients.ensureTopics(Set.of(topic));
    try (KafkaProducer<String, byte[]> producer = clients.producer("outbox-live");
        OutboxRelay relay = new OutboxRelay(db, producer, Duration.ofMinutes(5), "live").start();
        KafkaConsumer<String, byte[]> consumer = clients.consumer("outbox-live-reader", TestInfra.unique("g"))) {
      consumer.subscribe(List.of(topic));
      db.transaction(tx -> {
        Outbox.append(tx.dsl(), topic, "teams/b", event("live-1"));
        return null;
      });
      relay.wake(); // without it the relay would sleep for its 5-minute idle wait
      List<String> ids = new ArrayList<>();
      read(consumer, ids, 1, Duration.ofSeconds(30));
      assertEquals(List.of("live-1"), ids);
    }
  }

  /** Only a commit that appended wakes the relay: most commits of a service append nothing. */
  @Test
  void aCommitWakesTheRelayOnlyWhenItAppended() throws Exception {
    String topic = TestInfra.unique("outbox-wake");
    clients.ensureTopics(Set.of(topic));
    try (KafkaProducer<String, byte[]> producer = clients.producer("outbox-wake");
        OutboxRelay relay = new OutboxRelay(db, producer, Duration.ofMinutes(5), "wake").start();
        KafkaConsumer<String, byte[]> consumer = clients.consumer("outbox-wake-reader", TestInfra.unique("g"))) {
      consumer.subscribe(List.of(topic));
      relay.wakeOnAppends(); // as the services wire it
      List<String> ids = new ArrayList<>();
      read(consumer, ids, Integer.MAX_VALUE, Duration.ofSeconds(2)); // the relay idles, the group joins
      // A row written past Outbox.append, then a commit that appended nothing: no wake, nothing shipped.
      db.transaction(tx -> tx.dsl().insertInto(OUTBOX).set(OUTBOX.TOPIC, topic).set(OUTBOX.RECORD_KEY, "teams/w")
          .set(OUTBOX.PAYLOAD, event("unannounced").toByteArray()).execute());
      db.transaction(tx -> tx.dsl().selectOne().fetch());
      read(consumer, ids, Integer.MAX_VALUE, Duration.ofSeconds(1));
      assertEquals(List.of(), ids, "commits that appended nothing left the relay asleep");
      db.transaction(tx -> {
        Outbox.append(tx.dsl(), topic, "teams/w", event("announced"));
        return null;
      });
      read(consumer, ids, 2, Duration.ofSeconds(30));
      assertEquals(List.of("unannounced", "announced"), ids, "the appending commit woke it");
    }
  }

  /** Adds the event ids {@code consumer} reads to {@code ids} until it holds {@code want} or {@code within} passed. */
  private static void read(KafkaConsumer<String, byte[]> consumer, List<String> ids, int want, Duration within)
      throws Exception {
    long until = System.nanoTime() + within.toNanos();
    while (ids.size() < want && System.nanoTime() < until) {
      for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
        ids.add(IdentityEvent.parseFrom(r.value()).getEventId());
      }
    }
  }
}
