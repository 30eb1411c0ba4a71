package dev.tally.identity.webhooks;

import static dev.tally.identity.db.jooq.Tables.WEBHOOK_DELIVERIES;
import static dev.tally.identity.db.jooq.Tables.WEBHOOK_ENDPOINTS;

import dev.tally.common.db.Database;
import dev.tally.identity.crypto.SecretBox;
import dev.tally.identity.db.jooq.tables.records.WebhookDeliveriesRecord;
import dev.tally.identity.db.jooq.tables.records.WebhookEndpointsRecord;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delivers queued webhooks at least once: due deliveries are leased in one short transaction (so several
 * replicas never post the same one at once), posted outside it, and their outcome stored; a failure is retried
 * with exponential backoff (1 s, 2 s, 4 s … at most an hour) and marked failed after the last attempt, visible
 * and replayable. Each POST is signed: {@code Tally-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
 * "t.body">} (a second v1 with the rotated-out secret during its grace).
 */
public final class WebhookSender implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(WebhookSender.class);
  private static final int BATCH = 20;
  private static final Duration LEASE = Duration.ofSeconds(60);

  private final Database db;
  private final SecretBox box;
  private final Clock clock;
  private final Duration retryBase;
  private final int maxAttempts;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5))
      .followRedirects(HttpClient.Redirect.NEVER).build();
  private final Thread thread;
  private volatile boolean running = true;

  public WebhookSender(Database db, SecretBox box, Clock clock, Duration retryBase, int maxAttempts) {
    this.db = db;
    this.box = box;
    this.clock = clock;
    this.retryBase = retryBase;
    this.maxAttempts = maxAttempts;
    this.thread = Thread.ofVirtual().name("webhook-sender").unstarted(this::loop);
  }

  public WebhookSender start() {
    thread.start();
    return this;
  }

  /** Looks for due deliveries now (after an event was queued). */
  public void wake() {
    LockSupport.unpark(thread);
  }

  private void loop() {
    while (running) {
      try {
        if (sendDue() == 0) {
          LockSupport.parkNanos(Duration.ofMillis(250).toNanos());
        }
      } catch (RuntimeException e) {
        log.warn("webhooks: {}", e.toString());
        LockSupport.parkNanos(Duration.ofSeconds(1).toNanos());
      }
    }
  }

  /** Sends what is due; returns how many were attempted. */
  int sendDue() {
    OffsetDateTime now = OffsetDateTime.now(clock);
    List<WebhookDeliveriesRecord> due = db.transaction(tx -> {
      var rows = tx.dsl().selectFrom(WEBHOOK_DELIVERIES).where(WEBHOOK_DELIVERIES.STATE.eq("pending"),
          WEBHOOK_DELIVERIES.NEXT_ATTEMPT_TIME.le(now)).orderBy(WEBHOOK_DELIVERIES.NEXT_ATTEMPT_TIME).limit(BATCH)
          .forUpdate().skipLocked().fetch();
      rows.forEach(d -> tx.dsl().update(WEBHOOK_DELIVERIES).set(WEBHOOK_DELIVERIES.NEXT_ATTEMPT_TIME, now.plus(LEASE))
          .where(WEBHOOK_DELIVERIES.ID.eq(d.getId())).execute());
      return rows;
    });
    for (WebhookDeliveriesRecord d : due) {
      WebhookEndpointsRecord ep = db.transaction(tx -> tx.dsl().selectFrom(WEBHOOK_ENDPOINTS)
          .where(WEBHOOK_ENDPOINTS.ID.eq(d.getEndpointId())).fetchOne());
      if (ep != null) {
        Outcome o = post(ep, d);
        db.transaction(tx -> {
          store(tx.dsl(), d, o);
          return null;
        });
      }
    }
    return due.size();
  }

  private record Outcome(int status, String error) {
    boolean delivered() {
      return status >= 200 && status < 300;
    }
  }

  private Outcome post(WebhookEndpointsRecord ep, WebhookDeliveriesRecord d) {
    long t = clock.instant().getEpochSecond();
    String signature = "t=" + t + ",v1=" + hmac(box.open(ep.getSecretNonce(), ep.getSecretSealed()), t, d.getPayload());
    if (ep.getPreviousSecretSealed() != null && ep.getPreviousSecretExpireTime() != null
        && ep.getPreviousSecretExpireTime().toInstant().isAfter(clock.instant())) {
      signature += ",v1=" + hmac(box.open(ep.getPreviousSecretNonce(), ep.getPreviousSecretSealed()), t,
          d.getPayload());
    }
    try {
      HttpResponse<Void> r = http.send(HttpRequest.newBuilder(URI.create(ep.getUrl())).timeout(Duration.ofSeconds(10))
          .header("Content-Type", "application/json").header("Tally-Event-Id", d.getEventId())
          .header("Tally-Event-Type", d.getEventType()).header("Tally-Signature", signature)
          .POST(HttpRequest.BodyPublishers.ofString(d.getPayload(), StandardCharsets.UTF_8)).build(),
          HttpResponse.BodyHandlers.discarding());
      return new Outcome(r.statusCode(), r.statusCode() / 100 == 2 ? null : "HTTP " + r.statusCode());
    } catch (java.io.IOException e) {
      return new Outcome(0, e.getClass().getSimpleName() + ": " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Outcome(0, "interrupted");
    }
  }

  private void store(org.jooq.DSLContext tx, WebhookDeliveriesRecord d, Outcome o) {
    int attempts = d.getAttempts() + 1;
    OffsetDateTime now = OffsetDateTime.now(clock);
    var update = tx.update(WEBHOOK_DELIVERIES).set(WEBHOOK_DELIVERIES.ATTEMPTS, attempts)
        .set(WEBHOOK_DELIVERIES.LAST_STATUS, o.status()).set(WEBHOOK_DELIVERIES.LAST_ERROR, o.error());
    if (o.delivered()) {
      update.set(WEBHOOK_DELIVERIES.STATE, "delivered").set(WEBHOOK_DELIVERIES.DELIVER_TIME, now)
          .where(WEBHOOK_DELIVERIES.ID.eq(d.getId())).execute();
    } else if (attempts >= maxAttempts) {
      update.set(WEBHOOK_DELIVERIES.STATE, "failed").where(WEBHOOK_DELIVERIES.ID.eq(d.getId())).execute();
    } else {
      Duration wait = retryBase.multipliedBy(1L << Math.min(attempts - 1, 20));
      update.set(WEBHOOK_DELIVERIES.NEXT_ATTEMPT_TIME, now.plus(wait.compareTo(Duration.ofHours(1)) > 0
          ? Duration.ofHours(1) : wait)).where(WEBHOOK_DELIVERIES.ID.eq(d.getId())).execute();
    }
  }

  /** The hex HMAC-SHA256 of {@code "t.body"} under {@code secret}. */
  public static String hmac(String secret, long t, String body) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
      return HexFormat.of().formatHex(mac.doFinal((t + "." + body).getBytes(StandardCharsets.UTF_8)));
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    running = false;
    LockSupport.unpark(thread);
  }
}
