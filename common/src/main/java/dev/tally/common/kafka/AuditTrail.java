package dev.tally.common.kafka;

import dev.tally.common.auth.Caller;
import dev.tally.common.grpc.ProtoTime;
import dev.tally.common.grpc.RequestIds;
import dev.tally.common.ids.Ids;
import dev.tally.proto.events.v1.AuditEvent;
import java.time.Instant;
import java.util.Map;
import org.jooq.DSLContext;

/**
 * How a service other than identity writes to the one audit log: an {@link AuditEvent} appended to its
 * outbox in the transaction of the change (so it exists exactly when the change does), relayed to
 * {@code audit.v1}, and kept once per event id by identity, which serves ListAuditEvents.
 */
public final class AuditTrail {
  /** The scope of deployment-wide actions (prices), readable by the platform. */
  public static final String PLATFORM_SCOPE = "platform";

  private AuditTrail() {}

  public static void record(DSLContext tx, Caller caller, String scope, String action, String target,
      Map<String, String> details) {
    String requestId = RequestIds.current();
    AuditEvent event = AuditEvent.newBuilder().setEventId(Ids.newId()).setScope(scope).setActorUser(caller.user())
        .setActorTeam(caller.team()).setActorKey(caller.apiKey()).setAction(action).setTarget(target)
        .setRequestId(requestId == null ? "" : requestId).putAllDetails(details)
        .setOccurTime(ProtoTime.ts(Instant.now())).build();
    Outbox.append(tx, Topics.AUDIT, scope, event);
  }
}
