package dev.tally.identity;

import dev.tally.common.app.ServiceRunner;
import dev.tally.common.config.Env;
import dev.tally.common.db.Database;
import dev.tally.common.grpc.GrpcServer;
import dev.tally.common.kafka.KafkaClients;
import dev.tally.common.kafka.Topics;
import dev.tally.common.metrics.Metrics;
import dev.tally.identity.config.IdentityConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

/** The identity service as its own process, configured by environment variables (what the Helm chart runs). */
public final class IdentityServiceMain {
  private IdentityServiceMain() {}

  public static void main(String[] args) {
    ServiceRunner.main("identity-service", () -> {
      IdentityConfig config = IdentityConfig.fromEnv(Env.system());
      ServiceRunner runner = new ServiceRunner();
      runner.manage(start(config, runner));
      runner.awaitShutdown();
    });
  }

  /** Starts the service's server on its database and Kafka; everything it opens is managed by {@code runner}. */
  public static GrpcServer start(IdentityConfig config, ServiceRunner runner) throws java.io.IOException {
    PrometheusMeterRegistry registry = Metrics.newRegistry("identity");
    runner.manage(Database.open(config.database(), "identity", registry));
    new KafkaClients(config.kafka(), registry).ensureTopics(Topics.ALL);
    return GrpcServer.builder("identity", config.server(), registry).start();
  }
}
