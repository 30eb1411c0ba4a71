package dev.tally.metering.catalog;

import static dev.tally.metering.db.jooq.Tables.METERS;
import static dev.tally.metering.db.jooq.Tables.PRICES;

import dev.tally.common.auth.Caller;
import dev.tally.common.error.Reasons;
import dev.tally.common.error.TallyException;
import dev.tally.common.ids.Ids;
import dev.tally.common.kafka.AuditTrail;
import dev.tally.common.money.Pricing;
import dev.tally.metering.db.jooq.tables.records.MetersRecord;
import dev.tally.metering.db.jooq.tables.records.PricesRecord;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jooq.DSLContext;

/** Meters and effective-dated prices; exact integer pricing, rounded once per event (half-even). */
public final class PriceCatalog {

  /** All meters and price versions, loaded once per batch for in-memory lookups. */
  public static final class Snapshot {
    private final Map<String, MetersRecord> meters = new HashMap<>();
    private final Map<String, List<PricesRecord>> prices = new HashMap<>();

    Snapshot(List<MetersRecord> meters, List<PricesRecord> prices) {
      meters.forEach(m -> this.meters.put(m.getId(), m));
      for (PricesRecord p : prices) {
        this.prices.computeIfAbsent(p.getMeter() + "|" + p.getModel(), k -> new java.util.ArrayList<>()).add(p);
      }
      this.prices.values().forEach(l -> l.sort(Comparator.comparing(PricesRecord::getEffectiveTime).reversed()));
    }

    public Optional<MetersRecord> meter(String id) {
      return Optional.ofNullable(meters.get(id));
    }

    /** The price effective at {@code at}: the model's own when it has one, else the meter's default. */
    public Optional<PricesRecord> priceAt(String meter, String model, Instant at) {
      Optional<PricesRecord> own = model.isEmpty() ? Optional.empty() : latest(meter + "|" + model, at);
      return own.isPresent() ? own : latest(meter + "|", at);
    }

    private Optional<PricesRecord> latest(String key, Instant at) {
      for (PricesRecord p : prices.getOrDefault(key, List.of())) {
        if (!p.getEffectiveTime().toInstant().isAfter(at)) {
          return Optional.of(p);
        }
      }
      return Optional.empty();
    }
  }

  /** How long a replica prices from the catalog it read when another replica changed it. */
  public static final java.time.Duration SHARED_STALENESS = java.time.Duration.ofSeconds(1);

  /**
   * The catalog as read at most {@link #SHARED_STALENESS} ago, keyed by this replica's change count: a
   * price set here ({@link #changed}) takes effect for the next call, a read begun before it is never
   * served after it. Usage pricing reads it on every RecordUsage; two queries and their mapping per call
   * were a fifth of the call's time.
   */
  private final com.github.benmanes.caffeine.cache.Cache<Long, Snapshot> recent =
      com.github.benmanes.caffeine.cache.Caffeine.newBuilder().maximumSize(2).expireAfterWrite(SHARED_STALENESS)
          .build();
  private final java.util.concurrent.atomic.AtomicLong changes = new java.util.concurrent.atomic.AtomicLong();

  /** The catalog now, read in {@code tx}. */
  public Snapshot snapshot(DSLContext tx) {
    return new Snapshot(tx.selectFrom(METERS).fetch(), tx.selectFrom(PRICES).fetch());
  }

  /** The catalog for pricing usage: shared by concurrent calls, fresh after a change made here. */
  public Snapshot recent(DSLContext dsl) {
    return recent.get(changes.get(), generation -> snapshot(dsl));
  }

  /** A price set through this replica has committed: the next {@link #recent} reads it. */
  public void changed() {
    recent.invalidateAll();
    changes.incrementAndGet();
  }

  /** {@code quantity × price / perQuantity} in nanos (see {@link Pricing}), or {@code -1} above {@code max}. */
  public static long costWithin(long quantity, PricesRecord price, long max) {
    return Pricing.costWithin(quantity, price.getPriceNanos(), price.getPerQuantity(), max);
  }

  public List<MetersRecord> meters(DSLContext tx) {
    return tx.selectFrom(METERS).orderBy(METERS.ID).fetch();
  }

  /** The versions effective at {@code at}: one per (meter, model). */
  public List<PricesRecord> prices(DSLContext tx, String meter, Instant at) {
    Snapshot s = snapshot(tx);
    return s.prices.entrySet().stream()
        .filter(e -> meter.isEmpty() || e.getKey().startsWith(meter + "|"))
        .map(e -> s.latest(e.getKey(), at))
        .flatMap(Optional::stream)
        .sorted(Comparator.comparing(PricesRecord::getMeter).thenComparing(PricesRecord::getModel))
        .toList();
  }

  public PricesRecord setPrice(DSLContext tx, Caller caller, String meter, String model, long priceNanos,
      long perQuantity, String currency, Instant effective) {
    if (!caller.platform()) {
      throw TallyException.permissionDenied(Reasons.ROLE_FORBIDDEN, "prices are set by the platform's operators");
    }
    String id = meter.startsWith("meters/") ? meter.substring("meters/".length()) : meter;
    if (tx.fetchCount(METERS, METERS.ID.eq(id)) == 0) {
      throw new TallyException(io.grpc.Status.Code.NOT_FOUND, Reasons.UNKNOWN_METER, "meter " + meter
          + " does not exist (ListMeters)", java.util.Map.of("field", "meter"), java.util.List.of());
    }
    PricesRecord p = new PricesRecord();
    p.setId(Ids.newId());
    p.setMeter(id);
    p.setModel(model);
    p.setPriceNanos(priceNanos);
    p.setPerQuantity(perQuantity <= 0 ? 1 : perQuantity);
    p.setCurrencyCode(currency.isEmpty() ? "USD" : currency);
    p.setEffectiveTime(OffsetDateTime.ofInstant(effective, ZoneOffset.UTC));
    p.setCreateTime(OffsetDateTime.now());
    PricesRecord before = snapshot(tx).priceAt(id, model, effective).orElse(null);
    tx.insertInto(PRICES).set(p).execute();
    AuditTrail.record(tx, caller, AuditTrail.PLATFORM_SCOPE, "price.set", "meters/" + id, java.util.Map.of(
        "model", model, "effective_time", p.getEffectiveTime().toString(), "currency_code", p.getCurrencyCode(),
        "before.price_nanos", before == null ? "none" : Long.toString(before.getPriceNanos()),
        "before.per_quantity", before == null ? "none" : Long.toString(before.getPerQuantity()),
        "after.price_nanos", Long.toString(p.getPriceNanos()), "after.per_quantity",
        Long.toString(p.getPerQuantity())));
    return p;
  }
}
