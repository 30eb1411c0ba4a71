package dev.tally.metering.ingest;

import static dev.tally.metering.db.jooq.Tables.INGESTED;

import dev.tally.common.auth.Caller;
import dev.tally.common.error.Reasons;
import dev.tally.common.error.TallyException;
import dev.tally.common.grpc.ProtoTime;
import dev.tally.common.kafka.AuditTrail;
import dev.tally.common.kafka.KafkaClients;
import dev.tally.common.money.MoneyBounds;
import dev.tally.common.money.Pricing;
import dev.tally.metering.catalog.PriceCatalog;
import dev.tally.metering.discounts.Discounts;
import dev.tally.metering.keys.ApiKeyDirectory;
import dev.tally.metering.rollups.UsageDeltas;
import dev.tally.proto.events.v1.UsageEvent;
import dev.tally.proto.metering.v1.CorrectUsageRequest;
import dev.tally.proto.metering.v1.CorrectUsageResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.jooq.DSLContext;

/**
 * Voids or amends recorded usage by publishing a correction event ({@code corrects} set) that the wallet turns
 * into a reversal and a replacement; the difference is counted in the rollups in the same transaction. The
 * corrected event's row is locked, so corrections of one event are published in order; what it counts now is
 * kept on that row.
 */
public final class UsageCorrections {
  /** How long after recording usage may be corrected. */
  public static final Duration WINDOW = Duration.ofDays(30);
  private static final Duration ACK_TIMEOUT = Duration.ofSeconds(10);

  private final PriceCatalog catalog;
  private final Discounts discounts;
  private final ApiKeyDirectory keys;
  private final KafkaProducer<String, byte[]> producer;
  private final Clock clock;

  public UsageCorrections(PriceCatalog catalog, Discounts discounts, ApiKeyDirectory keys,
      KafkaProducer<String, byte[]> producer, Clock clock) {
    this.catalog = catalog;
    this.discounts = discounts;
    this.keys = keys;
    this.producer = producer;
    this.clock = clock;
  }

  public CorrectUsageResponse correct(DSLContext tx, Caller caller, CorrectUsageRequest req) {
    if (!caller.platform()) {
      throw TallyException.permissionDenied(Reasons.ROLE_FORBIDDEN, "usage is corrected by the platform's backend");
    }
    ApiKeyDirectory.KeyInfo key = keys.lookup(req.getApiKey()).orElseThrow(() ->
        TallyException.notFound(Reasons.NOT_FOUND, "key " + req.getApiKey() + " not found"));
    var row = tx.selectFrom(INGESTED).where(INGESTED.BILLING_ACCOUNT.eq(key.billingAccount()),
        INGESTED.EVENT_ID.eq(req.getEventId())).forUpdate().fetchOptional().orElseThrow(() ->
        TallyException.notFound(Reasons.NOT_FOUND, "no usage event " + req.getEventId() + " of " + req.getApiKey()));
    Instant now = clock.instant();
    if (row.getRecordTime().toInstant().plus(WINDOW).isBefore(now)) {
      throw TallyException.failedPrecondition(Reasons.CORRECTION_WINDOW_CLOSED,
          "usage can be corrected within " + WINDOW.toDays() + " days of its recording");
    }
    UsageEvent original = parse(row.getEvent());
    if (original == null || !original.getCorrects().isEmpty() || !original.getApiKey().equals(req.getApiKey())) {
      throw TallyException.failedPrecondition(Reasons.NOT_CORRECTABLE, original == null
          ? "the event was recorded before corrections existed" : "correct the original event, with its own key");
    }
    long quantity = req.hasVoid() ? 0 : req.getQuantity();
    long cost = 0;
    if (quantity > 0) {
      var price = catalog.snapshot(tx).priceAt(original.getMeter(), original.getModel(),
          ProtoTime.instant(original.getOccurredAt())).orElseThrow(() -> TallyException.failedPrecondition(
              Reasons.NO_PRICE, "the meter has no price at the event's time"));
      cost = PriceCatalog.costWithin(quantity, price, MoneyBounds.MAX_USAGE_COST_NANOS);
      if (cost < 0) {
        throw TallyException.invalidArgument("quantity", "costs more than one usage record may ($1,000,000)");
      }
    }
    long discount = Pricing.discount(cost, discounts.of(tx, List.of(key.billingAccount()))
        .getOrDefault(key.billingAccount(), 0));
    long previousQuantity = row.getCurrentQuantity() == null ? original.getQuantity() : row.getCurrentQuantity();
    long previousCost = row.getCurrentCost() == null ? row.getCostNanos() : row.getCurrentCost();
    long previousDiscount = row.getCurrentDiscount() == null ? row.getDiscountNanos() : row.getCurrentDiscount();
    String id = req.getEventId() + "~" + req.getRequestId();
    UsageEvent correction = original.toBuilder().setEventId(id).setQuantity(quantity).setCostNanos(cost)
        .setDiscountNanos(discount).setRecordedAt(ProtoTime.ts(now)).clearHold().clearPayloadHash()
        .setCorrects(req.getEventId()).setReversedQuantity(previousQuantity).setReversedCostNanos(previousCost)
        .setReversedDiscountNanos(previousDiscount).setReversedCalls(row.getCurrentCalls())
        .setCorrectionReason(req.getReason()).build();
    // The correction's own claim: published once, whatever the retries.
    int claimed = tx.insertInto(INGESTED).set(INGESTED.BILLING_ACCOUNT, key.billingAccount())
        .set(INGESTED.EVENT_ID, id).set(INGESTED.PAYLOAD_HASH, dev.tally.common.db.Idempotency.sha256(
            correction.toByteArray())).set(INGESTED.COST_NANOS, cost).set(INGESTED.DISCOUNT_NANOS, discount)
        .set(INGESTED.EVENT, correction.toByteArray()).onConflictDoNothing().execute();
    if (claimed == 1) {
      row.setCurrentQuantity(quantity);
      row.setCurrentCost(cost);
      row.setCurrentDiscount(discount);
      row.setCurrentCalls(quantity > 0 ? 1 : 0);
      row.store();
      AuditTrail.record(tx, caller, key.team().isEmpty() ? key.user() : key.team(), "usage.correct",
          req.getApiKey() + "/events/" + req.getEventId(), Map.of("kind", req.hasVoid() ? "void" : "amend",
              "reason", req.getReason(), "before.quantity", Long.toString(previousQuantity), "after.quantity",
              Long.toString(quantity), "before.cost_nanos", Long.toString(previousCost), "after.cost_nanos",
              Long.toString(cost)));
      // Throws UNAVAILABLE in time, which rolls the claim back: the client retries with the same request_id.
      UsageDeltas.add(tx, List.of(correction));
      KafkaClients.sendAndAwait(producer, List.of(UsageDeltas.counted(key.billingAccount(),
          correction.toByteArray())), ACK_TIMEOUT);
    }
    return CorrectUsageResponse.newBuilder().setCorrectionEventId(id).setPreviousCostNanos(previousCost)
        .setPreviousNetCostNanos(previousCost - previousDiscount).setCostNanos(cost).setNetCostNanos(cost - discount)
        .build();
  }

  private static UsageEvent parse(byte[] bytes) {
    if (bytes == null) {
      return null;
    }
    try {
      return UsageEvent.parseFrom(bytes);
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      return null;
    }
  }
}
