package dev.tally.identity.audit;

import dev.tally.common.auth.Caller;
import dev.tally.common.grpc.RequestIds;
import dev.tally.common.ids.Ids;
import dev.tally.identity.db.AuditDao;
import dev.tally.identity.db.jooq.tables.records.AuditEventsRecord;
import java.util.Map;
import java.util.TreeMap;
import org.jooq.DSLContext;
import org.jooq.JSONB;

/**
 * Writes audit events in the caller's transaction. Details are non-secret facts only: callers never pass
 * a secret here (keys are named by id and shown prefix, invitations by id and email).
 */
public final class AuditLog {
  private final AuditDao dao;

  public AuditLog(AuditDao dao) {
    this.dao = dao;
  }

  public void record(DSLContext tx, String scope, Caller caller, String action, String target,
      Map<String, String> details) {
    AuditEventsRecord r = new AuditEventsRecord();
    r.setId(Ids.newId());
    r.setScope(scope);
    r.setActorUser(caller.user());
    r.setActorTeam(caller.team());
    r.setActorKey(caller.apiKey());
    r.setAction(action);
    r.setTarget(target);
    String requestId = RequestIds.current();
    r.setRequestId(requestId == null ? "" : requestId);
    r.setDetails(JSONB.valueOf(toJson(details)));
    dao.insert(tx, r);
  }

  static String toJson(Map<String, String> details) {
    StringBuilder sb = new StringBuilder("{");
    for (Map.Entry<String, String> e : new TreeMap<>(details).entrySet()) {
      if (sb.length() > 1) {
        sb.append(',');
      }
      quote(sb, e.getKey());
      sb.append(':');
      quote(sb, e.getValue());
    }
    return sb.append('}').toString();
  }

  private static void quote(StringBuilder sb, String s) {
    sb.append('"');
    for (char c : s.toCharArray()) {
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        default -> {
          if (c < 0x20) {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    sb.append('"');
  }
}
