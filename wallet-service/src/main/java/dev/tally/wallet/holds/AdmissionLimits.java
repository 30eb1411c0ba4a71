package dev.tally.wallet.holds;

import dev.tally.common.admission.AdmissionRules;
import dev.tally.wallet.wallets.Snapshot;
import java.util.ArrayList;
import java.util.List;

/** A wallet's limit states as the admission rules read them (nothing held yet: callers add their holds). */
public final class AdmissionLimits {
  private AdmissionLimits() {}

  public static List<AdmissionRules.Limit> of(List<Snapshot.LimitState> states) {
    List<AdmissionRules.Limit> out = new ArrayList<>(states.size());
    for (Snapshot.LimitState l : states) {
      out.add(new AdmissionRules.Limit(l.subject(), l.period(), l.limit(), l.spent(), 0,
          l.resetTime() == null ? null : l.resetTime().toInstant()));
    }
    return out;
  }
}
