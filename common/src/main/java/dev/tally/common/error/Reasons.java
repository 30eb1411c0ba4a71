package dev.tally.common.error;

import io.grpc.Status.Code;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The registry of {@code ErrorInfo.reason} values (and RecordUsage rejection reasons): every reason Tally
 * returns is defined here once, with the status codes it comes with and what it means. Clients branch on
 * these strings, so they never change once published; {@code ErrorReasonService.ListErrorReasons} and
 * docs/errors.md list them, and a test keeps code, registry and docs in step.
 */
public final class Reasons {
  public static final String DOMAIN = "tally.dev";

  /** One reason: its name, the status codes it comes with (none: a RecordUsage rejection) and its meaning. */
  public record Reason(String name, List<Code> codes, String meaning) {}

  private static final Map<String, Reason> ALL = new LinkedHashMap<>();

  private static String define(String name, String meaning, Code... codes) {
    if (ALL.putIfAbsent(name, new Reason(name, List.of(codes), meaning)) != null) {
      throw new IllegalStateException("reason " + name + " defined twice");
    }
    return name;
  }

  // Any call
  public static final String INVALID_ARGUMENT = define("INVALID_ARGUMENT",
      "a request field is wrong; metadata `field` names it", Code.INVALID_ARGUMENT);
  public static final String NOT_FOUND = define("NOT_FOUND",
      "no such resource, or none the caller may see", Code.NOT_FOUND);
  public static final String UNAUTHENTICATED = define("UNAUTHENTICATED",
      "no valid platform token or caller signature", Code.UNAUTHENTICATED);
  public static final String ROLE_FORBIDDEN = define("ROLE_FORBIDDEN",
      "the caller's role (or the platform-only rule) does not allow this", Code.PERMISSION_DENIED);
  public static final String IDEMPOTENCY_KEY_REUSED = define("IDEMPOTENCY_KEY_REUSED",
      "the request_id (or usage event id, or payment reference) was used before with another request",
      Code.ALREADY_EXISTS);
  public static final String DEADLINE_EXCEEDED = define("DEADLINE_EXCEEDED",
      "the call's deadline passed", Code.DEADLINE_EXCEEDED);
  public static final String CANCELLED = define("CANCELLED",
      "the caller cancelled the call; nothing was done", Code.CANCELLED);
  public static final String INTERNAL = define("INTERNAL", "a bug: report it", Code.INTERNAL);
  public static final String DATABASE_UNAVAILABLE = define("DATABASE_UNAVAILABLE",
      "PostgreSQL is unreachable; retry with the same request_id", Code.UNAVAILABLE);
  public static final String KAFKA_UNAVAILABLE = define("KAFKA_UNAVAILABLE",
      "the broker is unreachable; retry with the same ids", Code.UNAVAILABLE);
  public static final String IDENTITY_UNAVAILABLE = define("IDENTITY_UNAVAILABLE",
      "the identity service is unreachable; retry", Code.UNAVAILABLE);
  public static final String TRANSACTION_CONFLICT = define("TRANSACTION_CONFLICT",
      "a concurrent change won; retry with the same request_id", Code.ABORTED);
  public static final String AUTH_THROTTLED = define("AUTH_THROTTLED",
      "too many bad credentials from this address; wait (RetryInfo)", Code.RESOURCE_EXHAUSTED);
  public static final String TOTAL_TOO_LARGE = define("TOTAL_TOO_LARGE",
      "a total does not fit the contract's int64; ask for a shorter range", Code.OUT_OF_RANGE);

  // Admission and the wallet
  public static final String SPENDING_LIMIT_REACHED = define("SPENDING_LIMIT_REACHED",
      "the team's spending limit of the period would be exceeded; metadata names it, RetryInfo until it resets",
      Code.RESOURCE_EXHAUSTED);
  public static final String QUOTA_EXCEEDED = define("QUOTA_EXCEEDED",
      "a member's or key's quota (its own or the team default) would be exceeded; metadata names it",
      Code.RESOURCE_EXHAUSTED);
  public static final String INSUFFICIENT_BALANCE = define("INSUFFICIENT_BALANCE",
      "the available balance does not cover the estimate; deposit", Code.FAILED_PRECONDITION);
  public static final String WALLET_SUSPENDED = define("WALLET_SUSPENDED",
      "the available balance is at or below the suspension threshold; deposit to resume",
      Code.FAILED_PRECONDITION);
  public static final String WALLET_CLOSED = define("WALLET_CLOSED",
      "the wallet's team was deleted: nothing may be reserved, spent or deposited", Code.FAILED_PRECONDITION);
  /** More admission calls wait than the wallet service decides in time: retry after the RetryInfo delay. */
  public static final String ADMISSION_OVERLOADED = define("ADMISSION_OVERLOADED",
      "more Admits wait than the wallet decides in time; retry after the RetryInfo delay", Code.UNAVAILABLE);
  /** Internal to admission: a gateway's lease would take more than half of what is left; reserve per call. */
  public static final String LEASE_NOT_GRANTED = define("LEASE_NOT_GRANTED",
      "too little is left under a limit or the balance to lease it to a gateway; each request is reserved alone",
      Code.FAILED_PRECONDITION);
  /** ExtendHold on a hold admitted from a gateway's lease that is not written to the wallet yet (milliseconds). */
  public static final String HOLD_NOT_WRITTEN = define("HOLD_NOT_WRITTEN",
      "the hold was admitted by a gateway and is being written; retry after the RetryInfo delay", Code.UNAVAILABLE);
  public static final String HOLD_NOT_PENDING = define("HOLD_NOT_PENDING",
      "the hold was already settled, released or expired", Code.FAILED_PRECONDITION);
  public static final String BALANCE_LIMIT_EXCEEDED = define("BALANCE_LIMIT_EXCEEDED",
      "the wallet's balance would leave the supported range", Code.FAILED_PRECONDITION);
  public static final String AUTO_REFILL_OFF = define("AUTO_REFILL_OFF",
      "auto-refill is off for the wallet", Code.FAILED_PRECONDITION);
  public static final String REQUEST_NOT_PENDING = define("REQUEST_NOT_PENDING",
      "the limit-increase request was already decided", Code.FAILED_PRECONDITION);

  // Keys
  public static final String KEY_INVALID = define("KEY_INVALID", "no key has this secret", Code.UNAUTHENTICATED);
  public static final String KEY_REVOKED = define("KEY_REVOKED",
      "the key was revoked (or its owner left the team)", Code.PERMISSION_DENIED, Code.FAILED_PRECONDITION);
  public static final String KEY_EXPIRED = define("KEY_EXPIRED", "the key has expired",
      Code.PERMISSION_DENIED, Code.FAILED_PRECONDITION);
  public static final String KEY_ARCHIVED = define("KEY_ARCHIVED",
      "a personal key archived while its owner belongs to a team", Code.PERMISSION_DENIED);
  public static final String KEY_LIMIT_REACHED = define("KEY_LIMIT_REACHED",
      "the owner has as many live keys as the deployment allows", Code.FAILED_PRECONDITION);
  public static final String PERSONAL_KEYS_ARCHIVED = define("PERSONAL_KEYS_ARCHIVED",
      "personal keys are archived while the caller belongs to a team", Code.FAILED_PRECONDITION);
  public static final String METER_NOT_ALLOWED = define("METER_NOT_ALLOWED",
      "the key is restricted to other meters; metadata `allowed` lists them", Code.PERMISSION_DENIED);
  public static final String MODEL_NOT_ALLOWED = define("MODEL_NOT_ALLOWED",
      "the key is restricted to other models; metadata `allowed` lists them", Code.PERMISSION_DENIED);

  // Teams, members, roles, invitations
  public static final String NOT_A_MEMBER = define("NOT_A_MEMBER",
      "the caller does not belong to the team", Code.PERMISSION_DENIED);
  public static final String OWNER_CANNOT_LEAVE = define("OWNER_CANNOT_LEAVE",
      "the Owner transfers ownership or deletes the team instead", Code.FAILED_PRECONDITION);
  public static final String OWNER_CANNOT_BE_REMOVED = define("OWNER_CANNOT_BE_REMOVED",
      "the Owner is never removed", Code.FAILED_PRECONDITION);
  public static final String OWNER_ROLE_FIXED = define("OWNER_ROLE_FIXED",
      "the Owner's role changes only by TransferOwnership", Code.FAILED_PRECONDITION);
  public static final String USE_LEAVE_TEAM = define("USE_LEAVE_TEAM",
      "removing oneself is LeaveTeam", Code.FAILED_PRECONDITION);
  public static final String TEAM_LIMIT_REACHED = define("TEAM_LIMIT_REACHED",
      "the user owns as many teams as the deployment allows", Code.FAILED_PRECONDITION);
  public static final String ROLE_EXISTS = define("ROLE_EXISTS", "a role with this id exists", Code.ALREADY_EXISTS);
  public static final String ROLE_IN_USE = define("ROLE_IN_USE",
      "members still hold the role", Code.FAILED_PRECONDITION);
  public static final String ALREADY_A_MEMBER = define("ALREADY_A_MEMBER",
      "the user already belongs to the team", Code.ALREADY_EXISTS);
  public static final String EMAIL_TAKEN = define("EMAIL_TAKEN",
      "another user has this email", Code.ALREADY_EXISTS);
  public static final String INVITATION_INVALID = define("INVITATION_INVALID",
      "no invitation has this token", Code.NOT_FOUND);
  public static final String INVITATION_NOT_PENDING = define("INVITATION_NOT_PENDING",
      "the invitation was already accepted, declined or revoked", Code.FAILED_PRECONDITION);
  public static final String INVITATION_EXPIRED = define("INVITATION_EXPIRED",
      "the invitation expired", Code.FAILED_PRECONDITION);
  public static final String INVITATION_PENDING = define("INVITATION_PENDING",
      "an invitation for this email is already pending", Code.ALREADY_EXISTS);
  public static final String INVITATION_THROTTLED = define("INVITATION_THROTTLED",
      "too many wrong invitation tokens; wait (RetryInfo)", Code.RESOURCE_EXHAUSTED);
  public static final String EMAIL_MISMATCH = define("EMAIL_MISMATCH",
      "the invitation is for another email", Code.PERMISSION_DENIED);

  // Metering (and RecordUsage's per-record rejections)
  public static final String UNKNOWN_METER = define("UNKNOWN_METER",
      "no such meter (ListMeters); Admit and SetPrice answer NOT_FOUND, RecordUsage rejects the record",
      Code.NOT_FOUND);
  public static final String UNKNOWN_KEY = define("UNKNOWN_KEY", "RecordUsage: no such key");
  public static final String UNKNOWN_HOLD = define("UNKNOWN_HOLD", "RecordUsage: the hold is not the key's wallet's");
  public static final String NEGATIVE_QUANTITY = define("NEGATIVE_QUANTITY", "RecordUsage: quantity below 0");
  public static final String QUANTITY_TOO_LARGE = define("QUANTITY_TOO_LARGE",
      "RecordUsage: quantity above the largest accepted");
  public static final String COST_TOO_LARGE = define("COST_TOO_LARGE",
      "RecordUsage: one record would cost more than $1,000,000");
  public static final String NO_PRICE = define("NO_PRICE",
      "the meter (and model) has no price at occurred_at (RecordUsage rejects the record)", Code.FAILED_PRECONDITION);
  public static final String OCCURRED_IN_FUTURE = define("OCCURRED_IN_FUTURE",
      "RecordUsage: occurred_at is later than the allowed clock skew");
  public static final String OCCURRED_TOO_LONG_AGO = define("OCCURRED_TOO_LONG_AGO",
      "RecordUsage: occurred_at is older than the accepted age");

  public static final String CORRECTION_WINDOW_CLOSED = define("CORRECTION_WINDOW_CLOSED",
      "usage can be corrected within 30 days of its recording", Code.FAILED_PRECONDITION);
  public static final String NOT_CORRECTABLE = define("NOT_CORRECTABLE",
      "correct the original event (with its own key); events recorded before corrections existed cannot be",
      Code.FAILED_PRECONDITION);

  private Reasons() {}

  /** Every reason of the contract, in definition order. */
  public static Map<String, Reason> all() {
    return Collections.unmodifiableMap(ALL);
  }

  /** The ErrorInfo reason carried by a failed call, or {@code fallback} when it carries none. */
  public static String of(io.grpc.StatusRuntimeException e, String fallback) {
    return of(io.grpc.protobuf.StatusProto.fromThrowable(e), fallback);
  }

  /** The same for a call's final status and trailers, as a server interceptor sees them. */
  public static String of(io.grpc.Status status, io.grpc.Metadata trailers, String fallback) {
    return of(io.grpc.protobuf.StatusProto.fromStatusAndTrailers(status, trailers), fallback);
  }

  private static String of(com.google.rpc.Status s, String fallback) {
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
