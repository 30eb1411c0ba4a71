package dev.tally.wallet.plans;

/** A seat plan: usage included per seat per month. */
public record Plan(String id, String displayName, long includedPerSeat) {
  public String name() {
    return "plans/" + id;
  }
}
