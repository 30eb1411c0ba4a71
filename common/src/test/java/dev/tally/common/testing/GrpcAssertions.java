package dev.tally.common.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tally.common.error.Reasons;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.function.Executable;

/** Assertions on failed gRPC calls: the status code and the ErrorInfo reason clients branch on. */
public final class GrpcAssertions {
  private GrpcAssertions() {}

  /** Asserts the call fails with {@code code} and {@code reason}; returns the exception. */
  public static StatusRuntimeException assertFails(Status.Code code, String reason, Executable call) {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call);
    assertEquals(code, e.getStatus().getCode(), e.getStatus().toString());
    assertEquals(reason, reason(e), e.getStatus().toString());
    return e;
  }

  /** The ErrorInfo of a failed call (its reason and metadata); fails when it carries none. */
  public static com.google.rpc.ErrorInfo errorInfo(StatusRuntimeException e) {
    try {
      return io.grpc.protobuf.StatusProto.fromThrowable(e).getDetailsList().stream()
          .filter(d -> d.is(com.google.rpc.ErrorInfo.class)).findFirst()
          .orElseThrow(() -> new AssertionError("no ErrorInfo in " + e.getStatus()))
          .unpack(com.google.rpc.ErrorInfo.class);
    } catch (com.google.protobuf.InvalidProtocolBufferException bad) {
      throw new AssertionError(bad);
    }
  }

  /** The ErrorInfo reason of a failed call, or "" when it carries none. */
  public static String reason(StatusRuntimeException e) {
    return Reasons.of(e, "");
  }
}
