package dev.tally.identity.keys;

import dev.tally.common.admission.KeyScope;
import dev.tally.common.auth.Caller;
import dev.tally.common.error.Reasons;
import dev.tally.common.error.TallyException;
import dev.tally.common.ids.Wallets;
import dev.tally.identity.access.Access;
import dev.tally.identity.access.Names;
import dev.tally.identity.audit.AuditLog;
import dev.tally.identity.db.TeamDao;
import dev.tally.identity.db.jooq.tables.records.ApiKeysRecord;
import dev.tally.identity.db.jooq.tables.records.TeamsRecord;
import dev.tally.identity.db.ApiKeyDao;
import dev.tally.identity.events.IdentityEvents;
import dev.tally.proto.events.v1.IdentityEvent;
import dev.tally.proto.events.v1.KeyRestrictionsChanged;
import dev.tally.proto.identity.v1.Permission;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.jooq.DSLContext;

/**
 * What keys may be used for: a key's own meters and models, and a team's default for all its keys. Both
 * apply ({@link KeyScope}): a member can narrow their key, never widen it past the team's default.
 */
public final class KeyRestrictions {
  private static final Pattern METER = Pattern.compile("[a-z0-9_]{1,64}");

  private final ApiKeyDao keys;
  private final TeamDao teams;
  private final ApiKeyManager manager;
  private final Access access;
  private final AuditLog audit;
  private final IdentityEvents events;

  public KeyRestrictions(ApiKeyDao keys, TeamDao teams, ApiKeyManager manager, Access access, AuditLog audit,
      IdentityEvents events) {
    this.keys = keys;
    this.teams = teams;
    this.manager = manager;
    this.access = access;
    this.audit = audit;
    this.events = events;
  }

  /** The answer: the key or the team restricted. */
  public record Changed(ApiKeysRecord key, TeamDao.TeamView team) {}

  public Changed set(DSLContext tx, Caller caller, String parent, List<String> meters, List<String> models) {
    String[] m = meters(meters);
    String[] md = new LinkedHashSet<>(models).toArray(new String[0]);
    if (parent.startsWith("apiKeys/")) {
      ApiKeysRecord key = manager.manageable(tx, caller, parent);
      ApiKeysRecord changed = keys.setRestrictions(tx, key.getId(), m, md);
      audit.record(tx, ApiKeyManager.scope(key), caller, "api_key.set_restrictions", parent, details(key
          .getAllowedMeters(), key.getAllowedModels(), m, md));
      events.publish(tx, ApiKeyManager.billingAccount(key), caller, IdentityEvent.newBuilder()
          .setKeyRestrictionsChanged(KeyRestrictionsChanged.newBuilder().setApiKey(parent)
              .setTeam(key.getTeamId() == null ? "" : Names.team(key.getTeamId()))));
      return new Changed(changed, null);
    }
    if (!parent.startsWith("teams/")) {
      throw TallyException.invalidArgument("parent", "must be apiKeys/{key} or teams/{team}");
    }
    String teamId = Names.teamId("parent", parent);
    TeamsRecord team = teams.activeTeam(tx, teamId, true)
        .orElseThrow(() -> TallyException.notFound(Reasons.NOT_FOUND, "team " + parent + " not found"));
    access.require(tx, caller, teamId, Permission.PERMISSION_KEYS_MANAGE_ALL);
    TeamsRecord changed = teams.setKeyRestrictions(tx, teamId, m, md);
    audit.record(tx, parent, caller, "team.set_key_restrictions", parent, details(team.getKeyAllowedMeters(),
        team.getKeyAllowedModels(), m, md));
    events.publish(tx, Wallets.ofTeam(teamId), caller, IdentityEvent.newBuilder()
        .setKeyRestrictionsChanged(KeyRestrictionsChanged.newBuilder().setTeam(parent)));
    return new Changed(null, new TeamDao.TeamView(changed, teams.memberCount(tx, teamId), null));
  }

  /** What {@code key} may be used for, after its team's default. */
  public KeyScope scopeOf(DSLContext tx, ApiKeysRecord key) {
    TeamsRecord team = key.getTeamId() == null ? null : teams.anyTeam(tx, key.getTeamId()).orElse(null);
    return KeyScope.of(List.of(key.getAllowedMeters()), List.of(key.getAllowedModels()),
        team == null ? List.of() : List.of(team.getKeyAllowedMeters()),
        team == null ? List.of() : List.of(team.getKeyAllowedModels()));
  }

  private static String[] meters(List<String> meters) {
    LinkedHashSet<String> out = new LinkedHashSet<>();
    for (String meter : meters) {
      String id = meter.startsWith("meters/") ? meter.substring("meters/".length()) : meter;
      if (!METER.matcher(id).matches()) {
        throw TallyException.invalidArgument("allowed_meters", "'" + meter + "' is not a meter id");
      }
      out.add(id);
    }
    return out.toArray(new String[0]);
  }

  private static Map<String, String> details(String[] meters, String[] models, String[] newMeters,
      String[] newModels) {
    return Map.of("before.allowed_meters", String.join(",", meters), "before.allowed_models",
        String.join(",", models), "after.allowed_meters", String.join(",", newMeters), "after.allowed_models",
        String.join(",", newModels));
  }
}
