package dev.tally.metering.rollups;

import static dev.tally.metering.db.jooq.Tables.ROLLED_EVENTS;
import static dev.tally.metering.db.jooq.Tables.USAGE_ROLLUPS;

import dev.tally.common.grpc.ProtoTime;
import dev.tally.proto.events.v1.UsageEvent;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
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

  private record Key(OffsetDateTime minute, String account, String team, String member, String apiKey, String meter,
      String model) implements Comparable<Key> {
    @Override
    public int compareTo(Key o) {
      return toString().compareTo(o.toString());
    }
  }

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
    var claim = tx.insertInto(ROLLED_EVENTS, ROLLED_EVENTS.BILLING_ACCOUNT, ROLLED_EVENTS.EVENT_ID);
    for (UsageEvent e : events.values()) {
      claim = claim.values(e.getBillingAccount(), e.getEventId());
    }
    java.util.Set<String> fresh = new java.util.HashSet<>(claim.onConflictDoNothing()
        .returningResult(ROLLED_EVENTS.BILLING_ACCOUNT, ROLLED_EVENTS.EVENT_ID).fetch(r -> r.value1() + "|" + r.value2()));
    Map<Key, long[]> sums = new TreeMap<>();
    for (Map.Entry<String, UsageEvent> entry : events.entrySet()) {
      if (!fresh.contains(entry.getKey())) {
        continue;
      }
      UsageEvent e = entry.getValue();
      OffsetDateTime minute = OffsetDateTime.ofInstant(ProtoTime.instant(e.getOccurredAt()), ZoneOffset.UTC)
          .truncatedTo(ChronoUnit.MINUTES);
      long[] s = sums.computeIfAbsent(new Key(minute, e.getBillingAccount(), e.getTeam(), e.getUser(), e.getApiKey(),
          e.getMeter(), e.getModel()), k -> new long[4]);
      // Exact: an overflowing minute fails the batch and its event is isolated and parked, never wrapped.
      // A correction counts the difference from what its event counted until then.
      boolean correction = !e.getCorrects().isEmpty();
      s[0] = Math.addExact(s[0], correction ? (e.getQuantity() > 0 ? 1 : 0) - e.getReversedCalls() : 1);
      s[1] = Math.addExact(s[1], e.getQuantity() - e.getReversedQuantity());
      s[2] = Math.addExact(s[2], e.getCostNanos() - e.getReversedCostNanos());
      // 0 when unset (recorded before discounts were priced)
      s[3] = Math.addExact(s[3], e.getDiscountNanos() - e.getReversedDiscountNanos());
    }
    for (Map.Entry<Key, long[]> e : sums.entrySet()) {
      Key k = e.getKey();
      long[] s = e.getValue();
      tx.insertInto(USAGE_ROLLUPS).set(USAGE_ROLLUPS.MINUTE, k.minute()).set(USAGE_ROLLUPS.BILLING_ACCOUNT, k.account())
          .set(USAGE_ROLLUPS.TEAM, k.team()).set(USAGE_ROLLUPS.MEMBER, k.member()).set(USAGE_ROLLUPS.API_KEY, k.apiKey())
          .set(USAGE_ROLLUPS.METER, k.meter()).set(USAGE_ROLLUPS.MODEL, k.model()).set(USAGE_ROLLUPS.CALLS, s[0])
          .set(USAGE_ROLLUPS.QUANTITY, s[1]).set(USAGE_ROLLUPS.SPEND_NANOS, s[2]).set(USAGE_ROLLUPS.DISCOUNT_NANOS, s[3])
          .onConflict(USAGE_ROLLUPS.MINUTE, USAGE_ROLLUPS.BILLING_ACCOUNT, USAGE_ROLLUPS.API_KEY, USAGE_ROLLUPS.MEMBER,
              USAGE_ROLLUPS.METER, USAGE_ROLLUPS.MODEL)
          .doUpdate()
          .set(USAGE_ROLLUPS.CALLS, USAGE_ROLLUPS.CALLS.plus(s[0]))
          .set(USAGE_ROLLUPS.QUANTITY, USAGE_ROLLUPS.QUANTITY.plus(s[1]))
          .set(USAGE_ROLLUPS.SPEND_NANOS, USAGE_ROLLUPS.SPEND_NANOS.plus(s[2]))
          .set(USAGE_ROLLUPS.DISCOUNT_NANOS, USAGE_ROLLUPS.DISCOUNT_NANOS.plus(s[3]))
          .execute();
    }
  }
}
