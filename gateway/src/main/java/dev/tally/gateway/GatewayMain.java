package dev.tally.gateway;

import dev.tally.common.app.ServiceRunner;
import dev.tally.common.config.Env;
import dev.tally.common.grpc.GrpcServer;
import dev.tally.common.metrics.Metrics;
import dev.tally.gateway.config.GatewayConfig;

/** The gateway as its own process, configured by environment variables (what the Helm chart runs). */
public final class GatewayMain {
  private GatewayMain() {}

  public static void main(String[] args) {
    ServiceRunner.main("gateway", () -> {
      GatewayConfig config = GatewayConfig.fromEnv(Env.system());
      ServiceRunner runner = new ServiceRunner();
      runner.manage(start(config));
      runner.awaitShutdown();
    });
  }

  /** Starts the gateway. Until forwarding lands it serves health and reflection only. */
  public static GrpcServer start(GatewayConfig config) throws java.io.IOException {
    return GrpcServer.builder("gateway", config.server(), Metrics.newRegistry("gateway")).start();
  }
}
