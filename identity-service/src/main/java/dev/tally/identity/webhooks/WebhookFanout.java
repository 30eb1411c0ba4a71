package dev.tally.identity.webhooks;

import static dev.tally.identity.db.jooq.Tables.WEBHOOK_DELIVERIES;
import static dev.tally.identity.db.jooq.Tables.WEBHOOK_ENDPOINTS;

import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import dev.tally.common.ids.Ids;
import dev.tally.common.ids.Wallets;
import dev.tally.common.kafka.TransactionalConsumer;
import dev.tally.common.kafka.Topics;
import dev.tally.identity.db.jooq.tables.records.WebhookEndpointsRecord;
import dev.tally.proto.events.v1.IdentityEvent;
import dev.tally.proto.events.v1.WalletEvent;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Locale;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.jooq.DSLContext;

/**
 * Turns wallet.v1 and identity.v1 events into webhook deliveries, in the consumer's transaction (so each event
 * is queued once per matching endpoint, whatever the redeliveries). The type is the event's name in snake case;
 * a wallet's state changes (one per balance change) go only to endpoints that list `state_changed`.
 */
public final class WebhookFanout {
  private static final JsonFormat.Printer JSON = JsonFormat.printer().omittingInsignificantWhitespace();
  private final Runnable wake;

  public WebhookFanout(Runnable wake) {
    this.wake = wake;
  }

  public void apply(DSLContext tx, List<ConsumerRecord<String, byte[]>> records) {
    List<WebhookEndpointsRecord> endpoints = tx.selectFrom(WEBHOOK_ENDPOINTS).fetch();
    if (endpoints.isEmpty()) {
      return;
    }
    boolean queued = false;
    for (ConsumerRecord<String, byte[]> r : records) {
      Event e = event(r);
      if (e == null) {
        continue;
      }
      String owner = Wallets.owner(r.key() == null ? "" : r.key());
      String teamId = owner != null && owner.startsWith("teams/") ? owner.substring("teams/".length()) : null;
      String payload = "{\"id\":\"" + e.id() + "\",\"type\":\"" + e.type() + "\",\"team\":\""
          + (teamId == null ? "" : "teams/" + teamId) + "\",\"event\":" + e.json() + "}";
      for (WebhookEndpointsRecord ep : endpoints) {
        if (matches(ep, e.type(), teamId)) {
          tx.insertInto(WEBHOOK_DELIVERIES).set(WEBHOOK_DELIVERIES.ID, Ids.newId())
              .set(WEBHOOK_DELIVERIES.ENDPOINT_ID, ep.getId()).set(WEBHOOK_DELIVERIES.EVENT_ID, e.id())
              .set(WEBHOOK_DELIVERIES.EVENT_TYPE, e.type()).set(WEBHOOK_DELIVERIES.PAYLOAD, payload)
              .set(WEBHOOK_DELIVERIES.STATE, "pending").set(WEBHOOK_DELIVERIES.NEXT_ATTEMPT_TIME, OffsetDateTime.now())
              .onConflictDoNothing().execute();
          queued = true;
        }
      }
    }
    if (queued) {
      wake.run();
    }
  }

  private record Event(String id, String type, String json) {}

  private static Event event(ConsumerRecord<String, byte[]> r) {
    Message m;
    String id;
    String change;
    if (Topics.WALLET.equals(r.topic())) {
      WalletEvent w = TransactionalConsumer.parse(r, WalletEvent.parser(), "wallet");
      m = w;
      id = w.getEventId();
      change = w.getChangeCase().name();
    } else {
      IdentityEvent i = TransactionalConsumer.parse(r, IdentityEvent.parser(), "identity");
      m = i;
      id = i.getEventId();
      change = i.getChangeCase().name();
    }
    if (id.isEmpty() || change.equals("CHANGE_NOT_SET")) {
      return null;
    }
    try {
      return new Event(id, change.toLowerCase(Locale.ROOT), JSON.print(m));
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new IllegalArgumentException("event " + id + " cannot be printed as JSON", e);
    }
  }

  private static boolean matches(WebhookEndpointsRecord ep, String type, String teamId) {
    if (ep.getTeamId() != null && !ep.getTeamId().equals(teamId)) {
      return false;
    }
    List<String> types = List.of(ep.getEventTypes());
    return types.isEmpty() ? !type.equals("state_changed") : types.contains(type);
  }
}
