package dev.tally.common.error;

/**
 * The {@code ErrorInfo.reason} values of the contract. Clients branch on these strings, so
 * they never change once published.
 */
public final class Reasons {
  public static final String DOMAIN = "tally.dev";

  public static final String INVALID_ARGUMENT = "INVALID_ARGUMENT";
  public static final String INTERNAL = "INTERNAL";
  public static final String DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED";
  public static final String UNAUTHENTICATED = "UNAUTHENTICATED";
  public static final String IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED";
  public static final String NOT_FOUND = "NOT_FOUND";

  public static final String SPENDING_LIMIT_REACHED = "SPENDING_LIMIT_REACHED";
  public static final String QUOTA_EXCEEDED = "QUOTA_EXCEEDED";
  public static final String INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE";
  /** More admission calls wait than the wallet service decides in time: retry after the RetryInfo delay. */
  public static final String ADMISSION_OVERLOADED = "ADMISSION_OVERLOADED";
  public static final String WALLET_SUSPENDED = "WALLET_SUSPENDED";
  public static final String KEY_REVOKED = "KEY_REVOKED";
  public static final String KEY_EXPIRED = "KEY_EXPIRED";
  public static final String KEY_INVALID = "KEY_INVALID";
  public static final String NOT_A_MEMBER = "NOT_A_MEMBER";
  public static final String ROLE_FORBIDDEN = "ROLE_FORBIDDEN";
  public static final String OWNER_CANNOT_LEAVE = "OWNER_CANNOT_LEAVE";
  public static final String TEAM_LIMIT_REACHED = "TEAM_LIMIT_REACHED";
  public static final String INVITATION_EXPIRED = "INVITATION_EXPIRED";

  private Reasons() {}

  /** The ErrorInfo reason carried by a failed call, or {@code fallback} when it carries none. */
  public static String of(io.grpc.StatusRuntimeException e, String fallback) {
    com.google.rpc.Status s = io.grpc.protobuf.StatusProto.fromThrowable(e);
    if (s == null) {
      return fallback;
    }
    for (com.google.protobuf.Any any : s.getDetailsList()) {
      if (any.is(com.google.rpc.ErrorInfo.class)) {
        try {
          return any.unpack(com.google.rpc.ErrorInfo.class).getReason();
        } catch (com.google.protobuf.InvalidProtocolBufferException ignored) {
          return fallback;
        }
      }
    }
    return fallback;
  }
}
