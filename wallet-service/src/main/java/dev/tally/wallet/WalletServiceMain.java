package dev.tally.wallet;

import dev.tally.common.app.ServiceRunner;
import dev.tally.common.config.Env;
import dev.tally.common.db.Database;
import dev.tally.common.grpc.GrpcServer;
import dev.tally.common.kafka.KafkaClients;
import dev.tally.common.kafka.Topics;
import dev.tally.common.metrics.Metrics;
import dev.tally.wallet.config.WalletConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

/** The wallet service as its own process, configured by environment variables (what the Helm chart runs). */
public final class WalletServiceMain {
  private WalletServiceMain() {}

  public static void main(String[] args) {
    ServiceRunner.main("wallet-service", () -> {
      WalletConfig config = WalletConfig.fromEnv(Env.system());
      ServiceRunner runner = new ServiceRunner();
      runner.manage(start(config, runner));
      runner.awaitShutdown();
    });
  }

  /** Starts the service's server on its database and Kafka; everything it opens is managed by {@code runner}. */
  public static GrpcServer start(WalletConfig config, ServiceRunner runner) throws java.io.IOException {
    PrometheusMeterRegistry registry = Metrics.newRegistry("wallet");
    runner.manage(Database.open(config.database(), "wallet", registry));
    new KafkaClients(config.kafka(), registry).ensureTopics(Topics.ALL);
    return GrpcServer.builder("wallet", config.server(), registry).start();
  }
}
