package dev.tally.common.error;

import com.google.protobuf.Any;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
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

  private ErrorMapper() {}

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
              status.getCode() == Status.Code.DEADLINE_EXCEEDED ? Reasons.DEADLINE_EXCEEDED : "CANCELLED",
              "the call was cancelled or its deadline passed before it finished"));
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
            .putAllMetadata(e.metadata())
            .build();
    com.google.rpc.Status.Builder status =
        com.google.rpc.Status.newBuilder()
            .setCode(e.code().value())
            .setMessage(e.getMessage() == null ? e.reason() : e.getMessage())
            .addDetails(Any.pack(info));
    if (!e.fieldViolations().isEmpty()) {
      BadRequest.Builder bad = BadRequest.newBuilder();
      for (TallyException.FieldViolation v : e.fieldViolations()) {
        bad.addFieldViolations(
            BadRequest.FieldViolation.newBuilder().setField(v.field()).setDescription(v.description()));
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
