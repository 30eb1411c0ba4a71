package dev.tally.common.kafka;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.common.testing.TestInfra;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.junit.jupiter.api.Test;

/**
 * A group member killed with SIGKILL (no goodbye to the broker): how long until a new member of the group
 * gets the partitions back. With Kafka's default 45 s session timeout, debits stalled 38–49 s per crash.
 */
class ConsumerRejoinTest {

  /** The member that gets killed: joins the group, polls, and waits to die. */
  public static final class Member {
    public static void main(String[] args) throws Exception {
      KafkaClients clients = new KafkaClients(KafkaConfig.plaintext(args[0]), null);
      try (KafkaConsumer<String, byte[]> c = clients.consumer("doomed", args[1])) {
        c.subscribe(List.of(args[2]));
        while (true) {
          c.poll(Duration.ofMillis(200));
          if (!c.assignment().isEmpty()) {
            System.out.println("ASSIGNED");
            System.out.flush();
          }
        }
      }
    }
  }

  @Test
  void partitionsOfAKilledMemberMoveWithinTheSessionTimeout() throws Exception {
    KafkaConfig kafka = TestInfra.kafka();
    KafkaClients clients = new KafkaClients(kafka, null);
    String topic = TestInfra.unique("rejoin");
    String group = TestInfra.unique("rejoin-group");
    clients.ensureTopics(Set.of(topic));
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    Process member = new ProcessBuilder(java.toString(), "-cp", System.getProperty("java.class.path"),
        Member.class.getName(), kafka.bootstrapServers(), group, topic).redirectErrorStream(true).start();
    try (var out = new java.io.BufferedReader(new java.io.InputStreamReader(member.getInputStream()))) {
      String line;
      while ((line = out.readLine()) != null && !line.contains("ASSIGNED")) {
        // wait until the member owns the partitions
      }
      member.destroyForcibly().waitFor(10, TimeUnit.SECONDS); // SIGKILL: no LeaveGroup
    }
    long t0 = System.nanoTime();
    try (KafkaConsumer<String, byte[]> successor = clients.consumer("successor", group)) {
      successor.subscribe(List.of(topic));
      while (successor.assignment().isEmpty() && System.nanoTime() - t0 < 60_000_000_000L) {
        successor.poll(Duration.ofMillis(200));
      }
      double stall = (System.nanoTime() - t0) / 1e9;
      System.out.printf("consumer rejoin: partitions back %.1f s after the member was killed%n", stall);
      assertTrue(!successor.assignment().isEmpty() && stall < 15, "stall " + stall + " s");
    }
  }
}
