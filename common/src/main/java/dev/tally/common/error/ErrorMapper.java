package dev.tally.common.error;

import com.google.protobuf.Any;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.Optional;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns any throwable into the status a client may see: domain failures keep their code and reason as
 * {@code google.rpc.Status} with {@code ErrorInfo} (and {@code BadRequest} for fields); anything unexpected
 * becomes {@code INTERNAL} with an error id, logged here with its stack trace and never sent to the client.
 */
public final class ErrorMapper {
  private static final Logger log = LoggerFactory.getLogger(ErrorMapper.class);

  /**
   * Bounds on what an error echoes back: a field path or value can be as long as the request, and a status
   * larger than the client's header limit reaches it as an http2 error instead of the reason.
   */
  static final int MAX_MESSAGE_CHARS = 512;
  static final int MAX_FIELD_CHARS = 200;
  private static final int MAX_VIOLATIONS = 20;

  private ErrorMapper() {}

  /** {@code s} cut to at most {@code max} characters, marked as cut. */
  public static String clip(String s, int max) {
    if (s.length() <= max) {
      return s;
    }
    int end = max - 1;
    if (Character.isHighSurrogate(s.charAt(end - 1))) {
      end--;
    }
    return s.substring(0, end) + "…";
  }

  private static java.util.Map<String, String> bounded(java.util.Map<String, String> metadata) {
    java.util.Map<String, String> out = new java.util.LinkedHashMap<>();
    metadata.forEach((k, v) -> out.put(clip(k, MAX_FIELD_CHARS), clip(v, MAX_FIELD_CHARS)));
    return out;
  }

  public static StatusRuntimeException toStatusRuntimeException(Throwable t) {
    Throwable cause = unwrap(t);
    if (cause instanceof TallyException te) {
      return fromDomain(te);
    }
    if (cause instanceof StatusRuntimeException sre) {
      return sre;
    }
    if (cause instanceof StatusException se) {
      return new StatusRuntimeException(se.getStatus(), se.getTrailers());
    }
    if (Context.current().isCancelled()) {
      Status status = Status.fromThrowable(Context.current().cancellationCause());
      if (status.getCode() == Status.Code.UNKNOWN) {
        status = Status.CANCELLED;
      }
      return fromDomain(
          new TallyException(
              status.getCode(),
              status.getCode() == Status.Code.DEADLINE_EXCEEDED ? Reasons.DEADLINE_EXCEEDED : Reasons.CANCELLED,
              "the call was cancelled or its deadline passed before it finished"));
    }
    Optional<Failures.Transient> outage = Failures.transientKind(cause);
    if (outage.isPresent()) {
      log.warn("transient failure answered {}: {}", outage.get().reason(), cause.toString());
      return fromDomain(outage.get() == Failures.Transient.CONFLICT
          ? new TallyException(Status.Code.ABORTED, outage.get().reason(),
              "the call lost a race with a concurrent change; nothing was changed, retry with the same request id")
          : new TallyException(Status.Code.UNAVAILABLE, outage.get().reason(),
              (outage.get() == Failures.Transient.KAFKA ? "Kafka" : "the database")
                  + " is unavailable; nothing was changed, retry with the same request id"));
    }
    String errorId = UUID.randomUUID().toString();
    log.error("unexpected failure, error id {}", errorId, cause);
    return fromDomain(
        new TallyException(Status.Code.INTERNAL, Reasons.INTERNAL, "internal error (error id " + errorId + ")"));
  }

  public static StatusRuntimeException fromDomain(TallyException e) {
    ErrorInfo info =
        ErrorInfo.newBuilder()
            .setDomain(Reasons.DOMAIN)
            .setReason(e.reason())
            .putAllMetadata(bounded(e.metadata()))
            .build();
    com.google.rpc.Status.Builder status =
        com.google.rpc.Status.newBuilder()
            .setCode(e.code().value())
            .setMessage(clip(e.getMessage() == null ? e.reason() : e.getMessage(), MAX_MESSAGE_CHARS))
            .addDetails(Any.pack(info));
    if (e.retryAfter() != null) {
      status.addDetails(Any.pack(com.google.rpc.RetryInfo.newBuilder().setRetryDelay(com.google.protobuf.Duration
          .newBuilder().setSeconds(e.retryAfter().getSeconds()).setNanos(e.retryAfter().getNano())).build()));
    }
    if (!e.fieldViolations().isEmpty()) {
      BadRequest.Builder bad = BadRequest.newBuilder();
      for (TallyException.FieldViolation v : e.fieldViolations().subList(0,
          Math.min(MAX_VIOLATIONS, e.fieldViolations().size()))) {
        bad.addFieldViolations(
            BadRequest.FieldViolation.newBuilder().setField(clip(v.field(), MAX_FIELD_CHARS))
                .setDescription(clip(v.description(), MAX_MESSAGE_CHARS)));
      }
      status.addDetails(Any.pack(bad.build()));
    }
    return StatusProto.toStatusRuntimeException(status.build());
  }

  private static Throwable unwrap(Throwable t) {
    Throwable current = t;
    while ((current instanceof java.util.concurrent.CompletionException
            || current instanceof java.util.concurrent.ExecutionException
            || current instanceof java.lang.reflect.UndeclaredThrowableException)
        && current.getCause() != null) {
      current = current.getCause();
    }
    // jOOQ wraps exceptions thrown inside transactions in DataAccessException.
    Throwable c = current;
    while (c != null) {
      if (c instanceof TallyException) {
        return c;
      }
      c = c.getCause();
    }
    return current;
  }
}
