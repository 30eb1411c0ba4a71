package dev.tally.common.grpc;

import build.buf.protovalidate.ValidationResult;
import build.buf.protovalidate.Validator;
import build.buf.protovalidate.ValidatorFactory;
import build.buf.protovalidate.exceptions.ValidationException;
import build.buf.validate.FieldPath;
import build.buf.validate.FieldPathElement;
import com.google.protobuf.Message;
import dev.tally.common.error.Reasons;
import dev.tally.common.error.TallyException;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Enforces the {@link InputGuard} rules and the protovalidate rules declared in the contracts on every
 * request message before a handler sees it. A violation fails the call with {@code INVALID_ARGUMENT}, a {@code BadRequest} naming each field
 * and reason {@code INVALID_ARGUMENT}. Must sit inside {@link ErrorMappingInterceptor}.
 */
public final class ValidationInterceptor implements ServerInterceptor {
  private final Validator validator = ValidatorFactory.newBuilder().build();

  @Override
  public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
      ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
    ServerCall.Listener<ReqT> delegate = next.startCall(call, headers);
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(delegate) {
      @Override
      public void onMessage(ReqT message) {
        if (message instanceof Message m) {
          validate(m);
        }
        super.onMessage(message);
      }
    };
  }

  /** Throws {@link TallyException} listing every violated field of {@code message}. */
  public void validate(Message message) {
    List<TallyException.FieldViolation> identifiers = InputGuard.checkStorage(message);
    ValidationResult result;
    try {
      result = validator.validate(message);
    } catch (ValidationException e) {
      throw new IllegalStateException("validation rules of " + message.getDescriptorForType().getFullName()
          + " cannot be evaluated: " + e.getMessage(), e);
    }
    if (result.isSuccess() && identifiers.isEmpty()) {
      return;
    }
    List<TallyException.FieldViolation> violations = new ArrayList<>();
    for (var violation : result.getViolations()) {
      build.buf.validate.Violation proto = violation.toProto();
      violations.add(new TallyException.FieldViolation(path(proto.getField()), proto.getMessage()));
    }
    violations.addAll(identifiers);
    TallyException.FieldViolation first = violations.getFirst();
    throw new TallyException(
        Status.Code.INVALID_ARGUMENT,
        Reasons.INVALID_ARGUMENT,
        first.field() + ": " + first.description(),
        Map.of("field", first.field()),
        violations);
  }

  static String path(FieldPath path) {
    StringBuilder sb = new StringBuilder();
    for (FieldPathElement e : path.getElementsList()) {
      if (!sb.isEmpty()) {
        sb.append('.');
      }
      sb.append(e.getFieldName());
      switch (e.getSubscriptCase()) {
        case INDEX -> sb.append('[').append(e.getIndex()).append(']');
        case STRING_KEY -> sb.append("[\"").append(e.getStringKey()).append("\"]");
        case INT_KEY -> sb.append('[').append(e.getIntKey()).append(']');
        case UINT_KEY -> sb.append('[').append(e.getUintKey()).append(']');
        case BOOL_KEY -> sb.append('[').append(e.getBoolKey()).append(']');
        default -> {}
      }
    }
    return sb.isEmpty() ? "(message)" : sb.toString();
  }
}
