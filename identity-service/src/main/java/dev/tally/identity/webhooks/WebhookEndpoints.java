package dev.tally.identity.webhooks;

import static dev.tally.identity.db.jooq.Tables.WEBHOOK_DELIVERIES;
import static dev.tally.identity.db.jooq.Tables.WEBHOOK_ENDPOINTS;

import dev.tally.common.auth.Caller;
import dev.tally.common.error.Reasons;
import dev.tally.common.error.TallyException;
import dev.tally.common.ids.Ids;
import dev.tally.common.ids.PageTokens;
import dev.tally.identity.access.Names;
import dev.tally.identity.audit.AuditLog;
import dev.tally.identity.crypto.SecretBox;
import dev.tally.identity.db.TeamDao;
import dev.tally.identity.db.jooq.tables.records.WebhookDeliveriesRecord;
import dev.tally.identity.db.jooq.tables.records.WebhookEndpointsRecord;
import java.net.URI;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.Base64;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.jooq.DSLContext;

/**
 * The platform's webhook endpoints and their deliveries: registering (the signing secret shown once, stored
 * sealed), rotating the secret with a grace period, listing what was delivered or failed, replaying.
 */
public final class WebhookEndpoints {
  private static final Pattern TYPE = Pattern.compile("[a-z][a-z0-9_]{0,63}");
  private static final String PLATFORM_SCOPE = dev.tally.common.kafka.AuditTrail.PLATFORM_SCOPE;

  private final SecretBox box;
  private final TeamDao teams;
  private final AuditLog audit;
  private final SecureRandom random = new SecureRandom();

  public WebhookEndpoints(SecretBox box, TeamDao teams, AuditLog audit) {
    this.box = box;
    this.teams = teams;
    this.audit = audit;
  }

  /** An endpoint with its secret, shown once. */
  public record Created(WebhookEndpointsRecord endpoint, String secret) {}

  public Created create(DSLContext tx, Caller caller, String url, String team, List<String> types) {
    requirePlatform(caller);
    URI uri = validUrl(url);
    String teamId = null;
    if (!team.isEmpty()) {
      teamId = Names.teamId("team", team);
      String id = teamId;
      teams.activeTeam(tx, teamId, false).orElseThrow(() -> TallyException.notFound(Reasons.NOT_FOUND,
          "team " + team + " not found (" + id + ")"));
    }
    LinkedHashSet<String> eventTypes = new LinkedHashSet<>();
    for (String t : types) {
      if (!TYPE.matcher(t).matches()) {
        throw TallyException.invalidArgument("event_types", "'" + t + "' is not an event type (snake case)");
      }
      eventTypes.add(t);
    }
    String secret = newSecret();
    SecretBox.Sealed sealed = box.seal(secret);
    WebhookEndpointsRecord e = tx.newRecord(WEBHOOK_ENDPOINTS);
    e.setId(Ids.newId());
    e.setUrl(uri.toString());
    e.setTeamId(teamId);
    e.setEventTypes(eventTypes.toArray(new String[0]));
    e.setSecretNonce(sealed.nonce());
    e.setSecretSealed(sealed.ciphertext());
    e.store();
    audit.record(tx, teamId == null ? PLATFORM_SCOPE : Names.team(teamId), caller, "webhook.create",
        name(e), Map.of("url", e.getUrl(), "event_types", String.join(",", eventTypes)));
    return new Created(e, secret);
  }

  public List<WebhookEndpointsRecord> list(DSLContext tx, Caller caller) {
    requirePlatform(caller);
    return tx.selectFrom(WEBHOOK_ENDPOINTS).orderBy(WEBHOOK_ENDPOINTS.ID).fetch();
  }

  public void delete(DSLContext tx, Caller caller, String name) {
    WebhookEndpointsRecord e = get(tx, caller, name);
    e.delete();
    audit.record(tx, e.getTeamId() == null ? PLATFORM_SCOPE : Names.team(e.getTeamId()), caller, "webhook.delete",
        name, Map.of("url", e.getUrl()));
  }

  public Created rotate(DSLContext tx, Caller caller, String name, Duration grace) {
    WebhookEndpointsRecord e = get(tx, caller, name);
    e.setPreviousSecretNonce(e.getSecretNonce());
    e.setPreviousSecretSealed(e.getSecretSealed());
    e.setPreviousSecretExpireTime(OffsetDateTime.now().plus(grace.isZero() ? Duration.ofHours(24) : grace));
    String secret = newSecret();
    SecretBox.Sealed sealed = box.seal(secret);
    e.setSecretNonce(sealed.nonce());
    e.setSecretSealed(sealed.ciphertext());
    e.store();
    audit.record(tx, e.getTeamId() == null ? PLATFORM_SCOPE : Names.team(e.getTeamId()), caller, "webhook.rotate",
        name, Map.of("previous_secret_expire_time", e.getPreviousSecretExpireTime().toString()));
    return new Created(e, secret);
  }

  public record Page(List<WebhookDeliveriesRecord> deliveries, String nextPageToken) {}

  public Page deliveries(DSLContext tx, Caller caller, String endpoint, String state, String pageToken, int size) {
    WebhookEndpointsRecord e = get(tx, caller, endpoint);
    int n = PageTokens.pageSize(size);
    String list = "webhook-deliveries:" + e.getId();
    String before = PageTokens.decode(list, pageToken);
    var rows = tx.selectFrom(WEBHOOK_DELIVERIES).where(WEBHOOK_DELIVERIES.ENDPOINT_ID.eq(e.getId()))
        .and(state == null ? org.jooq.impl.DSL.noCondition() : WEBHOOK_DELIVERIES.STATE.eq(state))
        .and(before == null ? org.jooq.impl.DSL.noCondition() : WEBHOOK_DELIVERIES.ID.lt(before))
        .orderBy(WEBHOOK_DELIVERIES.ID.desc()).limit(n + 1).fetch();
    String next = rows.size() > n ? PageTokens.encode(list, rows.get(n - 1).getId()) : "";
    return new Page(rows.size() > n ? rows.subList(0, n) : rows, next);
  }

  /** Makes a delivery due again now, with its attempts counted from zero. */
  public WebhookDeliveriesRecord replay(DSLContext tx, Caller caller, String name) {
    requirePlatform(caller);
    int at = name.indexOf("/deliveries/");
    if (!name.startsWith("webhookEndpoints/") || at < 0) {
      throw TallyException.invalidArgument("name", "must look like webhookEndpoints/{endpoint}/deliveries/{id}");
    }
    WebhookEndpointsRecord e = get(tx, caller, name.substring(0, at));
    WebhookDeliveriesRecord d = tx.selectFrom(WEBHOOK_DELIVERIES).where(WEBHOOK_DELIVERIES.ENDPOINT_ID.eq(e.getId()),
        WEBHOOK_DELIVERIES.ID.eq(name.substring(at + "/deliveries/".length()))).forUpdate().fetchOptional()
        .orElseThrow(() -> TallyException.notFound(Reasons.NOT_FOUND, "delivery " + name + " not found"));
    d.setState("pending");
    d.setAttempts(0);
    d.setNextAttemptTime(OffsetDateTime.now());
    d.store();
    return d;
  }

  public static String name(WebhookEndpointsRecord e) {
    return "webhookEndpoints/" + e.getId();
  }

  private WebhookEndpointsRecord get(DSLContext tx, Caller caller, String name) {
    requirePlatform(caller);
    String id = name.substring(name.indexOf('/') + 1);
    return tx.selectFrom(WEBHOOK_ENDPOINTS).where(WEBHOOK_ENDPOINTS.ID.eq(id)).forUpdate().fetchOptional()
        .orElseThrow(() -> TallyException.notFound(Reasons.NOT_FOUND, "webhook endpoint " + name + " not found"));
  }

  /** HTTPS anywhere; plain HTTP only to a loopback host (development and tests). */
  static URI validUrl(String url) {
    try {
      URI u = URI.create(url);
      String host = u.getHost() == null ? "" : u.getHost();
      boolean loopback = host.equals("localhost") || host.equals("127.0.0.1") || host.equals("[::1]");
      if ("https".equals(u.getScheme()) && !host.isEmpty() || "http".equals(u.getScheme()) && loopback) {
        return u;
      }
    } catch (IllegalArgumentException e) {
      // answered below
    }
    throw TallyException.invalidArgument("url", "must be an https:// URL (http:// only to localhost)");
  }

  private String newSecret() {
    byte[] b = new byte[32];
    random.nextBytes(b);
    return "whsec_" + Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }

  private static void requirePlatform(Caller caller) {
    if (!caller.platform()) {
      throw TallyException.permissionDenied(Reasons.ROLE_FORBIDDEN, "webhooks are registered by the platform");
    }
  }
}
