package dev.tally.common.grpc;

import dev.tally.common.config.Env;
import java.time.Duration;

/**
 * Settings of one gRPC server process.
 *
 * @param port gRPC port ({@code TALLY_GRPC_PORT}; 0 = any free port)
 * @param metricsPort Prometheus scrape port ({@code TALLY_METRICS_PORT}; 0 = any free port, -1 = off)
 * @param drainTimeout how long shutdown waits for in-flight calls ({@code TALLY_SHUTDOWN_DRAIN})
 * @param maxInboundMessageBytes largest accepted request ({@code TALLY_GRPC_MAX_MESSAGE_BYTES})
 * @param reflection whether server reflection is served ({@code TALLY_GRPC_REFLECTION})
 * @param stallTimeout how long a Kafka consumer may make no progress while records wait before gRPC health
 *     turns NOT_SERVING, so the orchestrator restarts the process ({@code TALLY_CONSUMER_STALL_TIMEOUT})
 * @param bindAddress the address the gRPC and metrics ports listen on ({@code TALLY_BIND_ADDRESS}; loopback
 *     unless configured: a container sets {@code 0.0.0.0})
 */
public record ServerConfig(
    int port, int metricsPort, Duration drainTimeout, int maxInboundMessageBytes, boolean reflection,
    Duration stallTimeout, String bindAddress) {

  public static final Duration DEFAULT_STALL_TIMEOUT = Duration.ofSeconds(60);
  public static final String LOOPBACK = "127.0.0.1";

  public ServerConfig(int port, int metricsPort, Duration drainTimeout, int maxInboundMessageBytes,
      boolean reflection) {
    this(port, metricsPort, drainTimeout, maxInboundMessageBytes, reflection, DEFAULT_STALL_TIMEOUT, LOOPBACK);
  }

  public ServerConfig withStallTimeout(Duration timeout) {
    return new ServerConfig(port, metricsPort, drainTimeout, maxInboundMessageBytes, reflection, timeout,
        bindAddress);
  }

  public static ServerConfig fromEnv(Env env, int defaultPort, int defaultMetricsPort) {
    return new ServerConfig(
        env.port("TALLY_GRPC_PORT", defaultPort),
        env.integer("TALLY_METRICS_PORT", defaultMetricsPort, -1, 65_535),
        env.duration("TALLY_SHUTDOWN_DRAIN", Duration.ofSeconds(20), Duration.ZERO, Duration.ofMinutes(10)),
        env.integer("TALLY_GRPC_MAX_MESSAGE_BYTES", 4 * 1024 * 1024, 1024, 64 * 1024 * 1024),
        env.bool("TALLY_GRPC_REFLECTION", true),
        env.duration("TALLY_CONSUMER_STALL_TIMEOUT", DEFAULT_STALL_TIMEOUT, Duration.ofSeconds(1),
            Duration.ofHours(1)),
        env.string("TALLY_BIND_ADDRESS", LOOPBACK));
  }

  /** Free ports, short drain: for tests and embedded use. */
  public static ServerConfig ephemeral() {
    return new ServerConfig(0, -1, Duration.ofSeconds(2), 4 * 1024 * 1024, true);
  }
}
