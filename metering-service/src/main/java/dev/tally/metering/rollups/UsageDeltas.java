package dev.tally.metering.rollups;

import dev.tally.common.db.ColumnArrays;
import dev.tally.common.kafka.Topics;
import dev.tally.proto.events.v1.UsageEvent;
import java.sql.PreparedStatement;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.jooq.DSLContext;

/**
 * Usage counted in the transaction that claims it: RecordUsage and CorrectUsage add their events' per-minute
 * sums to {@code usage_deltas} (append-only, so concurrent calls never wait on a shared row) and
 * {@link RollupCompactor} folds them into the rollups. Counting where an event is claimed makes it count
 * exactly once without a second claim per event; events published by {@link #counted} are therefore
 * skipped by the rollup consumer, which counts only what others publish.
 */
public final class UsageDeltas {
  /** Kafka header on usage events already counted by their publisher. */
  static final String COUNTED_HEADER = "tally-counted";

  private static final String[] TYPES =
      {"timestamptz", "text", "text", "text", "text", "text", "text", "bigint", "bigint", "bigint", "bigint"};
  private static final String INSERT = "insert into usage_deltas (minute, billing_account, team, member, api_key, "
      + "meter, model, calls, quantity, spend_nanos, discount_nanos) select * from " + ColumnArrays.unnest(TYPES);

  private static final List<Header> COUNTED = List.of(new RecordHeader(COUNTED_HEADER, new byte[] {1}));

  private UsageDeltas() {}

  /** A rollup row's identity (its primary key). */
  record Key(long minuteEpochSecond, String account, String apiKey, String member, String meter,
      String model) {}

  /** One delta row: a key's additions from some of the events. */
  record Sums(Key key, String team, long calls, long quantity, long spend, long discount) {
    /** These sums plus {@code e}'s; throws ArithmeticException where a column would overflow. */
    Sums plus(UsageEvent e) {
      return new Sums(key, team, Math.addExact(calls, callsOf(e)), Math.addExact(quantity, e.getQuantity()
          - e.getReversedQuantity()), Math.addExact(spend, e.getCostNanos() - e.getReversedCostNanos()),
          Math.addExact(discount, e.getDiscountNanos() - e.getReversedDiscountNanos()));
    }
  }

  /** The {@code usage.v1} record of an event counted with {@link #add}: the rollup consumer skips it. */
  public static ProducerRecord<String, byte[]> counted(String billingAccount, byte[] event) {
    return new ProducerRecord<>(Topics.USAGE, null, billingAccount, event, COUNTED);
  }

  /** Whether {@code record} was published by {@link #counted}, its event counted already. */
  public static boolean countedByPublisher(ConsumerRecord<String, byte[]> record) {
    return record.headers().lastHeader(COUNTED_HEADER) != null;
  }

  /** Adds the per-minute sums of {@code events} (each counted once by the caller's claim) in one statement. */
  public static void add(DSLContext tx, Collection<UsageEvent> events) {
    List<Sums> rows = sums(events);
    if (rows.isEmpty()) {
      return;
    }
    tx.connection(c -> {
      try (PreparedStatement ps = c.prepareStatement(INSERT)) {
        ColumnArrays.bind(c, ps, TYPES, rows, s -> new Object[] {OffsetDateTime.ofInstant(
            Instant.ofEpochSecond(s.key().minuteEpochSecond()), ZoneOffset.UTC).toString(), s.key().account(),
            s.team(), s.key().member(), s.key().apiKey(), s.key().meter(), s.key().model(), s.calls(), s.quantity(),
            s.spend(), s.discount()});
        ps.executeUpdate();
      }
    });
  }

  /**
   * One row per key (a key whose sums would overflow a bigint starts another row: each event is bounded, how
   * many share a minute is not).
   */
  static List<Sums> sums(Collection<UsageEvent> events) {
    Map<Key, Sums> open = new LinkedHashMap<>();
    List<Sums> full = new ArrayList<>();
    for (UsageEvent e : events) {
      // The minute as a number: a date-time object per event cost more than the rest of the sum.
      Key key = new Key(Math.floorDiv(e.getOccurredAt().getSeconds(), 60) * 60, e.getBillingAccount(),
          e.getApiKey(), e.getUser(), e.getMeter(), e.getModel());
      Sums zero = new Sums(key, e.getTeam(), 0, 0, 0, 0);
      Sums before = open.getOrDefault(key, zero);
      Sums after;
      try {
        after = before.plus(e);
      } catch (ArithmeticException overflow) {
        full.add(before);
        after = zero.plus(e);
      }
      open.put(key, after);
    }
    full.addAll(open.values());
    return full;
  }

  /**
   * What an event adds to its minute's calls: one, or for a correction the difference from what its event
   * counted until then.
   */
  private static long callsOf(UsageEvent e) {
    return e.getCorrects().isEmpty() ? 1 : (e.getQuantity() > 0 ? 1 : 0) - e.getReversedCalls();
  }
}
