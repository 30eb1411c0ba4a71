package dev.tally.common.admission;

/**
 * The form of the holds a gateway admits from a lease: {@code {lease}_{n}}, under the lease's id (hold ids are
 * UUIDs otherwise, without {@code _}). One home for it: the gateway names them, the wallet writes them and
 * recognises one named before it was written.
 */
public final class SubHoldIds {
  private static final char SEPARATOR = '_';

  private SubHoldIds() {}

  /** The {@code n}th hold admitted from lease {@code leaseId}. */
  public static String of(String leaseId, long n) {
    return leaseId + SEPARATOR + Long.toString(n, 36);
  }

  /** The id of the lease {@code holdId} was admitted from; null for a hold reserved on its own. */
  public static String leaseOf(String holdId) {
    int cut = holdId.indexOf(SEPARATOR);
    return cut <= 0 ? null : holdId.substring(0, cut);
  }

  /** Whether {@code holdName} ({@code wallets/{w}/holds/{id}}) was admitted from a lease. */
  public static boolean fromLease(String holdName) {
    return leaseOf(holdName.substring(holdName.lastIndexOf('/') + 1)) != null;
  }
}
