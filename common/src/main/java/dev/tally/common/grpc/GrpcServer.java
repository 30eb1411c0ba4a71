package dev.tally.common.grpc;

import dev.tally.common.metrics.MetricsEndpoint;
import io.grpc.BindableService;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One service process's gRPC server: the given services behind the standard interceptor chain
 * (telemetry → error mapping → extra interceptors → protovalidate), plus {@code grpc.health.v1} and
 * reflection v1, and graceful shutdown (health flips to NOT_SERVING, in-flight calls drain, then stop).
 */
public final class GrpcServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(GrpcServer.class);

  private final String name;
  private final Server server;
  private final HealthStatusManager health;
  private final ServerConfig config;
  private final MetricsEndpoint metrics;
  private final java.util.concurrent.ScheduledExecutorService healthWatcher;

  private GrpcServer(String name, Server server, HealthStatusManager health, ServerConfig config,
      MetricsEndpoint metrics, java.util.concurrent.ScheduledExecutorService healthWatcher) {
    this.healthWatcher = healthWatcher;
    this.name = name;
    this.server = server;
    this.health = health;
    this.config = config;
    this.metrics = metrics;
  }

  /** Where calls run (a virtual thread per task): for work a transport-thread handler must not do itself. */
  public static java.util.concurrent.Executor callThreads() {
    return Builder.CALL_THREADS;
  }

  public static Builder builder(String name, ServerConfig config, MeterRegistry registry) {
    return new Builder(name, config, registry);
  }

  public int port() {
    return server.getPort();
  }

  /** The Prometheus scrape port, or -1 when metrics are off. */
  public int metricsPort() {
    return metrics == null ? -1 : metrics.port();
  }

  public void awaitTermination() throws InterruptedException {
    server.awaitTermination();
  }

  /** Stops taking calls, lets in-flight calls finish within the drain timeout, then stops. */
  @Override
  public void close() {
    if (healthWatcher != null) {
      healthWatcher.shutdownNow();
    }
    health.enterTerminalState();
    server.shutdown();
    try {
      if (!server.awaitTermination(config.drainTimeout().toMillis(), TimeUnit.MILLISECONDS)) {
        log.warn("{}: calls still running after the drain timeout; cancelling them", name);
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      server.shutdownNow();
      Thread.currentThread().interrupt();
    } finally {
      if (metrics != null) {
        metrics.close();
      }
    }
    log.info("{}: stopped", name);
  }

  /** Assembles a server; {@link #start()} binds the ports. */
  public static final class Builder {
    private final String name;
    private final ServerConfig config;
    private final MeterRegistry registry;
    private final List<ServerServiceDefinition> services = new ArrayList<>();
    private final List<ServerInterceptor> interceptors = new ArrayList<>();
    private final List<java.util.function.BooleanSupplier> healthChecks = new ArrayList<>();
    private java.util.function.BiPredicate<io.grpc.MethodDescriptor<?, ?>, io.grpc.Metadata> onTransport;

    private Builder(String name, ServerConfig config, MeterRegistry registry) {
      this.name = name;
      this.config = config;
      this.registry = registry;
    }

    public Builder addService(BindableService service) {
      services.add(service.bindService());
      return this;
    }

    public Builder addService(ServerServiceDefinition service) {
      services.add(service);
      return this;
    }

    /** An interceptor placed after error mapping and before validation (e.g. authentication). */
    public Builder addInterceptor(ServerInterceptor interceptor) {
      interceptors.add(interceptor);
      return this;
    }

    /**
     * Calls for which {@code nonBlocking} holds run on the transport's event loop, like a bare gRPC server:
     * no hand-off to a call thread. Their interceptors and handler must never block — a handler that may
     * have to wait hands its work to {@link #callThreads()} itself. Decided from the method and the
     * headers, before the interceptors run.
     */
    public Builder onTransportThread(
        java.util.function.BiPredicate<io.grpc.MethodDescriptor<?, ?>, io.grpc.Metadata> nonBlocking) {
      this.onTransport = nonBlocking;
      return this;
    }

    /**
     * A condition the whole server's health follows: while it is false, every service (and "") reports
     * NOT_SERVING. Checked every {@value #HEALTH_CHECK_MILLIS} ms.
     */
    public Builder healthCheck(java.util.function.BooleanSupplier healthy) {
      healthChecks.add(healthy);
      return this;
    }

    /** NOT_SERVING while any of {@code consumers} is stalled past the configured stall timeout. */
    public Builder consumersHealthy(dev.tally.common.kafka.TransactionalConsumer... consumers) {
      for (var c : consumers) {
        healthCheck(() -> !c.stalled(config.stallTimeout()));
      }
      return this;
    }

    public GrpcServer start() throws IOException {
      HealthStatusManager health = new HealthStatusManager();
      List<ServerInterceptor> chain = new ArrayList<>();
      chain.add(new CallTelemetryInterceptor(registry, name));
      chain.add(new ErrorMappingInterceptor());
      chain.addAll(interceptors);
      chain.add(new ValidationInterceptor());
      NettyServerBuilder builder =
          NettyServerBuilder.forAddress(new java.net.InetSocketAddress(config.bindAddress(), config.port()))
              // A virtual thread per call: handlers block on the database or another service, and thousands
              // of concurrent callers must not mean thousands of platform threads (or a queue behind a few).
              // With onTransportThread the event loop only looks the method up; every call not chosen is
              // moved to a call thread (callExecutor below) before its interceptors run.
              .executor(onTransport == null ? CALL_THREADS
                  : com.google.common.util.concurrent.MoreExecutors.directExecutor())
              .maxInboundMessageSize(config.maxInboundMessageBytes())
              .permitKeepAliveTime(10, TimeUnit.SECONDS)
              .permitKeepAliveWithoutCalls(true)
              .addService(health.getHealthService());
      for (ServerServiceDefinition service : services) {
        builder.addService(MalformedRequests.tolerate(ServerInterceptors.interceptForward(service, chain)));
      }
      if (onTransport != null) {
        var nonBlocking = onTransport;
        builder.callExecutor(new io.grpc.ServerCallExecutorSupplier() {
          @Override
          public <ReqT, RespT> java.util.concurrent.Executor getExecutor(ServerCall<ReqT, RespT> call,
              io.grpc.Metadata headers) {
            return nonBlocking.test(call.getMethodDescriptor(), headers) ? null : CALL_THREADS;
          }
        });
      }
      if (config.reflection()) {
        builder.addService(ProtoReflectionServiceV1.newInstance());
      }
      Server server = builder.build().start();
      for (ServerServiceDefinition service : services) {
        health.setStatus(service.getServiceDescriptor().getName(), ServingStatus.SERVING);
      }
      health.setStatus("", ServingStatus.SERVING);
      java.util.concurrent.ScheduledExecutorService watcher = healthChecks.isEmpty() ? null
          : watchHealth(name, health, services, List.copyOf(healthChecks));
      MetricsEndpoint metrics =
          config.metricsPort() < 0 ? null
              : MetricsEndpoint.start(config.bindAddress(), config.metricsPort(), registry);
      log.info("{}: serving gRPC on port {}{}", name, server.getPort(),
          metrics == null ? "" : ", metrics on port " + metrics.port());
      return new GrpcServer(name, server, health, config, metrics, watcher);
    }

    private static final long HEALTH_CHECK_MILLIS = 500;
    /** Shared by every server of the process; virtual threads need no shutdown. */
    private static final java.util.concurrent.Executor CALL_THREADS = java.util.concurrent.Executors
        .newThreadPerTaskExecutor(Thread.ofVirtual().name("grpc-call-", 0).factory());

    private static java.util.concurrent.ScheduledExecutorService watchHealth(String name, HealthStatusManager health,
        List<ServerServiceDefinition> services, List<java.util.function.BooleanSupplier> checks) {
      var watcher = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(
          Thread.ofPlatform().name(name + "-health").daemon().factory());
      boolean[] serving = {true};
      watcher.scheduleWithFixedDelay(() -> {
        boolean ok = checks.stream().allMatch(java.util.function.BooleanSupplier::getAsBoolean);
        if (ok == serving[0]) {
          return;
        }
        serving[0] = ok;
        ServingStatus status = ok ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
        log.warn("{}: health {}", name, ok ? "SERVING again" : "NOT_SERVING: a consumer is stalled");
        health.setStatus("", status);
        for (ServerServiceDefinition s : services) {
          health.setStatus(s.getServiceDescriptor().getName(), status);
        }
      }, HEALTH_CHECK_MILLIS, HEALTH_CHECK_MILLIS, java.util.concurrent.TimeUnit.MILLISECONDS);
      return watcher;
    }
  }
}
