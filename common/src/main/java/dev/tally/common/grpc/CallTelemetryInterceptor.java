package dev.tally.common.grpc;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Outermost interceptor: gives each call a request id (returned in the trailers, which every call ends
 * with, success or failure; in the gRPC context and in the logging MDC), records
 * {@code tally.grpc.server.calls} (count and latency histogram by method, status and error reason: every
 * call) and writes the access log: every failed or slow call, and
 * one successful call in {@link #OK_SAMPLE} at INFO, the others at DEBUG ({@code TALLY_ACCESS_LOG_LEVEL=DEBUG}
 * logs them all). A line per Admit at thousands a second cost a fifth of the gateway's work on it and
 * says nothing the RPC timer does not.
 */
public final class CallTelemetryInterceptor implements ServerInterceptor {
  private static final Logger log = LoggerFactory.getLogger("tally.access");
  /** One successful call in this many is logged at INFO. */
  static final int OK_SAMPLE = 100;
  /** A call at least this slow is logged whatever its status. */
  static final long SLOW_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(1);

  /** The timer of one (method, status, reason): registered once, not looked up by a new builder per call. */
  private record TimerKey(String method, Status.Code status, String reason) {}

  private final java.util.concurrent.ConcurrentHashMap<TimerKey, Timer> timers =
      new java.util.concurrent.ConcurrentHashMap<>();

  private final MeterRegistry registry;
  private final String service;

  /** {@code service} names the process's service in every log line of its calls (several share the stack's JVM). */
  public CallTelemetryInterceptor(MeterRegistry registry, String service) {
    this.registry = registry;
    this.service = service;
  }

  @Override
  public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
      ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
    String requestId = RequestIds.fromHeaders(headers);
    String method = call.getMethodDescriptor().getFullMethodName();
    long startNanos = System.nanoTime();
    ServerCall<ReqT, RespT> observed =
        new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
          // Not also in the response headers: a random value per call is a literal header for HPACK to encode,
          // index and evict on both ends, twice per call, for what the trailers already carry.
          @Override
          public void close(Status status, Metadata trailers) {
            long elapsed = System.nanoTime() - startNanos;
            timer(method, status.getCode(), reasonOf(status, trailers))
                .record(elapsed, java.util.concurrent.TimeUnit.NANOSECONDS);
            // Once: a forwarded call's trailers already carry the upstream service's copy of the same id.
            trailers.discardAll(RequestIds.HEADER);
            trailers.put(RequestIds.HEADER, requestId);
            logCompletion(requestId, method, status, elapsed);
            super.close(status, trailers);
          }
        };
    Context context = Context.current().withValue(RequestIds.CONTEXT, requestId);
    ServerCall.Listener<ReqT> delegate = Contexts.interceptCall(context, observed, headers, next);
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(delegate) {
      @Override
      public void onMessage(ReqT message) {
        withMdc(requestId, () -> super.onMessage(message));
      }

      @Override
      public void onHalfClose() {
        withMdc(requestId, super::onHalfClose);
      }

      @Override
      public void onCancel() {
        withMdc(requestId, super::onCancel);
      }

      @Override
      public void onComplete() {
        withMdc(requestId, super::onComplete);
      }

      @Override
      public void onReady() {
        withMdc(requestId, super::onReady);
      }
    };
  }

  /**
   * The ErrorInfo reason of a failed call (one of the registry's, so the tag stays a small set), "none" for
   * a success or a status without one.
   */
  static String reasonOf(Status status, Metadata trailers) {
    return status.isOk() ? "none" : dev.tally.common.error.Reasons.of(status, trailers, "none");
  }

  private Timer timer(String method, Status.Code status, String reason) {
    return timers.computeIfAbsent(new TimerKey(method, status, reason), k -> Timer.builder("tally.grpc.server.calls")
        .description("gRPC calls served, by method, final status and error reason")
        .tag("method", k.method())
        .tag("status", k.status().name())
        .tag("reason", k.reason())
        .publishPercentileHistogram()
        .register(registry));
  }

  private void withMdc(String requestId, Runnable r) {
    String previous = MDC.get("request_id");
    String previousService = MDC.get("service");
    MDC.put("request_id", requestId);
    MDC.put("service", service);
    try {
      r.run();
    } finally {
      restore("request_id", previous);
      restore("service", previousService);
    }
  }

  private static void restore(String key, String value) {
    if (value == null) {
      MDC.remove(key);
    } else {
      MDC.put(key, value);
    }
  }

  private void logCompletion(String requestId, String method, Status status, long elapsedNanos) {
    org.slf4j.event.Level level = logsAtInfo(status, elapsedNanos,
        java.util.concurrent.ThreadLocalRandom.current().nextInt(OK_SAMPLE)) ? org.slf4j.event.Level.INFO
        : org.slf4j.event.Level.DEBUG;
    if (!log.isEnabledForLevel(level)) {
      return;
    }
    // The description is ours (never a secret or a stack trace), so it is safe to log.
    withMdc(requestId, () -> log.atLevel(level).log("{} {} {}ms{}", method, status.getCode(),
        elapsedNanos / 1_000_000, status.isOk() || status.getDescription() == null ? "" : " " + status.getDescription()));
  }

  /** Failed and slow calls always; a successful one when its draw (0 ≤ draw < OK_SAMPLE) is 0. */
  static boolean logsAtInfo(Status status, long elapsedNanos, int draw) {
    return !status.isOk() || elapsedNanos >= SLOW_NANOS || draw == 0;
  }
}
