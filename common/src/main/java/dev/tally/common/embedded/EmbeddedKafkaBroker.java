package dev.tally.common.embedded;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;

/**
 * A single-node KRaft Kafka broker inside this JVM, from the Kafka jars. Every replication factor is 1:
 * with the defaults of 3, internal topics are never created and consumers silently receive nothing.
 */
public final class EmbeddedKafkaBroker implements AutoCloseable {
  private final KafkaClusterTestKit cluster;
  private final Path ephemeralDir;

  private EmbeddedKafkaBroker(KafkaClusterTestKit cluster, Path ephemeralDir) {
    this.cluster = cluster;
    this.ephemeralDir = ephemeralDir;
  }

  /** A throwaway broker on a free port; its logs are deleted on close. */
  public static EmbeddedKafkaBroker startEphemeral() {
    try {
      // Our own directory: the test kit's default temp dir is deleted by a shutdown hook that races ours.
      return start(Files.createTempDirectory("tally-kafka"), true);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A broker that keeps its logs under {@code baseDir} across restarts (same cluster id every time). */
  public static EmbeddedKafkaBroker startPersistent(Path baseDir) {
    return start(baseDir, false);
  }

  private static EmbeddedKafkaBroker start(Path baseDir, boolean ephemeral) {
    try {
      TestKitNodes.Builder nodes = new TestKitNodes.Builder()
          .setCombined(true).setNumBrokerNodes(1).setNumControllerNodes(1).setBaseDirectory(baseDir)
          .setClusterId(clusterId(baseDir));
      KafkaClusterTestKit cluster =
          new KafkaClusterTestKit.Builder(nodes.build())
              .setDeleteOnClose(false)
              .setConfigProp("offsets.topic.replication.factor", "1")
              .setConfigProp("offsets.topic.num.partitions", "4")
              .setConfigProp("transaction.state.log.replication.factor", "1")
              .setConfigProp("transaction.state.log.min.isr", "1")
              .setConfigProp("share.coordinator.state.topic.replication.factor", "1")
              .setConfigProp("share.coordinator.state.topic.min.isr", "1")
              .setConfigProp("default.replication.factor", "1")
              .setConfigProp("min.insync.replicas", "1")
              .setConfigProp("num.partitions", "4")
              .setConfigProp("auto.create.topics.enable", "false")
              .setConfigProp("group.initial.rebalance.delay.ms", "0")
              .setConfigProp("log.flush.interval.messages", Long.toString(Long.MAX_VALUE))
              .build();
      if (!Files.exists(baseDir.resolve("formatted"))) {
        cluster.format();
        Files.writeString(baseDir.resolve("formatted"), "yes");
      }
      cluster.startup();
      cluster.waitForReadyBrokers();
      return new EmbeddedKafkaBroker(cluster, ephemeral ? baseDir : null);
    } catch (Exception e) {
      throw new IllegalStateException("embedded Kafka failed to start: " + e.getMessage(), e);
    }
  }

  /** The cluster id kept beside the logs, so a restart finds the same cluster. */
  private static String clusterId(Path baseDir) throws IOException {
    Files.createDirectories(baseDir);
    Path file = baseDir.resolve("cluster.id");
    if (!Files.exists(file)) {
      Files.writeString(file, org.apache.kafka.common.Uuid.randomUuid().toString());
    }
    return Files.readString(file).trim();
  }

  public String bootstrapServers() {
    return cluster.bootstrapServers();
  }

  /** Stops the broker (its controller keeps running) until {@link #restartBroker}: an outage, for tests. */
  public void stopBroker() {
    for (var broker : cluster.brokers().values()) {
      broker.shutdown();
      broker.awaitShutdown();
    }
  }

  /** Starts the broker stopped by {@link #stopBroker} again, on the same port, and waits until it serves. */
  public void restartBroker() {
    try {
      for (var broker : cluster.brokers().values()) {
        broker.startup();
      }
      cluster.waitForReadyBrokers();
    } catch (Exception e) {
      throw new IllegalStateException("embedded Kafka failed to restart: " + e.getMessage(), e);
    }
  }

  @Override
  public void close() {
    try {
      cluster.close();
    } catch (Exception e) {
      throw new IllegalStateException("embedded Kafka failed to stop: " + e.getMessage(), e);
    } finally {
      if (ephemeralDir != null) {
        deleteRecursively(ephemeralDir);
      }
    }
  }

  private static void deleteRecursively(Path dir) {
    try (Stream<Path> walk = Files.walk(dir)) {
      walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // best effort: a temp directory left behind is harmless
    }
  }
}
