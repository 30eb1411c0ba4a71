package dev.tally.common.testing;

import dev.tally.common.kafka.KafkaClients;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;

/** Reads what a test's actions published on a topic, as a subscriber of the shared test broker would. */
public final class TopicReader {
  private TopicReader() {}

  /**
   * The events of {@code topic} keyed {@code key}, from the topic's start, up to and including the first
   * that {@code last} accepts (within 30 s, else the test fails).
   */
  public static <T> List<T> readUntil(String topic, String key, com.google.protobuf.Parser<T> parser,
      Predicate<T> last) {
    List<T> out = new ArrayList<>();
    try (KafkaConsumer<String, byte[]> c = new KafkaClients(TestInfra.kafka(), null)
        .consumer("topic-reader", TestInfra.unique("reader"))) {
      c.subscribe(List.of(topic));
      long until = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (System.nanoTime() < until) {
        for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(200))) {
          if (key.equals(r.key())) {
            T e = parser.parseFrom(r.value());
            out.add(e);
            if (last.test(e)) {
              return out;
            }
          }
        }
      }
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new AssertionError(e);
    }
    throw new AssertionError("the last expected event on " + topic + " never came; saw " + out.size());
  }
}
