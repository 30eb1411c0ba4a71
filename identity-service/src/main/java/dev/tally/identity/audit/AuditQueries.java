package dev.tally.identity.audit;

import dev.tally.common.auth.Caller;
import dev.tally.common.ids.PageTokens;
import dev.tally.identity.access.Access;
import dev.tally.identity.access.Names;
import dev.tally.identity.db.AuditDao;
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

  public AuditQueries(AuditDao dao, Access access) {
    this.dao = dao;
    this.access = access;
  }

  public record Page(List<AuditEventsRecord> events, String nextPageToken) {}

  public Page list(DSLContext tx, Caller caller, String parent, Collection<String> actions, OffsetDateTime start,
      OffsetDateTime end, String pageToken, int pageSize) {
    String scope;
    if ("users/me".equals(parent) || (caller.isUser() && parent.equals(caller.user()))) {
      scope = caller.user();
      caller.userId();
    } else {
      String teamId = Names.teamId("parent", parent);
      access.require(tx, caller, teamId, Permission.PERMISSION_AUDIT_VIEW);
      scope = Names.team(teamId);
    }
    int size = PageTokens.pageSize(pageSize);
    String list = "audit:" + scope;
    List<AuditEventsRecord> rows = dao.list(tx, scope, actions, start, end, PageTokens.decode(list, pageToken),
        size + 1);
    String next = rows.size() > size ? PageTokens.encode(list, rows.get(size - 1).getId()) : "";
    return new Page(rows.size() > size ? rows.subList(0, size) : rows, next);
  }
}
