package dev.tally.common.embedded;

import java.nio.file.Path;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;

/**
 * A single-node KRaft Kafka broker inside this JVM, from the Kafka jars. Every replication factor is 1:
 * with the defaults of 3, internal topics are never created and consumers silently receive nothing.
 */
public final class EmbeddedKafkaBroker implements AutoCloseable {
  private final KafkaClusterTestKit cluster;

  private EmbeddedKafkaBroker(KafkaClusterTestKit cluster) {
    this.cluster = cluster;
  }

  /** A throwaway broker on a free port; its logs are deleted on close. */
  public static EmbeddedKafkaBroker startEphemeral() {
    return start(null);
  }

  /** A broker that keeps its logs under {@code baseDir} (created when missing). */
  public static EmbeddedKafkaBroker startPersistent(Path baseDir) {
    return start(baseDir);
  }

  private static EmbeddedKafkaBroker start(Path baseDir) {
    try {
      TestKitNodes.Builder nodes =
          new TestKitNodes.Builder().setCombined(true).setNumBrokerNodes(1).setNumControllerNodes(1);
      if (baseDir != null) {
        nodes.setBaseDirectory(baseDir);
      }
      KafkaClusterTestKit cluster =
          new KafkaClusterTestKit.Builder(nodes.build())
              .setDeleteOnClose(baseDir == null)
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
      cluster.format();
      cluster.startup();
      cluster.waitForReadyBrokers();
      return new EmbeddedKafkaBroker(cluster);
    } catch (Exception e) {
      throw new IllegalStateException("embedded Kafka failed to start: " + e.getMessage(), e);
    }
  }

  public String bootstrapServers() {
    return cluster.bootstrapServers();
  }

  @Override
  public void close() {
    try {
      cluster.close();
    } catch (Exception e) {
      throw new IllegalStateException("embedded Kafka failed to stop: " + e.getMessage(), e);
    }
  }
}
