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
  /** Settings of a one-node cluster: every replication factor 1, topics only created on purpose. */
  static final java.util.Map<String, String> SINGLE_NODE = java.util.Map.ofEntries(
      java.util.Map.entry("offsets.topic.replication.factor", "1"),
      java.util.Map.entry("offsets.topic.num.partitions", "4"),
      java.util.Map.entry("transaction.state.log.replication.factor", "1"),
      java.util.Map.entry("transaction.state.log.min.isr", "1"),
      java.util.Map.entry("share.coordinator.state.topic.replication.factor", "1"),
      java.util.Map.entry("share.coordinator.state.topic.min.isr", "1"),
      java.util.Map.entry("default.replication.factor", "1"),
      java.util.Map.entry("min.insync.replicas", "1"),
      java.util.Map.entry("num.partitions", "4"),
      java.util.Map.entry("auto.create.topics.enable", "false"),
      java.util.Map.entry("group.initial.rebalance.delay.ms", "0"),
      java.util.Map.entry("log.flush.interval.messages", Long.toString(Long.MAX_VALUE)));

  private final KafkaClusterTestKit cluster;
  private final LoopbackKafka loopback;
  private final Path ephemeralDir;

  private EmbeddedKafkaBroker(KafkaClusterTestKit cluster, Path ephemeralDir) {
    this.cluster = cluster;
    this.loopback = null;
    this.ephemeralDir = ephemeralDir;
  }

  private EmbeddedKafkaBroker(LoopbackKafka loopback, Path ephemeralDir) {
    this.cluster = null;
    this.loopback = loopback;
    this.ephemeralDir = ephemeralDir;
  }

  /**
   * The local stack's broker: listens on loopback only (the test kit binds every interface), keeps its logs
   * under {@code baseDir} unless {@code ephemeral}.
   */
  public static EmbeddedKafkaBroker startLoopback(Path baseDir, boolean ephemeral) {
    try {
      return new EmbeddedKafkaBroker(LoopbackKafka.start(baseDir, clusterId(baseDir)), ephemeral ? baseDir : null);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
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
      KafkaClusterTestKit.Builder kit = new KafkaClusterTestKit.Builder(nodes.build()).setDeleteOnClose(false);
      SINGLE_NODE.forEach(kit::setConfigProp);
      KafkaClusterTestKit cluster = kit.build();
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
    return cluster != null ? cluster.bootstrapServers() : loopback.bootstrapServers();
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
      if (cluster != null) {
        cluster.close();
      } else {
        loopback.close();
      }
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
