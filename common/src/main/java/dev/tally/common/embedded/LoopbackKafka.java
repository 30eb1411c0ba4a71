package dev.tally.common.embedded;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.utils.Time;

/**
 * A single-node KRaft broker whose listeners are on loopback only, for the local stack: the test kit binds
 * every interface, which a developer's machine should not offer its neighbours. Formats its log directory
 * on first start (cluster id kept beside the logs) and keeps it across restarts.
 */
final class LoopbackKafka implements AutoCloseable {
  private final KafkaRaftServer server;
  private final String bootstrap;

  private LoopbackKafka(KafkaRaftServer server, String bootstrap) {
    this.server = server;
    this.bootstrap = bootstrap;
  }

  static LoopbackKafka start(Path baseDir, String clusterId) {
    try {
      Path logs = baseDir.resolve("logs");
      Files.createDirectories(logs);
      int brokerPort = freePort();
      int controllerPort = freePort();
      Properties p = new Properties();
      p.putAll(Map.ofEntries(
          Map.entry("process.roles", "broker,controller"),
          Map.entry("node.id", "1"),
          Map.entry("controller.quorum.voters", "1@127.0.0.1:" + controllerPort),
          Map.entry("listeners", "PLAINTEXT://127.0.0.1:" + brokerPort + ",CONTROLLER://127.0.0.1:" + controllerPort),
          Map.entry("advertised.listeners", "PLAINTEXT://127.0.0.1:" + brokerPort),
          Map.entry("controller.listener.names", "CONTROLLER"),
          Map.entry("inter.broker.listener.name", "PLAINTEXT"),
          Map.entry("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"),
          Map.entry("log.dirs", logs.toString())));
      EmbeddedKafkaBroker.SINGLE_NODE.forEach(p::put);
      Path config = baseDir.resolve("server.properties");
      try (var out = Files.newOutputStream(config)) {
        p.store(out, "written by the local stack at each start");
      }
      if (!Files.exists(logs.resolve("meta.properties"))) {
        ByteArrayOutputStream said = new ByteArrayOutputStream();
        int rc = kafka.tools.StorageTool$.MODULE$.execute(new String[] {"format", "-t", clusterId, "-c",
            config.toString(), "--ignore-formatted"}, new PrintStream(said, true, StandardCharsets.UTF_8));
        if (rc != 0) {
          throw new IllegalStateException("formatting the Kafka log directory failed: " + said);
        }
      }
      KafkaRaftServer server = new KafkaRaftServer(KafkaConfig.fromProps(p, false), Time.SYSTEM);
      server.startup();
      String bootstrap = "127.0.0.1:" + brokerPort;
      awaitReady(bootstrap);
      return new LoopbackKafka(server, bootstrap);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void awaitReady(String bootstrap) {
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
      long until = System.nanoTime() + Duration.ofSeconds(60).toNanos();
      while (true) {
        try {
          if (!admin.describeCluster().nodes().get(5, TimeUnit.SECONDS).isEmpty()) {
            return;
          }
        } catch (Exception notYet) {
          if (System.nanoTime() > until) {
            throw new IllegalStateException("the local Kafka broker did not come up: " + notYet, notYet);
          }
        }
      }
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  String bootstrapServers() {
    return bootstrap;
  }

  @Override
  public void close() {
    server.shutdown();
    server.awaitShutdown();
  }
}
