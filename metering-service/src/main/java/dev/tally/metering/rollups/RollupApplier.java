package dev.tally.metering.rollups;

import dev.tally.common.db.ColumnArrays;
import dev.tally.common.kafka.TransactionalConsumer;
import dev.tally.common.money.Pricing;
import dev.tally.proto.events.v1.UsageEvent;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.jooq.DSLContext;

/**
 * Counts in the rollups the usage on {@code usage.v1} that its publisher did not count: what metering records
 * it counts itself ({@link UsageDeltas#countedByPublisher}); what others publish (the wallet's metered sessions) is
 * counted here, each event once (claimed by billing account and id in the batch's transaction), so the rollups
 * agree with the ledger however often an event is delivered.
 */
public final class RollupApplier implements TransactionalConsumer.BatchHandler {
  private static final String[] CLAIM_TYPES = {"text", "text"};
  private static final String CLAIM = "insert into rolled_events (billing_account, event_id) select * from "
      + ColumnArrays.unnest(CLAIM_TYPES) + " on conflict do nothing returning billing_account, event_id";

  /** What its publisher counted already: most batches are only that, and then commit nothing. */
  @Override
  public boolean ignores(ConsumerRecord<String, byte[]> record) {
    return UsageDeltas.countedByPublisher(record);
  }

  /** Counts the batch's events not counted before: two statements whatever the batch holds. */
  @Override
  public void apply(DSLContext tx, List<ConsumerRecord<String, byte[]>> records) {
    Map<String, UsageEvent> events = new LinkedHashMap<>();
    for (ConsumerRecord<String, byte[]> r : records) {
      if (ignores(r)) {
        continue;
      }
      UsageEvent e = TransactionalConsumer.parse(r, UsageEvent.parser(), "usage");
      Pricing.requireDiscountWithinCost(e.getEventId(), e.getDiscountNanos(), e.getCostNanos());
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
    List<UsageEvent> counted = new ArrayList<>(fresh.size());
    events.forEach((id, e) -> {
      if (fresh.contains(id)) {
        counted.add(e);
      }
    });
    UsageDeltas.add(tx, counted);
  }
}
