package dev.tally.common.admission;

import dev.tally.common.error.Reasons;
import dev.tally.common.error.TallyException;
import io.grpc.Context;
import io.grpc.Status;

/** The answer to a reservation whose caller gave up before its turn: nothing was reserved, and why. */
public final class Abandoned {
  private Abandoned() {}

  /** {@code late}: the caller's deadline passed (else it cancelled). */
  public static TallyException of(boolean late) {
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
