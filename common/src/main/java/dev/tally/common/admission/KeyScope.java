package dev.tally.common.admission;

import dev.tally.common.error.Reasons;
import dev.tally.common.error.TallyException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which meters and models a key may be used for: its own list within its team's default (both apply; an
 * empty list restricts nothing). One home for the rule, used by Admit (gateway) and RecordUsage (metering).
 *
 * @param meters the meters allowed, null for any
 * @param models the models allowed, null for any
 */
public record KeyScope(Set<String> meters, Set<String> models) {
  public static final KeyScope ANY = new KeyScope(null, null);
  public static final String METER_NOT_ALLOWED = Reasons.METER_NOT_ALLOWED;
  public static final String MODEL_NOT_ALLOWED = Reasons.MODEL_NOT_ALLOWED;

  /** The scope of a key with {@code own} lists in a team with {@code teamDefault} lists. */
  public static KeyScope of(List<String> ownMeters, List<String> ownModels, List<String> teamMeters,
      List<String> teamModels) {
    return new KeyScope(both(ownMeters, teamMeters), both(ownModels, teamModels));
  }

  private static Set<String> both(List<String> own, List<String> team) {
    if (own.isEmpty() && team.isEmpty()) {
      return null;
    }
    if (own.isEmpty() || team.isEmpty()) {
      return Set.copyOf(own.isEmpty() ? team : own);
    }
    Set<String> s = new LinkedHashSet<>(own);
    s.retainAll(team);
    return Set.copyOf(s); // may be empty: nothing is allowed
  }

  /** The refusal reason for a use of {@code meter} (with {@code model}, maybe empty), or null when allowed. */
  public String refusal(String meter, String model) {
    String m = meter.startsWith("meters/") ? meter.substring("meters/".length()) : meter;
    if (meters != null && !meters.contains(m)) {
      return METER_NOT_ALLOWED;
    }
    if (models != null && !models.contains(model)) {
      return MODEL_NOT_ALLOWED;
    }
    return null;
  }

  /** Throws PERMISSION_DENIED naming what the key may use, unless the use is allowed. */
  public void check(String meter, String model) {
    String reason = refusal(meter, model);
    if (reason == null) {
      return;
    }
    boolean meterRefused = reason.equals(METER_NOT_ALLOWED);
    List<String> allowed = new ArrayList<>(meterRefused ? meters : models);
    java.util.Collections.sort(allowed);
    throw new TallyException(io.grpc.Status.Code.PERMISSION_DENIED, reason, meterRefused
        ? "this key may not be used for meter " + meter + "; it may be used for " + allowed
        : "this key may not be used for model '" + model + "'; it may be used for " + allowed,
        Map.of("allowed", String.join(",", allowed)), List.of());
  }
}
