package dev.tally.identity.teams;

import dev.tally.common.auth.Caller;
import dev.tally.common.error.Reasons;
import dev.tally.common.error.TallyException;
import dev.tally.common.ids.Ids;
import dev.tally.common.ids.PageTokens;
import dev.tally.common.ids.Wallets;
import dev.tally.identity.access.Access;
import dev.tally.identity.access.Names;
import dev.tally.identity.access.Roles;
import dev.tally.identity.audit.AuditLog;
import dev.tally.identity.config.IdentityPolicy;
import dev.tally.identity.db.InvitationDao;
import dev.tally.identity.db.TeamDao;
import dev.tally.identity.db.jooq.tables.records.CustomRolesRecord;
import dev.tally.identity.db.jooq.tables.records.TeamsRecord;
import dev.tally.identity.events.IdentityEvents;
import dev.tally.identity.keys.ApiKeyManager;
import dev.tally.proto.events.v1.IdentityEvent;
import dev.tally.proto.events.v1.MemberJoined;
import dev.tally.proto.events.v1.MemberLeft;
import dev.tally.proto.events.v1.MemberRemoved;
import dev.tally.proto.events.v1.MemberRoleChanged;
import dev.tally.proto.events.v1.OwnershipTransferred;
import dev.tally.proto.events.v1.TeamCreated;
import dev.tally.proto.events.v1.TeamDeleted;
import dev.tally.proto.identity.v1.Permission;
import java.util.Collection;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.jooq.DSLContext;

/** Teams, their members and roles: creation, renaming, deletion, role changes, leaving, ownership. */
public final class TeamManager {
  public static final int MAX_NAME_LENGTH = 48;

  private final TeamDao teams;
  private final InvitationDao invitations;
  private final Access access;
  private final ApiKeyManager keys;
  private final AuditLog audit;
  private final IdentityEvents events;
  private final IdentityPolicy policy;

  public TeamManager(TeamDao teams, InvitationDao invitations, Access access, ApiKeyManager keys, AuditLog audit,
      IdentityEvents events, IdentityPolicy policy) {
    this.teams = teams;
    this.invitations = invitations;
    this.access = access;
    this.keys = keys;
    this.audit = audit;
    this.events = events;
    this.policy = policy;
  }

  public record Page<T>(List<T> items, String nextPageToken) {}

  public TeamDao.TeamView create(DSLContext tx, Caller caller, String displayName) {
    String userId = caller.userId();
    String name = validName(displayName);
    if (policy.maxOwnedTeams() > 0) {
      // Serialise a user's concurrent creations so the cap cannot be raced past.
      tx.execute("select pg_advisory_xact_lock(hashtext(?))", "owned-teams:" + userId);
      if (teams.countOwnedTeams(tx, userId) >= policy.maxOwnedTeams()) {
        throw TallyException.failedPrecondition(Reasons.TEAM_LIMIT_REACHED,
            "a user may own at most " + policy.maxOwnedTeams() + " team(s)");
      }
    }
    TeamsRecord team = teams.insertTeam(tx, Ids.newId(), name, userId);
    teams.insertMember(tx, team.getId(), userId, Roles.OWNER);
    keys.onJoin(tx, caller, userId);
    audit.record(tx, Names.team(team.getId()), caller, "team.create", Names.team(team.getId()),
        Map.of("display_name", name));
    events.publish(tx, Wallets.ofTeam(team.getId()), caller, IdentityEvent.newBuilder().setTeamCreated(
        TeamCreated.newBuilder().setTeam(Names.team(team.getId())).setOwner(Names.user(userId))
            .setWallet(Wallets.ofTeam(team.getId())).setOwnerWallet(Wallets.ofUser(userId))
            .setMovePaidBalance(policy.movePaidBalanceOnJoin())));
    return view(tx, team, userId);
  }

  public TeamDao.TeamView get(DSLContext tx, Caller caller, String name) {
    String teamId = Names.teamId("name", name);
    Access.Membership m = access.of(tx, caller, teamId);
    return view(tx, teams.activeTeam(tx, teamId, false).orElseThrow(), m.userId());
  }

  public Page<TeamDao.TeamView> list(DSLContext tx, Caller caller, String pageToken, int pageSize) {
    String userId = caller.userId();
    int size = PageTokens.pageSize(pageSize);
    List<TeamDao.TeamView> rows = teams.teamsOf(tx, userId, PageTokens.decode("teams:" + userId, pageToken), size + 1);
    String next = rows.size() > size ? PageTokens.encode("teams:" + userId, rows.get(size - 1).team().getId()) : "";
    return new Page<>(rows.size() > size ? rows.subList(0, size) : rows, next);
  }

  public TeamDao.TeamView rename(DSLContext tx, Caller caller, String teamName, String displayName) {
    String teamId = Names.teamId("team.name", teamName);
    Access.Membership m = access.require(tx, caller, teamId, Permission.PERMISSION_TEAM_UPDATE);
    String name = validName(displayName);
    TeamsRecord before = teams.activeTeam(tx, teamId, true).orElseThrow();
    TeamsRecord team = teams.rename(tx, teamId, name);
    audit.record(tx, teamName, caller, "team.update", teamName,
        Map.of("old_display_name", before.getDisplayName(), "display_name", name));
    return view(tx, team, m.userId());
  }

  /** Owner only: members removed (personal keys restored), keys revoked, TeamDeleted for the refund. */
  public void delete(DSLContext tx, Caller caller, String teamName) {
    String teamId = Names.teamId("name", teamName);
    access.require(tx, caller, teamId, Permission.PERMISSION_TEAM_DELETE);
    TeamsRecord team = teams.activeTeam(tx, teamId, true).orElseThrow();
    List<String> members = teams.memberIds(tx, teamId);
    keys.onTeamDeleted(tx, caller, teamId);
    teams.deleteAllMembers(tx, teamId);
    teams.markDeleted(tx, teamId);
    invitations.revokeAllPending(tx, teamId);
    for (String userId : members) {
      keys.restorePersonalKeysIfTeamless(tx, caller, userId);
    }
    audit.record(tx, teamName, caller, "team.delete", teamName, Map.of("members", Integer.toString(members.size())));
    events.publish(tx, Wallets.ofTeam(teamId), caller, IdentityEvent.newBuilder().setTeamDeleted(TeamDeleted.newBuilder()
        .setTeam(teamName).setOwner(Names.user(team.getOwnerId())).setWallet(Wallets.ofTeam(teamId))
        .setOwnerWallet(Wallets.ofUser(team.getOwnerId()))));
  }

  public Page<TeamDao.MemberView> members(DSLContext tx, Caller caller, String teamName, String pageToken,
      int pageSize) {
    String teamId = Names.teamId("parent", teamName);
    access.of(tx, caller, teamId);
    int size = PageTokens.pageSize(pageSize);
    String list = "members:" + teamId;
    List<TeamDao.MemberView> rows = teams.members(tx, teamId, PageTokens.decode(list, pageToken), size + 1);
    String next = rows.size() > size ? PageTokens.encode(list, rows.get(size - 1).userId()) : "";
    return new Page<>(rows.size() > size ? rows.subList(0, size) : rows, next);
  }

  /**
   * Changes another member's role. Nobody changes the Owner's role or their own; only the Owner grants or
   * removes Admin; nobody grants a role with permissions they do not hold themselves.
   */
  public TeamDao.MemberView updateRole(DSLContext tx, Caller caller, String memberName, String newRole) {
    String[] parts = Names.parseMember("name", memberName);
    String teamId = parts[0];
    String userId = parts[1];
    Access.Membership me = access.require(tx, caller, teamId, Permission.PERMISSION_MEMBERS_UPDATE_ROLE);
    var target = teams.membership(tx, teamId, userId).orElseThrow(() -> memberNotFound(memberName));
    if (Roles.OWNER.equals(newRole)) {
      throw TallyException.invalidArgument("role", "use TransferOwnership to make someone the Owner");
    }
    if (Roles.OWNER.equals(target.getRole())) {
      throw TallyException.failedPrecondition(Reasons.OWNER_ROLE_FIXED, "the Owner's role cannot be changed");
    }
    if (userId.equals(me.userId())) {
      throw Access.forbidden("you cannot change your own role");
    }
    Set<Permission> granted = rolePermissions(tx, teamId, newRole);
    boolean touchesAdmin = Roles.ADMIN.equals(newRole) || Roles.ADMIN.equals(target.getRole());
    if (touchesAdmin && !me.isOwner()) {
      throw Access.forbidden("only the Owner grants or removes Admin");
    }
    if (!me.permissions().containsAll(granted)) {
      throw Access.forbidden("you cannot grant permissions you do not hold");
    }
    if (!newRole.equals(target.getRole())) {
      teams.setRole(tx, teamId, userId, newRole);
      audit.record(tx, Names.team(teamId), caller, "member.update_role", memberName,
          Map.of("old_role", target.getRole(), "role", newRole));
      events.publish(tx, Wallets.ofTeam(teamId), caller, IdentityEvent.newBuilder().setMemberRoleChanged(
          MemberRoleChanged.newBuilder().setTeam(Names.team(teamId)).setUser(Names.user(userId))
              .setOldRole(target.getRole()).setNewRole(newRole)));
    }
    return teams.memberView(tx, teamId, userId).orElseThrow();
  }

  public void removeMember(DSLContext tx, Caller caller, String memberName) {
    String[] parts = Names.parseMember("name", memberName);
    String teamId = parts[0];
    String userId = parts[1];
    Access.Membership me = access.require(tx, caller, teamId, Permission.PERMISSION_MEMBERS_REMOVE);
    var target = teams.membership(tx, teamId, userId).orElseThrow(() -> memberNotFound(memberName));
    if (Roles.OWNER.equals(target.getRole())) {
      throw TallyException.failedPrecondition(Reasons.OWNER_CANNOT_BE_REMOVED, "the Owner cannot be removed");
    }
    if (userId.equals(me.userId())) {
      throw TallyException.failedPrecondition(Reasons.USE_LEAVE_TEAM, "use LeaveTeam to leave a team");
    }
    if (Roles.ADMIN.equals(target.getRole()) && !me.isOwner()) {
      throw Access.forbidden("only the Owner removes an Admin");
    }
    teams.deleteMember(tx, teamId, userId);
    keys.onLeave(tx, caller, teamId, userId);
    audit.record(tx, Names.team(teamId), caller, "member.remove", memberName, Map.of("role", target.getRole()));
    events.publish(tx, Wallets.ofTeam(teamId), caller, IdentityEvent.newBuilder().setMemberRemoved(
        MemberRemoved.newBuilder().setTeam(Names.team(teamId)).setUser(Names.user(userId))));
  }

  public void leave(DSLContext tx, Caller caller, String teamName) {
    String teamId = Names.teamId("team", teamName);
    Access.Membership me = access.of(tx, caller, teamId);
    if (me.userId().isEmpty()) {
      throw Access.forbidden("only a member can leave a team");
    }
    if (me.isOwner()) {
      throw TallyException.failedPrecondition(Reasons.OWNER_CANNOT_LEAVE,
          "the Owner cannot leave; transfer ownership or delete the team");
    }
    teams.deleteMember(tx, teamId, me.userId());
    keys.onLeave(tx, caller, teamId, me.userId());
    audit.record(tx, teamName, caller, "member.leave", Names.member(teamId, me.userId()), Map.of());
    events.publish(tx, Wallets.ofTeam(teamId), caller, IdentityEvent.newBuilder().setMemberLeft(
        MemberLeft.newBuilder().setTeam(teamName).setUser(Names.user(me.userId()))));
  }

  /** Owner only, to an existing member: they become Owner, the old Owner becomes Admin. */
  public TeamDao.TeamView transferOwnership(DSLContext tx, Caller caller, String teamName, String newOwnerName) {
    String teamId = Names.teamId("team", teamName);
    String newOwnerId = Names.userId("new_owner", newOwnerName);
    Access.Membership me = access.require(tx, caller, teamId, Permission.PERMISSION_TEAM_TRANSFER_OWNERSHIP);
    TeamsRecord team = teams.activeTeam(tx, teamId, true).orElseThrow();
    String oldOwnerId = team.getOwnerId();
    if (newOwnerId.equals(oldOwnerId)) {
      return view(tx, team, me.userId());
    }
    teams.membership(tx, teamId, newOwnerId).orElseThrow(() -> memberNotFound(Names.member(teamId, newOwnerId)));
    teams.setRole(tx, teamId, oldOwnerId, Roles.ADMIN);
    teams.setRole(tx, teamId, newOwnerId, Roles.OWNER);
    teams.setOwner(tx, teamId, newOwnerId);
    audit.record(tx, teamName, caller, "team.transfer_ownership", teamName,
        Map.of("old_owner", Names.user(oldOwnerId), "new_owner", newOwnerName));
    events.publish(tx, Wallets.ofTeam(teamId), caller, IdentityEvent.newBuilder().setOwnershipTransferred(
        OwnershipTransferred.newBuilder().setTeam(teamName).setOldOwner(Names.user(oldOwnerId))
            .setNewOwner(newOwnerName)));
    return view(tx, teams.activeTeam(tx, teamId, false).orElseThrow(), me.userId());
  }

  /** Adds a member (invitation accepted); the membership side effects and events follow. */
  /**
   * Makes {@code userId} a member; returns the team key assigned on joining when the deployment assigns one
   * ({@code TALLY_ASSIGN_KEY_ON_JOIN}), whose secret the caller shows once.
   */
  public Optional<ApiKeyManager.Created> join(DSLContext tx, Caller caller, String teamId, String userId,
      String role) {
    teams.insertMember(tx, teamId, userId, role);
    keys.onJoin(tx, caller, userId);
    events.publish(tx, Wallets.ofTeam(teamId), caller, IdentityEvent.newBuilder().setMemberJoined(
        MemberJoined.newBuilder().setTeam(Names.team(teamId)).setUser(Names.user(userId)).setRole(role)
            .setTeamWallet(Wallets.ofTeam(teamId)).setUserWallet(Wallets.ofUser(userId))
            .setMovePaidBalance(policy.movePaidBalanceOnJoin())));
    return policy.assignKeyOnJoin() ? Optional.of(keys.assignOnJoin(tx, caller, teamId, userId)) : Optional.empty();
  }

  public CustomRolesRecord createRole(DSLContext tx, Caller caller, String teamName, String roleId,
      String displayName, Collection<Permission> permissions) {
    String teamId = Names.teamId("parent", teamName);
    Access.Membership me = access.require(tx, caller, teamId, Permission.PERMISSION_ROLES_MANAGE);
    EnumSet<Permission> set = EnumSet.copyOf(permissions);
    if (set.stream().anyMatch(Roles.OWNER_ONLY::contains)) {
      throw TallyException.invalidArgument("permissions", "custom roles cannot delete or transfer the team");
    }
    if (!me.permissions().containsAll(set)) {
      throw Access.forbidden("you cannot create a role with permissions you do not hold");
    }
    CustomRolesRecord role = teams.insertRole(tx, teamId, roleId, displayName.strip(),
        set.stream().map(Enum::name).toArray(String[]::new));
    if (role == null) {
      throw TallyException.alreadyExists(Reasons.ROLE_EXISTS, "role " + Names.customRole(teamId, roleId) + " exists");
    }
    audit.record(tx, teamName, caller, "role.create", Names.customRole(teamId, roleId),
        Map.of("permissions", String.join(",", role.getPermissions())));
    return role;
  }

  public List<CustomRolesRecord> roles(DSLContext tx, Caller caller, String teamName) {
    String teamId = Names.teamId("parent", teamName);
    access.of(tx, caller, teamId);
    return teams.roles(tx, teamId);
  }

  public void deleteRole(DSLContext tx, Caller caller, String roleName) {
    String[] parts = Names.customRoleOrNull(roleName);
    if (parts == null) {
      throw TallyException.invalidArgument("name", "must look like teams/{team}/roles/{role}");
    }
    access.require(tx, caller, parts[0], Permission.PERMISSION_ROLES_MANAGE);
    teams.role(tx, parts[0], parts[1]).orElseThrow(() -> roleNotFound(roleName));
    if (teams.countMembersWithRole(tx, parts[0], roleName) > 0) {
      throw TallyException.failedPrecondition(Reasons.ROLE_IN_USE, "members still hold " + roleName);
    }
    teams.deleteRole(tx, parts[0], parts[1]);
    audit.record(tx, Names.team(parts[0]), caller, "role.delete", roleName, Map.of());
  }

  public record PermissionCheck(boolean allowed, String role) {}

  /** Whether {@code principal} (a user or a key) holds {@code permission} in the team. */
  public PermissionCheck check(DSLContext tx, Caller caller, String principal, String teamName,
      Permission permission) {
    String teamId = Names.teamId("team", teamName);
    if (!caller.platform()) {
      access.of(tx, caller, teamId); // members may ask about their own team only
    }
    if (teams.activeTeam(tx, teamId, false).isEmpty()) {
      throw Access.teamNotFound(teamId);
    }
    if (principal.startsWith("users/")) {
      var m = teams.membership(tx, teamId, Names.userId("principal", principal));
      if (m.isEmpty()) {
        return new PermissionCheck(false, "");
      }
      return new PermissionCheck(access.permissionsOf(tx, teamId, m.get().getRole()).contains(permission),
          m.get().getRole());
    }
    if (principal.startsWith("apiKeys/")) {
      return keys.standing(tx, Names.apiKeyId("principal", principal), teamId)
          .map(st -> new PermissionCheck(st.permissions().contains(permission), st.role()))
          .orElse(new PermissionCheck(false, ""));
    }
    throw TallyException.invalidArgument("principal", "must be users/{user} or apiKeys/{key}");
  }

  private Set<Permission> rolePermissions(DSLContext tx, String teamId, String role) {
    if (Roles.isBuiltin(role)) {
      return Roles.BUILTIN.get(role);
    }
    String[] custom = Names.customRoleOrNull(role);
    if (custom == null || !custom[0].equals(teamId)) {
      throw TallyException.invalidArgument("role", "must be roles/admin, roles/member or teams/{team}/roles/{role}");
    }
    return teams.role(tx, teamId, custom[1]).map(Access::permissions).orElseThrow(() -> roleNotFound(role));
  }

  /** Validates a role a caller wants to give (invitations use it too). */
  public Set<Permission> grantable(DSLContext tx, Access.Membership me, String role) {
    Set<Permission> granted = rolePermissions(tx, me.teamId(), role);
    if (Roles.ADMIN.equals(role) && !me.isOwner()) {
      throw Access.forbidden("only the Owner grants Admin");
    }
    if (!me.permissions().containsAll(granted)) {
      throw Access.forbidden("you cannot grant permissions you do not hold");
    }
    return granted;
  }

  private TeamDao.TeamView view(DSLContext tx, TeamsRecord team, String viewerId) {
    var membership = viewerId.isEmpty() ? null : teams.membership(tx, team.getId(), viewerId).orElse(null);
    return new TeamDao.TeamView(team, teams.memberCount(tx, team.getId()), membership);
  }

  static String validName(String displayName) {
    String name = displayName.strip();
    if (name.isEmpty()) {
      throw TallyException.invalidArgument("display_name", "must not be empty");
    }
    if (name.codePointCount(0, name.length()) > MAX_NAME_LENGTH) {
      throw TallyException.invalidArgument("display_name", "must be at most " + MAX_NAME_LENGTH + " characters");
    }
    return name;
  }

  private static TallyException memberNotFound(String name) {
    return TallyException.notFound(Reasons.NOT_FOUND, "member " + name + " not found");
  }

  private static TallyException roleNotFound(String name) {
    return TallyException.notFound(Reasons.NOT_FOUND, "role " + name + " not found");
  }
}
