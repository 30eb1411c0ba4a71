package dev.tally.common.kafka;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tally.common.testing.TestInfra;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.junit.jupiter.api.Test;

class KafkaRoundTripTest {

  @Test
  void producedRecordIsConsumedWithKeyAndValue() throws Exception {
    KafkaClients clients = new KafkaClients(TestInfra.kafka(), null);
    String topic = TestInfra.unique("roundtrip");
    clients.ensureTopics(Set.of(topic));

    RecordMetadata sent;
    try (KafkaProducer<String, byte[]> producer = clients.producer("test-producer")) {
      sent = producer.send(new ProducerRecord<>(topic, "teams/42", "hello".getBytes(StandardCharsets.UTF_8)))
          .get();
    }

    List<ConsumerRecord<String, byte[]>> received = new ArrayList<>();
    try (KafkaConsumer<String, byte[]> consumer = clients.consumer("test-consumer", TestInfra.unique("g"))) {
      consumer.subscribe(List.of(topic));
      long until = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (received.isEmpty() && System.nanoTime() < until) {
        consumer.poll(Duration.ofMillis(200)).forEach(received::add);
      }
    }

    assertEquals(1, received.size());
    assertEquals("teams/42", received.getFirst().key());
    assertArrayEquals("hello".getBytes(StandardCharsets.UTF_8), received.getFirst().value());
    assertEquals(sent.partition(), received.getFirst().partition());
    assertEquals(sent.offset(), received.getFirst().offset());
  }
}
