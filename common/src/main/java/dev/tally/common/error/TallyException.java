package dev.tally.common.error;

import io.grpc.Status;
import java.util.List;
import java.util.Map;

/**
 * A domain failure with the gRPC status and the machine-readable reason clients branch on
 * ({@code ErrorInfo.reason}). Thrown by managers; mapped to {@code google.rpc.Status} by one interceptor.
 */
public class TallyException extends RuntimeException {
  private final Status.Code code;
  private final String reason;
  private final Map<String, String> metadata;
  private final List<FieldViolation> fieldViolations;
  private final java.time.Duration retryAfter;

  /** One bad request field, named by its path ({@code team.display_name}). */
  public record FieldViolation(String field, String description) {}

  public TallyException(Status.Code code, String reason, String message) {
    this(code, reason, message, Map.of(), List.of());
  }

  public TallyException(
      Status.Code code,
      String reason,
      String message,
      Map<String, String> metadata,
      List<FieldViolation> fieldViolations) {
    this(code, reason, message, metadata, fieldViolations, null);
  }

  private TallyException(Status.Code code, String reason, String message, Map<String, String> metadata,
      List<FieldViolation> fieldViolations, java.time.Duration retryAfter) {
    super(message, null, false, false); // no stack trace: these are expected outcomes, not bugs
    this.code = code;
    this.reason = reason;
    this.metadata = Map.copyOf(metadata);
    this.fieldViolations = List.copyOf(fieldViolations);
    this.retryAfter = retryAfter;
  }

  /** The same failure telling the client when a retry may succeed ({@code google.rpc.RetryInfo}). */
  public TallyException withRetryAfter(java.time.Duration delay) {
    return new TallyException(code, reason, getMessage(), metadata, fieldViolations, delay);
  }

  /** When a retry may succeed; {@code null} when the failure says nothing about it. */
  public java.time.Duration retryAfter() {
    return retryAfter;
  }

  public static TallyException invalidArgument(String field, String description) {
    return new TallyException(
        Status.Code.INVALID_ARGUMENT,
        Reasons.INVALID_ARGUMENT,
        field + ": " + description,
        Map.of("field", field),
        List.of(new FieldViolation(field, description)));
  }

  public static TallyException notFound(String reason, String message) {
    return new TallyException(Status.Code.NOT_FOUND, reason, message);
  }

  public static TallyException permissionDenied(String reason, String message) {
    return new TallyException(Status.Code.PERMISSION_DENIED, reason, message);
  }

  public static TallyException failedPrecondition(String reason, String message) {
    return new TallyException(Status.Code.FAILED_PRECONDITION, reason, message);
  }

  public static TallyException resourceExhausted(String reason, String message) {
    return new TallyException(Status.Code.RESOURCE_EXHAUSTED, reason, message);
  }

  public static TallyException alreadyExists(String reason, String message) {
    return new TallyException(Status.Code.ALREADY_EXISTS, reason, message);
  }

  public static TallyException unauthenticated(String reason, String message) {
    return new TallyException(Status.Code.UNAUTHENTICATED, reason, message);
  }

  public Status.Code code() {
    return code;
  }

  public String reason() {
    return reason;
  }

  public Map<String, String> metadata() {
    return metadata;
  }

  public List<FieldViolation> fieldViolations() {
    return fieldViolations;
  }
}
