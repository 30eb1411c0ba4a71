package dev.tally.metering.ingest;

import dev.tally.common.auth.Caller;
import dev.tally.common.db.ColumnArrays;
import dev.tally.common.db.Database;
import dev.tally.common.db.Idempotency;
import dev.tally.common.error.Reasons;
import dev.tally.common.error.TallyException;
import dev.tally.common.grpc.ProtoTime;
import dev.tally.common.kafka.KafkaClients;
import dev.tally.common.money.Pricing;
import dev.tally.metering.discounts.Discounts;
import dev.tally.common.money.MoneyBounds;
import dev.tally.metering.catalog.PriceCatalog;
import dev.tally.metering.db.jooq.tables.records.MetersRecord;
import dev.tally.metering.db.jooq.tables.records.PricesRecord;
import dev.tally.metering.keys.ApiKeyDirectory;
import dev.tally.metering.rollups.UsageDeltas;
import dev.tally.proto.events.v1.UsageEvent;
import dev.tally.proto.metering.v1.RecordResult;
import dev.tally.proto.metering.v1.RecordStatus;
import dev.tally.proto.metering.v1.UsageRecord;
import io.grpc.Status;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.jooq.DSLContext;

/**
 * RecordUsage: validates and prices each record, then in one transaction claims the new event ids in the
 * ingest log, publishes their events to {@code usage.v1} (keyed by billing account) and waits for Kafka's
 * acknowledgement before committing. So an acknowledged record is on Kafka (never lost), a claim exists only
 * for a published event (a retry is never swallowed, unlike OpenMeter #5118), and a replay is reported:
 * DUPLICATE for the same payload, REJECTED IDEMPOTENCY_KEY_REUSED for another. Should the commit itself fail
 * after the broker took the events, the client's retry publishes them again and the wallet's own unique
 * claim absorbs the copy.
 */
public final class UsageIngestor {
  /** Longest wait for Kafka's acknowledgement when the call has no earlier deadline. */
  private static final Duration ACK_TIMEOUT = Duration.ofSeconds(10);
  private final Database db;
  private final PriceCatalog catalog;
  private final Discounts discounts;
  private final ApiKeyDirectory keys;
  private final KafkaProducer<String, byte[]> producer;
  private final Clock clock;
  private final Duration maxAge;
  private final Duration maxFutureSkew;

  public UsageIngestor(Database db, PriceCatalog catalog, Discounts discounts, ApiKeyDirectory keys,
      KafkaProducer<String, byte[]> producer, Clock clock, Duration maxAge, Duration maxFutureSkew) {
    this.db = db;
    this.catalog = catalog;
    this.discounts = discounts;
    this.keys = keys;
    this.producer = producer;
    this.clock = clock;
    this.maxAge = maxAge;
    this.maxFutureSkew = maxFutureSkew;
  }

  /** A record that passed validation and is about to be claimed: its event, serialized once. */
  private record Candidate(int index, UsageEvent event, byte[] hash, byte[] bytes) {}

  /** A record that passed validation, priced at list; its discount is read for the whole call at once. */
  private record Valid(int index, UsageRecord record, ApiKeyDirectory.KeyInfo key, String meter, long cost,
      String currency) {}

  private io.micrometer.core.instrument.MeterRegistry registry;

  /** Counts records by result ({@code tally.usage.records}: accepted, duplicate, rejected with its reason). */
  public UsageIngestor metrics(io.micrometer.core.instrument.MeterRegistry registry) {
    this.registry = registry;
    return this;
  }

  public List<RecordResult> record(Caller caller, List<UsageRecord> records) {
    List<RecordResult> results = recordAll(caller, records);
    if (registry != null) { // one counter lookup per result and reason, not per record
      Map<RecordStatus, Map<String, Integer>> counts = new java.util.EnumMap<>(RecordStatus.class);
      for (RecordResult r : results) {
        counts.computeIfAbsent(r.getStatus(), k -> new HashMap<>()).merge(r.getReason(), 1, Integer::sum);
      }
      counts.forEach((status, reasons) -> reasons.forEach((reason, n) -> registry.counter("tally.usage.records",
          "result", status.name().substring("RECORD_STATUS_".length()).toLowerCase(java.util.Locale.ROOT),
          "reason", reason).increment(n)));
    }
    return results;
  }

  private List<RecordResult> recordAll(Caller caller, List<UsageRecord> records) {
    if (!caller.platform()) {
      throw TallyException.permissionDenied(Reasons.ROLE_FORBIDDEN, "usage is recorded by the platform's backend");
    }
    Instant now = clock.instant();
    RecordResult[] results = new RecordResult[records.size()];
    PriceCatalog.Snapshot prices = catalog.recent(db.dsl());
    Map<String, Optional<ApiKeyDirectory.KeyInfo>> keyInfo = new HashMap<>();
    List<Valid> valid = new ArrayList<>();
    for (int i = 0; i < records.size(); i++) {
      UsageRecord r = records.get(i);
      String reason = null;
      String meterId = r.getMeter().startsWith("meters/") ? r.getMeter().substring("meters/".length()) : r.getMeter();
      Optional<MetersRecord> meter = prices.meter(meterId);
      Instant occurred = ProtoTime.instant(r.getOccurredAt());
      Optional<ApiKeyDirectory.KeyInfo> key = r.getApiKey().isEmpty() ? Optional.empty()
          : keyInfo.computeIfAbsent(r.getApiKey(), keys::lookup);
      Optional<PricesRecord> price = meter.isEmpty() ? Optional.empty()
          : prices.priceAt(meterId, r.getModel(), occurred);
      long cost = price.isEmpty() || r.getQuantity() < 0 || r.getQuantity() > MoneyBounds.MAX_USAGE_QUANTITY ? 0
          : PriceCatalog.costWithin(r.getQuantity(), price.get(), MoneyBounds.MAX_USAGE_COST_NANOS);
      if (r.getQuantity() < 0) {
        reason = Reasons.NEGATIVE_QUANTITY;
      } else if (r.getQuantity() > MoneyBounds.MAX_USAGE_QUANTITY) {
        reason = Reasons.QUANTITY_TOO_LARGE;
      } else if (meter.isEmpty()) {
        reason = Reasons.UNKNOWN_METER;
      } else if (key.isEmpty()) {
        reason = Reasons.UNKNOWN_KEY;
      } else if (key.get().scope().refusal(meterId, r.getModel()) instanceof String refused) {
        reason = refused; // METER_NOT_ALLOWED, MODEL_NOT_ALLOWED
      } else if (occurred.isAfter(now.plus(maxFutureSkew))) {
        reason = Reasons.OCCURRED_IN_FUTURE;
      } else if (occurred.isBefore(now.minus(maxAge))) {
        reason = Reasons.OCCURRED_TOO_LONG_AGO;
      } else if (price.isEmpty()) {
        reason = Reasons.NO_PRICE;
      } else if (cost < 0) {
        reason = Reasons.COST_TOO_LARGE;
      } else if (!r.getHold().isEmpty() && !r.getHold().startsWith(key.get().billingAccount() + "/holds/")) {
        reason = Reasons.UNKNOWN_HOLD;
      }
      if (reason != null) {
        results[i] = rejected(r.getEventId(), reason);
        continue;
      }
      valid.add(new Valid(i, r, key.get(), meterId, cost, price.get().getCurrencyCode()));
    }
    if (!valid.isEmpty()) {
      List<Candidate> candidates = candidates(valid, now);
      try {
        db.transaction(tx -> {
          claimAndPublish(tx.dsl(), candidates, results, true);
          return null;
        });
      } catch (SeenBefore e) { // rolled back before anything was published: again, sorting new from repeated
        db.transaction(tx -> {
          claimAndPublish(tx.dsl(), candidates, results, false);
          return null;
        });
      }
    }
    return Arrays.asList(results);
  }

  /**
   * The events to publish, priced at their team's net price (each carries its discount, see
   * {@link Discounts}, read for all the call's teams at once) and their payload hash.
   */
  private List<Candidate> candidates(List<Valid> valid, Instant now) {
    Map<String, Integer> bps = discounts.recent(db.dsl(), valid.stream().map(v -> v.key().billingAccount())
        .collect(java.util.stream.Collectors.toSet()));
    com.google.protobuf.Timestamp recordedAt = ProtoTime.ts(now);
    List<Candidate> out = new ArrayList<>(valid.size());
    for (Valid v : valid) {
      UsageRecord r = v.record();
      ApiKeyDirectory.KeyInfo k = v.key();
      byte[] hash = Idempotency.sha256(Idempotency.deterministicBytes(r));
      UsageEvent event = UsageEvent.newBuilder().setEventId(r.getEventId()).setBillingAccount(k.billingAccount())
          .setTeam(k.team()).setUser(k.user()).setApiKey(k.name()).setMeter(v.meter()).setModel(r.getModel())
          .setQuantity(r.getQuantity()).setCostNanos(v.cost())
          .setDiscountNanos(Pricing.discount(v.cost(), bps.getOrDefault(k.billingAccount(), 0)))
          .setCurrencyCode(v.currency()).setOccurredAt(r.getOccurredAt()).setRecordedAt(recordedAt)
          .setHold(r.getHold()).putAllAttributes(r.getAttributesMap())
          .setPayloadHash(com.google.protobuf.ByteString.copyFrom(hash)).build();
      out.add(new Candidate(v.index(), event, hash, event.toByteArray()));
    }
    return out;
  }

  /** An event's identity in the ingest log. */
  private record EventKey(String account, String eventId) {
    static EventKey of(UsageEvent e) {
      return new EventKey(e.getBillingAccount(), e.getEventId());
    }
  }

  /** What an event id was accepted as: its payload hash, list cost and discount. */
  private record Accepted(byte[] hash, long cost, long discount) {}

  /** A claim found an event id taken: the transaction rolls back and the call is claimed again, id by id. */
  private static final class SeenBefore extends RuntimeException {
    SeenBefore() {
      super("an event id of the call was claimed before", null, false, false);
    }
  }

  private static final String[] CLAIM_TYPES = {"text", "text", "bytea", "bigint", "bigint", "bytea", "bigint"};
  private static final String CLAIM = "insert into ingested (billing_account, event_id, payload_hash, cost_nanos, "
      + "discount_nanos, event, current_quantity) select * from " + ColumnArrays.unnest(CLAIM_TYPES);

  /**
   * Claims every candidate's id, or throws {@link SeenBefore} when one was taken: a plain insert costs
   * PostgreSQL about half of what {@code on conflict do nothing returning} does, and nearly every call is new.
   */
  private static java.util.Set<EventKey> claimAllNew(DSLContext tx, List<Candidate> candidates) {
    tx.connection(c -> {
      try (var ps = c.prepareStatement(CLAIM)) {
        bindClaims(c, ps, candidates);
        ps.executeUpdate();
      } catch (java.sql.SQLException e) {
        if ("23505".equals(e.getSQLState())) { // unique_violation
          throw new SeenBefore();
        }
        throw e;
      }
    });
    java.util.Set<EventKey> claimed = new java.util.HashSet<>();
    candidates.forEach(c -> claimed.add(EventKey.of(c.event())));
    return claimed;
  }

  /** Claims the candidates' ids not taken yet; returns them. */
  private static java.util.Set<EventKey> claimNew(DSLContext tx, List<Candidate> candidates) {
    java.util.Set<EventKey> claimed = new java.util.HashSet<>();
    tx.connection(c -> {
      try (var ps = c.prepareStatement(CLAIM + " on conflict do nothing returning billing_account, event_id")) {
        bindClaims(c, ps, candidates);
        try (var rs = ps.executeQuery()) {
          while (rs.next()) {
            claimed.add(new EventKey(rs.getString(1), rs.getString(2)));
          }
        }
      }
    });
    return claimed;
  }

  /** One statement from arrays whatever the batch size (a rendered multi-row insert cost more than the rest). */
  private static void bindClaims(java.sql.Connection c, java.sql.PreparedStatement ps, List<Candidate> candidates)
      throws java.sql.SQLException {
    ColumnArrays.bind(c, ps, CLAIM_TYPES, candidates, k -> new Object[] {k.event().getBillingAccount(),
        k.event().getEventId(), k.hash(), k.event().getCostNanos(), k.event().getDiscountNanos(), k.bytes(),
        k.event().getQuantity()});
  }

  private void claimAndPublish(DSLContext tx, List<Candidate> candidates, RecordResult[] results,
      boolean expectAllNew) {
    java.util.Set<EventKey> claimed = expectAllNew ? claimAllNew(tx, candidates) : claimNew(tx, candidates);
    Map<EventKey, Accepted> existing = new HashMap<>();
    if (claimed.size() < candidates.size()) { // a retried batch: what each repeated id was accepted as, in one read
      List<Candidate> repeated = candidates.stream().filter(c -> !claimed.contains(EventKey.of(c.event()))).toList();
      tx.connection(c -> {
        try (var ps = c.prepareStatement("select i.billing_account, i.event_id, i.payload_hash, i.cost_nanos, "
            + "i.discount_nanos from ingested i join " + ColumnArrays.unnest("text", "text")
            + " as r(a, e) on i.billing_account = r.a and i.event_id = r.e")) {
          ColumnArrays.bind(c, ps, new String[] {"text", "text"}, repeated,
              k -> new Object[] {k.event().getBillingAccount(), k.event().getEventId()});
          try (var rs = ps.executeQuery()) {
            while (rs.next()) {
              existing.put(new EventKey(rs.getString(1), rs.getString(2)),
                  new Accepted(rs.getBytes(3), rs.getLong(4), rs.getLong(5)));
            }
          }
        }
      });
    }
    boolean allNew = claimed.size() == candidates.size();
    List<Candidate> fresh = new ArrayList<>(claimed.size());
    for (Candidate c : candidates) {
      UsageEvent e = c.event();
      EventKey k = EventKey.of(e);
      if (claimed.remove(k)) { // the first of a repeated id in one request takes the claim
        fresh.add(c);
        results[c.index()] = RecordResult.newBuilder().setEventId(e.getEventId())
            .setStatus(RecordStatus.RECORD_STATUS_ACCEPTED).setCostNanos(e.getCostNanos())
            .setNetCostNanos(e.getCostNanos() - e.getDiscountNanos()).setCurrencyCode(e.getCurrencyCode()).build();
        if (!allNew) { // a later record of this request may repeat the id
          existing.putIfAbsent(k, new Accepted(c.hash(), e.getCostNanos(), e.getDiscountNanos()));
        }
        continue;
      }
      Accepted prior = existing.get(k);
      results[c.index()] = Arrays.equals(prior.hash(), c.hash())
          ? RecordResult.newBuilder().setEventId(e.getEventId()).setStatus(RecordStatus.RECORD_STATUS_DUPLICATE)
              .setCostNanos(prior.cost()).setNetCostNanos(prior.cost() - prior.discount())
              .setCurrencyCode(e.getCurrencyCode()).build()
          : rejected(e.getEventId(), Reasons.IDEMPOTENCY_KEY_REUSED);
    }
    // Counted here, in the claims' transaction: the rollup consumer skips what carries the header.
    UsageDeltas.add(tx, fresh.stream().map(Candidate::event).toList());
    List<ProducerRecord<String, byte[]>> records = new ArrayList<>(fresh.size());
    for (Candidate c : fresh) {
      records.add(UsageDeltas.counted(c.event().getBillingAccount(), c.bytes()));
    }
    // Throws UNAVAILABLE in time, which rolls the claims back: the client retries with the same ids.
    KafkaClients.sendAndAwait(producer, records, ACK_TIMEOUT);
  }

  private static RecordResult rejected(String eventId, String reason) {
    return RecordResult.newBuilder().setEventId(eventId).setStatus(RecordStatus.RECORD_STATUS_REJECTED)
        .setReason(reason).build();
  }
}
