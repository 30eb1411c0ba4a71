package dev.tally.identity.events;

import com.google.protobuf.Timestamp;
import dev.tally.common.auth.Caller;
import dev.tally.common.ids.Ids;
import dev.tally.common.kafka.Outbox;
import dev.tally.common.kafka.Topics;
import dev.tally.proto.events.v1.IdentityEvent;
import java.time.Instant;
import org.jooq.DSLContext;

/**
 * Publishes identity changes to {@code identity.v1} through the outbox, in the change's transaction. Events
 * are keyed by the billing account they concern (a team's wallet for team, member and team-key events), so
 * a consumer sees one team's changes in order: the team before its keys, its keys before its deletion.
 */
public final class IdentityEvents {

  /** Appends {@code event} (its change set, the rest filled in here), keyed by {@code key}. */
  public void publish(DSLContext tx, String key, Caller actor, IdentityEvent.Builder event) {
    Instant now = Instant.now();
    event.setEventId(Ids.newId())
        .setOccurTime(Timestamp.newBuilder().setSeconds(now.getEpochSecond()).setNanos(now.getNano()))
        .setActor(actor.platform() ? "platform" : actor.isUser() ? actor.user() : actor.apiKey());
    Outbox.append(tx, Topics.IDENTITY, key, event.build());
  }
}
