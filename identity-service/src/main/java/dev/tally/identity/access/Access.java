package dev.tally.identity.access;

import dev.tally.common.auth.Caller;
import dev.tally.common.error.Reasons;
import dev.tally.common.error.TallyException;
import dev.tally.identity.db.TeamDao;
import dev.tally.identity.db.jooq.tables.records.CustomRolesRecord;
import dev.tally.proto.identity.v1.Permission;
import java.util.EnumSet;
import java.util.Set;
import org.jooq.DSLContext;

/**
 * Who may do what in a team. A caller who is not a member of a team gets NOT_FOUND for it (existence does
 * not leak); a member without the permission gets PERMISSION_DENIED ROLE_FORBIDDEN.
 */
public final class Access {
  /** What a service key may do in its own team: spend and see its own usage. */
  public static final Set<Permission> SERVICE_KEY =
      EnumSet.of(Permission.PERMISSION_KEYS_USE, Permission.PERMISSION_USAGE_VIEW_OWN);

  private final TeamDao teams;

  public Access(TeamDao teams) {
    this.teams = teams;
  }

  /**
   * The caller's standing in a team.
   *
   * @param userId the member's user id; empty for a service key or the platform
   */
  public record Membership(String teamId, String userId, String role, Set<Permission> permissions) {
    public boolean has(Permission p) {
      return permissions.contains(p);
    }

    public boolean isOwner() {
      return Roles.OWNER.equals(role);
    }
  }

  public Membership of(DSLContext tx, Caller caller, String teamId) {
    if (caller.platform()) {
      teams.activeTeam(tx, teamId, false).orElseThrow(() -> teamNotFound(teamId));
      return new Membership(teamId, "", Roles.OWNER, Roles.BUILTIN.get(Roles.OWNER));
    }
    if (!caller.isUser()) {
      if (!caller.team().equals(Names.team(teamId)) || teams.activeTeam(tx, teamId, false).isEmpty()) {
        throw teamNotFound(teamId);
      }
      return new Membership(teamId, "", "service", SERVICE_KEY);
    }
    String userId = caller.userId();
    var member = teams.membership(tx, teamId, userId).orElseThrow(() -> teamNotFound(teamId));
    return new Membership(teamId, userId, member.getRole(), permissionsOf(tx, teamId, member.getRole()));
  }

  public Membership require(DSLContext tx, Caller caller, String teamId, Permission permission) {
    Membership m = of(tx, caller, teamId);
    if (!m.has(permission)) {
      throw forbidden("your role in this team does not allow " + permission.name());
    }
    return m;
  }

  /** What {@code role} allows in the team, implied permissions included. */
  public Set<Permission> permissionsOf(DSLContext tx, String teamId, String role) {
    Set<Permission> builtin = Roles.BUILTIN.get(role);
    if (builtin != null) {
      return builtin;
    }
    String[] custom = Names.customRoleOrNull(role);
    if (custom == null || !custom[0].equals(teamId)) {
      return Set.of();
    }
    return teams.role(tx, teamId, custom[1]).map(r -> Roles.effective(permissions(r))).orElse(Set.of());
  }

  public static Set<Permission> permissions(CustomRolesRecord role) {
    EnumSet<Permission> set = EnumSet.noneOf(Permission.class);
    for (String p : role.getPermissions()) {
      set.add(Permission.valueOf(p));
    }
    return set;
  }

  public static TallyException teamNotFound(String teamId) {
    return TallyException.notFound(Reasons.NOT_FOUND, "team teams/" + teamId + " not found");
  }

  public static TallyException forbidden(String message) {
    return TallyException.permissionDenied(Reasons.ROLE_FORBIDDEN, message);
  }
}
