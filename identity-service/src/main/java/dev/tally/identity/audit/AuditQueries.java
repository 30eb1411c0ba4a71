package dev.tally.identity.audit;

import dev.tally.common.auth.Caller;
import dev.tally.common.ids.PageTokens;
import dev.tally.identity.access.Access;
import dev.tally.identity.access.Names;
import dev.tally.common.kafka.AuditTrail;
import dev.tally.identity.db.AuditDao;
import dev.tally.identity.db.TeamDao;
import dev.tally.identity.db.jooq.tables.records.AuditEventsRecord;
import dev.tally.proto.identity.v1.Permission;
import java.time.OffsetDateTime;
import java.util.Collection;
import java.util.List;
import org.jooq.DSLContext;

/** Reading the audit log: a team's (Owner/Admin) or the caller's own personal-key events. */
public final class AuditQueries {
  private final AuditDao dao;
  private final Access access;
  private final TeamDao teams;

  public AuditQueries(AuditDao dao, Access access, TeamDao teams) {
    this.dao = dao;
    this.access = access;
    this.teams = teams;
  }

  public record Page(List<AuditEventsRecord> events, String nextPageToken) {}

  /**
   * Who reads a team's log: members with AUDIT_VIEW while it exists; once deleted, the platform and the
   * former owner still do (the log, its deletion included, outlives the team).
   */
  private void requireReader(DSLContext tx, Caller caller, String teamId) {
    var team = teams.anyTeam(tx, teamId).orElseThrow(() -> Access.teamNotFound(teamId));
    if (team.getDeleteTime() == null) {
      access.require(tx, caller, teamId, Permission.PERMISSION_AUDIT_VIEW);
    } else if (!caller.platform() && !(caller.isUser() && team.getOwnerId().equals(caller.userId()))) {
      throw Access.teamNotFound(teamId);
    }
  }

  public Page list(DSLContext tx, Caller caller, String parent, Collection<String> actions, OffsetDateTime start,
      OffsetDateTime end, String pageToken, int pageSize) {
    String scope = readableScope(tx, caller, parent);
    int size = PageTokens.pageSize(pageSize);
    String list = "audit:" + scope;
    List<AuditEventsRecord> rows = dao.list(tx, scope, actions, start, end, PageTokens.decode(list, pageToken),
        size + 1);
    String next = rows.size() > size ? PageTokens.encode(list, rows.get(size - 1).getId()) : "";
    return new Page(rows.size() > size ? rows.subList(0, size) : rows, next);
  }

  /** Every event {@link #list} would page through, oldest first, to {@code each} (an export of any size). */
  public void export(DSLContext tx, Caller caller, String parent, Collection<String> actions, OffsetDateTime start,
      OffsetDateTime end, java.util.function.Consumer<AuditEventsRecord> each) {
    try (var cursor = dao.oldestFirst(tx, readableScope(tx, caller, parent), actions, start, end)) {
      cursor.forEach(each);
    }
  }

  /** The log {@code parent} names, if the caller may read it. */
  private String readableScope(DSLContext tx, Caller caller, String parent) {
    String scope;
    if ("users/me".equals(parent) || (caller.isUser() && parent.equals(caller.user()))) {
      scope = caller.user();
      caller.userId();
    } else if (AuditTrail.PLATFORM_SCOPE.equals(parent)) {
      if (!caller.platform()) {
        throw Access.forbidden("the deployment's own log (prices) is the platform's");
      }
      scope = AuditTrail.PLATFORM_SCOPE;
    } else {
      String teamId = Names.teamId("parent", parent);
      requireReader(tx, caller, teamId);
      scope = Names.team(teamId);
    }
    return scope;
  }
}
