package dev.tally.cli;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.ErrorInfo;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.io.PrintWriter;

/** One-line errors carrying the reason, and exit codes by kind of failure. */
final class Errors {
  static final int INVALID = 2;

  private Errors() {}

  /** Exit code of a status: 2 bad input, 3 unauthenticated, 4 denied, 5 not found, 6 exists, 7 precondition,
   * 8 limit or quota (the 429 case), 9 unavailable or timed out, 1 anything else. */
  static int exitCode(io.grpc.Status.Code code) {
    return switch (code) {
      case INVALID_ARGUMENT, OUT_OF_RANGE -> 2;
      case UNAUTHENTICATED -> 3;
      case PERMISSION_DENIED -> 4;
      case NOT_FOUND -> 5;
      case ALREADY_EXISTS -> 6;
      case FAILED_PRECONDITION -> 7;
      case RESOURCE_EXHAUSTED -> 8;
      case UNAVAILABLE, DEADLINE_EXCEEDED -> 9;
      default -> 1;
    };
  }

  static String reason(StatusRuntimeException e) {
    com.google.rpc.Status s = StatusProto.fromThrowable(e);
    if (s != null) {
      for (var any : s.getDetailsList()) {
        if (any.is(ErrorInfo.class)) {
          try {
            return any.unpack(ErrorInfo.class).getReason();
          } catch (InvalidProtocolBufferException ignored) {
            break;
          }
        }
      }
    }
    return "";
  }

  /** What to try, for the failures a person can fix on the spot; null otherwise. */
  static String hint(StatusRuntimeException e, String gateway) {
    return switch (e.getStatus().getCode()) {
      case UNAVAILABLE -> reason(e).isEmpty() ? "no gateway answers at " + gateway
          + ": is ./bin/tally-stack running? (else set TALLY_GATEWAY or --gateway)" : null;
      case UNAUTHENTICATED -> "send the platform token (TALLY_PLATFORM_TOKEN or --token) or an API key (--api-key)";
      default -> null;
    };
  }

  /**
   * Prints the failure: a line on stderr, or with --json the same shape as a success on stdout
   * ({@code {"error": {"code", "reason", "message", "hint"}}}); returns the exit code.
   */
  static int report(StatusRuntimeException e, PrintWriter err, PrintWriter out, boolean json, String gateway) {
    String code = e.getStatus().getCode().name();
    String reason = reason(e);
    String message = e.getStatus().getDescription() == null ? "" : e.getStatus().getDescription();
    String hint = hint(e, gateway);
    if (json) {
      out.println("{\"error\": {\"code\": \"" + code + "\", \"reason\": \"" + reason + "\", \"message\": \""
          + escape(message) + "\"" + (hint == null ? "" : ", \"hint\": \"" + escape(hint) + "\"") + "}}");
      out.flush();
    } else {
      err.println("error: " + code + (reason.isEmpty() || reason.equals(code) ? "" : " " + reason) + ": " + message);
      if (hint != null) {
        err.println("hint: " + hint);
      }
      err.flush();
    }
    return exitCode(e.getStatus().getCode());
  }

  private static String escape(String s) {
    return s.replace("\\", "\\\\").replace("\"", "\\\"");
  }
}
