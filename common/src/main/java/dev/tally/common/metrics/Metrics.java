package dev.tally.common.metrics;

import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

/** The meter registry of one service process, with JVM metrics bound and a {@code service} common tag. */
public final class Metrics {
  private Metrics() {}

  public static PrometheusMeterRegistry newRegistry(String service) {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    registry.config().commonTags("service", service);
    new JvmMemoryMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    @SuppressWarnings("resource") // lives as long as the registry
    JvmGcMetrics gc = new JvmGcMetrics();
    gc.bindTo(registry);
    return registry;
  }
}
