package dev.tally.identity.db;

import static dev.tally.identity.db.jooq.Tables.CUSTOM_ROLES;
import static dev.tally.identity.db.jooq.Tables.MEMBERS;
import static dev.tally.identity.db.jooq.Tables.TEAMS;
import static dev.tally.identity.db.jooq.Tables.USERS;

import dev.tally.identity.db.jooq.tables.records.CustomRolesRecord;
import dev.tally.identity.db.jooq.tables.records.MembersRecord;
import dev.tally.identity.db.jooq.tables.records.TeamsRecord;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Optional;
import org.jooq.Condition;
import org.jooq.DSLContext;
import org.jooq.impl.DSL;

/** Teams, their memberships and their custom roles. */
public final class TeamDao {

  /** A member with the user's contact details. */
  public record MemberView(String teamId, String userId, String email, String displayName, String role,
      OffsetDateTime joinTime) {}

  /** A team with the member count and the viewer's membership. */
  public record TeamView(TeamsRecord team, int memberCount, MembersRecord membership) {}

  public TeamsRecord insertTeam(DSLContext tx, String id, String displayName, String ownerId) {
    return tx.insertInto(TEAMS)
        .set(TEAMS.ID, id).set(TEAMS.DISPLAY_NAME, displayName).set(TEAMS.OWNER_ID, ownerId)
        .returning().fetchOne();
  }

  /** The team unless deleted; locked for update when {@code lock}. */
  public Optional<TeamsRecord> activeTeam(DSLContext tx, String id, boolean lock) {
    var q = tx.selectFrom(TEAMS).where(TEAMS.ID.eq(id), TEAMS.DELETE_TIME.isNull());
    return lock ? q.forUpdate().fetchOptional() : q.fetchOptional();
  }

  /** A team whether or not it was deleted (deleted teams keep their row for the audit log). */
  public Optional<TeamsRecord> anyTeam(DSLContext tx, String id) {
    return tx.selectFrom(TEAMS).where(TEAMS.ID.eq(id)).fetchOptional();
  }

  public int countOwnedTeams(DSLContext tx, String ownerId) {
    return tx.fetchCount(TEAMS, TEAMS.OWNER_ID.eq(ownerId), TEAMS.DELETE_TIME.isNull());
  }

  public TeamsRecord rename(DSLContext tx, String id, String displayName) {
    return tx.update(TEAMS).set(TEAMS.DISPLAY_NAME, displayName).set(TEAMS.UPDATE_TIME, OffsetDateTime.now())
        .where(TEAMS.ID.eq(id)).returning().fetchOne();
  }

  public TeamsRecord setKeyRestrictions(DSLContext tx, String id, String[] meters, String[] models) {
    return tx.update(TEAMS).set(TEAMS.KEY_ALLOWED_METERS, meters).set(TEAMS.KEY_ALLOWED_MODELS, models)
        .set(TEAMS.UPDATE_TIME, OffsetDateTime.now()).where(TEAMS.ID.eq(id)).returning().fetchOne();
  }

  public void setOwner(DSLContext tx, String id, String ownerId) {
    tx.update(TEAMS).set(TEAMS.OWNER_ID, ownerId).set(TEAMS.UPDATE_TIME, OffsetDateTime.now())
        .where(TEAMS.ID.eq(id)).execute();
  }

  public void markDeleted(DSLContext tx, String id) {
    tx.update(TEAMS).set(TEAMS.DELETE_TIME, OffsetDateTime.now()).where(TEAMS.ID.eq(id)).execute();
  }

  public int memberCount(DSLContext tx, String teamId) {
    return tx.fetchCount(MEMBERS, MEMBERS.TEAM_ID.eq(teamId));
  }

  public void insertMember(DSLContext tx, String teamId, String userId, String role) {
    tx.insertInto(MEMBERS).set(MEMBERS.TEAM_ID, teamId).set(MEMBERS.USER_ID, userId).set(MEMBERS.ROLE, role)
        .execute();
  }

  /** The membership in a team that is not deleted. */
  public Optional<MembersRecord> membership(DSLContext tx, String teamId, String userId) {
    return tx.select(MEMBERS.fields()).from(MEMBERS).join(TEAMS).on(TEAMS.ID.eq(MEMBERS.TEAM_ID))
        .where(MEMBERS.TEAM_ID.eq(teamId), MEMBERS.USER_ID.eq(userId), TEAMS.DELETE_TIME.isNull())
        .fetchOptionalInto(MEMBERS);
  }

  public Optional<MemberView> memberView(DSLContext tx, String teamId, String userId) {
    return tx.select(MEMBERS.TEAM_ID, MEMBERS.USER_ID, USERS.EMAIL, USERS.DISPLAY_NAME, MEMBERS.ROLE, MEMBERS.JOIN_TIME)
        .from(MEMBERS).join(USERS).on(USERS.ID.eq(MEMBERS.USER_ID))
        .where(MEMBERS.TEAM_ID.eq(teamId), MEMBERS.USER_ID.eq(userId))
        .fetchOptional(r -> new MemberView(r.value1(), r.value2(), r.value3(), r.value4(), r.value5(), r.value6()));
  }

  /** Members ordered by user id, after {@code afterUserId} (keyset pagination). */
  public List<MemberView> members(DSLContext tx, String teamId, String afterUserId, int limit) {
    Condition after = afterUserId == null ? DSL.noCondition() : MEMBERS.USER_ID.gt(afterUserId);
    return tx.select(MEMBERS.TEAM_ID, MEMBERS.USER_ID, USERS.EMAIL, USERS.DISPLAY_NAME, MEMBERS.ROLE, MEMBERS.JOIN_TIME)
        .from(MEMBERS).join(USERS).on(USERS.ID.eq(MEMBERS.USER_ID))
        .where(MEMBERS.TEAM_ID.eq(teamId), after)
        .orderBy(MEMBERS.USER_ID).limit(limit)
        .fetch(r -> new MemberView(r.value1(), r.value2(), r.value3(), r.value4(), r.value5(), r.value6()));
  }

  public List<String> memberIds(DSLContext tx, String teamId) {
    return tx.select(MEMBERS.USER_ID).from(MEMBERS).where(MEMBERS.TEAM_ID.eq(teamId)).fetch(MEMBERS.USER_ID);
  }

  /** The user's teams, newest first, after {@code beforeTeamId}. */
  public List<TeamView> teamsOf(DSLContext tx, String userId, String beforeTeamId, int limit) {
    Condition before = beforeTeamId == null ? DSL.noCondition() : TEAMS.ID.lt(beforeTeamId);
    var count = DSL.field(DSL.selectCount().from(MEMBERS.as("m2"))
        .where(MEMBERS.as("m2").TEAM_ID.eq(TEAMS.ID)));
    return tx.select(TEAMS.fields()).select(MEMBERS.fields()).select(count)
        .from(TEAMS).join(MEMBERS).on(MEMBERS.TEAM_ID.eq(TEAMS.ID))
        .where(MEMBERS.USER_ID.eq(userId), TEAMS.DELETE_TIME.isNull(), before)
        .orderBy(TEAMS.ID.desc()).limit(limit)
        .fetch(r -> new TeamView(r.into(TEAMS), r.get(count, Integer.class), r.into(MEMBERS)));
  }

  public void deleteMember(DSLContext tx, String teamId, String userId) {
    tx.deleteFrom(MEMBERS).where(MEMBERS.TEAM_ID.eq(teamId), MEMBERS.USER_ID.eq(userId)).execute();
  }

  public void deleteAllMembers(DSLContext tx, String teamId) {
    tx.deleteFrom(MEMBERS).where(MEMBERS.TEAM_ID.eq(teamId)).execute();
  }

  public void setRole(DSLContext tx, String teamId, String userId, String role) {
    tx.update(MEMBERS).set(MEMBERS.ROLE, role).where(MEMBERS.TEAM_ID.eq(teamId), MEMBERS.USER_ID.eq(userId))
        .execute();
  }

  public int membershipCount(DSLContext tx, String userId) {
    return tx.fetchCount(tx.select(MEMBERS.TEAM_ID).from(MEMBERS).join(TEAMS).on(TEAMS.ID.eq(MEMBERS.TEAM_ID))
        .where(MEMBERS.USER_ID.eq(userId), TEAMS.DELETE_TIME.isNull()));
  }

  public CustomRolesRecord insertRole(DSLContext tx, String teamId, String roleId, String displayName,
      String[] permissions) {
    return tx.insertInto(CUSTOM_ROLES)
        .set(CUSTOM_ROLES.TEAM_ID, teamId).set(CUSTOM_ROLES.ROLE_ID, roleId)
        .set(CUSTOM_ROLES.DISPLAY_NAME, displayName).set(CUSTOM_ROLES.PERMISSIONS, permissions)
        .onConflictDoNothing().returning().fetchOne();
  }

  public Optional<CustomRolesRecord> role(DSLContext tx, String teamId, String roleId) {
    return tx.selectFrom(CUSTOM_ROLES).where(CUSTOM_ROLES.TEAM_ID.eq(teamId), CUSTOM_ROLES.ROLE_ID.eq(roleId))
        .fetchOptional();
  }

  public List<CustomRolesRecord> roles(DSLContext tx, String teamId) {
    return tx.selectFrom(CUSTOM_ROLES).where(CUSTOM_ROLES.TEAM_ID.eq(teamId)).orderBy(CUSTOM_ROLES.ROLE_ID).fetch();
  }

  public int countMembersWithRole(DSLContext tx, String teamId, String role) {
    return tx.fetchCount(MEMBERS, MEMBERS.TEAM_ID.eq(teamId), MEMBERS.ROLE.eq(role));
  }

  public void deleteRole(DSLContext tx, String teamId, String roleId) {
    tx.deleteFrom(CUSTOM_ROLES).where(CUSTOM_ROLES.TEAM_ID.eq(teamId), CUSTOM_ROLES.ROLE_ID.eq(roleId)).execute();
  }
}
