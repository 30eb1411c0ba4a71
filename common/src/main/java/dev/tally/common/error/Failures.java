package dev.tally.common.error;

import java.net.ConnectException;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.util.Optional;

/**
 * Tells an outage from a bad input: the one place that decides whether a failure is worth retrying as it
 * is (the database or the broker is down, a transaction lost a race) or will fail the same way every time
 * (the data itself is wrong). Used by the error mapping of calls and by the consumers' poison isolation.
 */
public final class Failures {
  public static final String DATABASE_UNAVAILABLE = Reasons.DATABASE_UNAVAILABLE;
  public static final String KAFKA_UNAVAILABLE = Reasons.KAFKA_UNAVAILABLE;
  public static final String TRANSACTION_CONFLICT = Reasons.TRANSACTION_CONFLICT;
  private static final String LOCK_NOT_AVAILABLE = "55P03"; // lock_timeout, NOWAIT
  private static final String DEADLOCK = "40P01";

  /** What kind of transient failure a throwable is. */
  public enum Transient {
    DATABASE(DATABASE_UNAVAILABLE),
    KAFKA(KAFKA_UNAVAILABLE),
    CONFLICT(TRANSACTION_CONFLICT);

    private final String reason;

    Transient(String reason) {
      this.reason = reason;
    }

    public String reason() {
      return reason;
    }
  }

  private Failures() {}

  /** The transient kind of {@code t} (looking through its causes), or empty when it is not transient. */
  public static Optional<Transient> transientKind(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
      if (c instanceof TallyException te) {
        return switch (te.code()) {
          case UNAVAILABLE -> Optional.of(KAFKA_UNAVAILABLE.equals(te.reason()) ? Transient.KAFKA : Transient.DATABASE);
          case ABORTED -> Optional.of(Transient.CONFLICT);
          default -> Optional.empty();
        };
      }
      if (c instanceof SQLTransientConnectionException || c instanceof ConnectException) {
        return Optional.of(Transient.DATABASE);
      }
      if (c instanceof SQLException sql && sql.getSQLState() != null) {
        String state = sql.getSQLState();
        if (state.startsWith("08") // connection exception
            || state.startsWith("53") // insufficient resources
            || state.startsWith("57P") // admin/crash shutdown, cannot connect now
            || state.equals("57014") // statement timeout or cancel
            || state.equals(LOCK_NOT_AVAILABLE)) {
          return Optional.of(Transient.DATABASE);
        }
        if (state.equals("40001") || state.equals(DEADLOCK)) { // serialization failure, deadlock
          return Optional.of(Transient.CONFLICT);
        }
      }
      if (c instanceof org.apache.kafka.common.errors.RetriableException
          || c instanceof org.apache.kafka.common.errors.TimeoutException
          || c instanceof org.apache.kafka.common.errors.DisconnectException) {
        return Optional.of(Transient.KAFKA);
      }
    }
    return Optional.empty();
  }

  /**
   * Whether {@code t} (or a cause) is a lock wait the database ended: {@code lock_timeout} passed, or a
   * deadlock was found. The transaction is rolled back; taking its locks in another order can succeed.
   */
  public static boolean isLockWaitEnded(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
      if (c instanceof SQLException sql && (LOCK_NOT_AVAILABLE.equals(sql.getSQLState())
          || DEADLOCK.equals(sql.getSQLState()))) {
        return true;
      }
    }
    return false;
  }

  public static boolean isTransient(Throwable t) {
    return transientKind(t).isPresent();
  }
}
