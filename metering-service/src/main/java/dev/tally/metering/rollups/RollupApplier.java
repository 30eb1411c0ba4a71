package dev.tally.metering.rollups;

import dev.tally.common.db.ColumnArrays;
import dev.tally.common.grpc.ProtoTime;
import dev.tally.proto.events.v1.UsageEvent;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import dev.tally.common.kafka.TransactionalConsumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.jooq.DSLContext;

/**
 * Builds per-minute usage rollups from {@code usage.v1}, from the same events the wallet debits. Each event
 * counts once (claimed by billing account and id in the batch's transaction), so the rollups agree with the
 * ledger however often an event is delivered.
 */
public final class RollupApplier {

  /** A rollup row's identity (its primary key); the team is stored with the row when it is first made. */
  private record Key(OffsetDateTime minute, String account, String apiKey, String member, String meter,
      String model) {}

  /** Rows in key order, so concurrent batches lock shared rows in the same order. */
  private static final Comparator<Key> ORDER = Comparator.comparing(Key::minute).thenComparing(Key::account)
      .thenComparing(Key::apiKey).thenComparing(Key::member).thenComparing(Key::meter).thenComparing(Key::model);

  private static final String[] CLAIM_TYPES = {"text", "text"};
  private static final String CLAIM = "insert into rolled_events (billing_account, event_id) select * from "
      + ColumnArrays.unnest(CLAIM_TYPES) + " on conflict do nothing returning billing_account, event_id";
  private static final String[] ROLLUP_TYPES =
      {"timestamptz", "text", "text", "text", "text", "text", "text", "bigint", "bigint", "bigint", "bigint"};
  private static final String ROLLUP = "insert into usage_rollups (minute, billing_account, team, member, api_key, "
      + "meter, model, calls, quantity, spend_nanos, discount_nanos) select * from " + ColumnArrays.unnest(ROLLUP_TYPES)
      + " on conflict (minute, billing_account, api_key, member, meter, model) do update set"
      + " calls = usage_rollups.calls + excluded.calls, quantity = usage_rollups.quantity + excluded.quantity,"
      + " spend_nanos = usage_rollups.spend_nanos + excluded.spend_nanos,"
      + " discount_nanos = usage_rollups.discount_nanos + excluded.discount_nanos";

  /** A rollup row's additions from one batch. */
  private static final class Sums {
    final String team;
    long calls;
    long quantity;
    long spend;
    long discount;

    Sums(String team) {
      this.team = team;
    }
  }

  /** Counts the batch's events not counted before: two statements whatever the batch holds. */
  public void apply(DSLContext tx, List<ConsumerRecord<String, byte[]>> records) {
    Map<String, UsageEvent> events = new java.util.LinkedHashMap<>();
    for (ConsumerRecord<String, byte[]> r : records) {
      UsageEvent e = TransactionalConsumer.parse(r, UsageEvent.parser(), "usage");
      dev.tally.common.money.Pricing.requireDiscountWithinCost(e.getEventId(), e.getDiscountNanos(), e.getCostNanos());
      events.putIfAbsent(e.getBillingAccount() + "|" + e.getEventId(), e);
    }
    if (events.isEmpty()) {
      return;
    }
    Set<String> fresh = new HashSet<>();
    tx.connection(c -> {
      try (PreparedStatement ps = c.prepareStatement(CLAIM)) {
        ColumnArrays.bind(c, ps, CLAIM_TYPES, List.copyOf(events.values()),
            e -> new Object[] {e.getBillingAccount(), e.getEventId()});
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            fresh.add(rs.getString(1) + "|" + rs.getString(2));
          }
        }
      }
    });
    Map<Key, Sums> sums = new TreeMap<>(ORDER);
    for (Map.Entry<String, UsageEvent> entry : events.entrySet()) {
      if (!fresh.contains(entry.getKey())) {
        continue;
      }
      UsageEvent e = entry.getValue();
      OffsetDateTime minute = OffsetDateTime.ofInstant(ProtoTime.instant(e.getOccurredAt()), ZoneOffset.UTC)
          .truncatedTo(ChronoUnit.MINUTES);
      Sums s = sums.computeIfAbsent(new Key(minute, e.getBillingAccount(), e.getApiKey(), e.getUser(), e.getMeter(),
          e.getModel()), k -> new Sums(e.getTeam()));
      // Exact: an overflowing minute fails the batch and its event is isolated and parked, never wrapped.
      // A correction counts the difference from what its event counted until then.
      boolean correction = !e.getCorrects().isEmpty();
      s.calls = Math.addExact(s.calls, correction ? (e.getQuantity() > 0 ? 1 : 0) - e.getReversedCalls() : 1);
      s.quantity = Math.addExact(s.quantity, e.getQuantity() - e.getReversedQuantity());
      s.spend = Math.addExact(s.spend, e.getCostNanos() - e.getReversedCostNanos());
      // 0 when unset (recorded before discounts were priced)
      s.discount = Math.addExact(s.discount, e.getDiscountNanos() - e.getReversedDiscountNanos());
    }
    if (sums.isEmpty()) {
      return;
    }
    tx.connection(c -> {
      try (PreparedStatement ps = c.prepareStatement(ROLLUP)) {
        ColumnArrays.bind(c, ps, ROLLUP_TYPES, List.copyOf(sums.entrySet()), r -> {
          Key k = r.getKey();
          Sums s = r.getValue();
          return new Object[] {k.minute().toString(), k.account(), s.team, k.member(), k.apiKey(), k.meter(), k.model(),
              s.calls, s.quantity, s.spend, s.discount};
        });
        ps.executeUpdate();
      }
    });
  }
}
