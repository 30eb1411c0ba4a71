package dev.tally.common.admission;

import dev.tally.common.error.Reasons;
import dev.tally.common.error.TallyException;
import io.grpc.Context;
import io.grpc.Status;
import java.time.Duration;

/**
 * What a queue of reservations answers besides a decision, the same in the gateway's dispatcher and the
 * wallet's batcher: shed when full, and nothing reserved for a caller who gave up before its turn.
 */
public final class AdmissionQueue {
  private static final Duration RETRY_AFTER = Duration.ofMillis(50);

  private AdmissionQueue() {}

  /** Too many calls wait already: retry shortly rather than join a queue whose tail would time out. */
  public static TallyException overloaded() {
    return new TallyException(Status.Code.UNAVAILABLE, Reasons.ADMISSION_OVERLOADED,
        "more admission calls are waiting than can be decided in time; retry shortly").withRetryAfter(RETRY_AFTER);
  }

  /** {@code late}: the caller's deadline passed (else it cancelled). */
  public static TallyException abandoned(boolean late) {
    return late
        ? new TallyException(Status.Code.DEADLINE_EXCEEDED, Reasons.DEADLINE_EXCEEDED,
            "the call's deadline passed before its turn; nothing was reserved")
        : new TallyException(Status.Code.CANCELLED, Reasons.CANCELLED, "the call was cancelled; nothing was reserved");
  }

  /** Whether a cancelled context ended by its deadline rather than by its caller's cancel. */
  public static boolean late(Context cancelled) {
    Throwable cause = cancelled.cancellationCause();
    return cause != null && Status.fromThrowable(cause).getCode() == Status.Code.DEADLINE_EXCEEDED;
  }
}
