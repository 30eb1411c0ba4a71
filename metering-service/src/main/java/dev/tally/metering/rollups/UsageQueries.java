package dev.tally.metering.rollups;

import dev.tally.common.error.Reasons;
import static dev.tally.metering.db.jooq.Tables.USAGE_DELTAS;
import static dev.tally.metering.db.jooq.Tables.USAGE_ROLLUPS;

import dev.tally.common.error.TallyException;
import dev.tally.proto.metering.v1.BucketWidth;
import dev.tally.proto.metering.v1.GroupBy;
import java.math.BigDecimal;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import org.jooq.Condition;
import org.jooq.DSLContext;
import org.jooq.Field;
import org.jooq.Record;
import org.jooq.Table;
import org.jooq.impl.DSL;
import org.jooq.impl.SQLDataType;

/** Usage over time from the rollups: buckets of a minute, hour or day, grouped by the asked dimensions. */
public final class UsageQueries {
  public static final int MAX_BUCKETS = 1_000;

  /**
   * The rollups and the deltas not folded into them yet (see {@link UsageDeltas}), under the rollups' own name,
   * so conditions on {@code USAGE_ROLLUPS} columns apply to both: usage shows as soon as it is recorded.
   */
  private static final Table<?> USAGE = DSL.select(USAGE_ROLLUPS.MINUTE, USAGE_ROLLUPS.BILLING_ACCOUNT,
          USAGE_ROLLUPS.TEAM, USAGE_ROLLUPS.MEMBER, USAGE_ROLLUPS.API_KEY, USAGE_ROLLUPS.METER, USAGE_ROLLUPS.MODEL,
          USAGE_ROLLUPS.CALLS, USAGE_ROLLUPS.QUANTITY, USAGE_ROLLUPS.SPEND_NANOS, USAGE_ROLLUPS.DISCOUNT_NANOS)
      .from(USAGE_ROLLUPS)
      .unionAll(DSL.select(USAGE_DELTAS.MINUTE, USAGE_DELTAS.BILLING_ACCOUNT, USAGE_DELTAS.TEAM, USAGE_DELTAS.MEMBER,
          USAGE_DELTAS.API_KEY, USAGE_DELTAS.METER, USAGE_DELTAS.MODEL, USAGE_DELTAS.CALLS.cast(SQLDataType.NUMERIC),
          USAGE_DELTAS.QUANTITY.cast(SQLDataType.NUMERIC), USAGE_DELTAS.SPEND_NANOS.cast(SQLDataType.NUMERIC),
          USAGE_DELTAS.DISCOUNT_NANOS.cast(SQLDataType.NUMERIC)).from(USAGE_DELTAS))
      .asTable(USAGE_ROLLUPS.getName());

  /** Usage of one group in one bucket. */
  public record Row(OffsetDateTime bucket, String meter, String model, String apiKey, String member, long calls,
      long quantity, long spend, long discount) {
    /** Spend after the team discount: what the wallet debited. */
    public long netSpend() {
      return spend - discount;
    }
  }

  /** Totals of a window; {@code spend} at list price. */
  public record Summary(long calls, long spend, long discount, long inputTokens, long outputTokens) {
    public long netSpend() {
      return spend - discount;
    }
  }

  /** The length of one bucket. */
  public static Duration step(BucketWidth width) {
    return switch (width) {
      case BUCKET_WIDTH_MINUTE -> Duration.ofMinutes(1);
      case BUCKET_WIDTH_HOUR -> Duration.ofHours(1);
      default -> Duration.ofDays(1);
    };
  }

  public List<Row> usage(DSLContext tx, Condition subject, OffsetDateTime start, OffsetDateTime end,
      BucketWidth width, Collection<GroupBy> groupBy, Collection<String> meters) {
    if (!end.isAfter(start)) {
      throw TallyException.invalidArgument("end_time", "must be after start_time");
    }
    Duration step = step(width);
    if (Duration.between(start, end).dividedBy(step) > MAX_BUCKETS) {
      throw TallyException.invalidArgument("start_time", "the range spans more than " + MAX_BUCKETS
          + " buckets; use a wider bucket or a shorter range");
    }
    String unit = switch (width) {
      case BUCKET_WIDTH_MINUTE -> "minute";
      case BUCKET_WIDTH_HOUR -> "hour";
      default -> "day";
    };
    Field<OffsetDateTime> bucket = DSL.field("date_trunc({0}, {1}, 'UTC')", SQLDataType.TIMESTAMPWITHTIMEZONE,
        DSL.inline(unit), USAGE_ROLLUPS.MINUTE).as("bucket");
    List<Field<?>> dims = new ArrayList<>();
    List<Field<?>> groupFields = new ArrayList<>();
    groupFields.add(DSL.field(DSL.name("bucket")));
    dimension(groupBy.contains(GroupBy.GROUP_BY_METER), USAGE_ROLLUPS.METER, "meter", dims, groupFields);
    dimension(groupBy.contains(GroupBy.GROUP_BY_MODEL), USAGE_ROLLUPS.MODEL, "model", dims, groupFields);
    dimension(groupBy.contains(GroupBy.GROUP_BY_API_KEY), USAGE_ROLLUPS.API_KEY, "api_key", dims, groupFields);
    dimension(groupBy.contains(GroupBy.GROUP_BY_MEMBER), USAGE_ROLLUPS.MEMBER, "member", dims, groupFields);
    Condition where = subject.and(USAGE_ROLLUPS.MINUTE.ge(start)).and(USAGE_ROLLUPS.MINUTE.lt(end));
    if (!meters.isEmpty()) {
      where = where.and(USAGE_ROLLUPS.METER.in(meters.stream()
          .map(m -> m.startsWith("meters/") ? m.substring("meters/".length()) : m).toList()));
    }
    List<Field<?>> select = new ArrayList<>();
    select.add(bucket);
    select.addAll(dims);
    select.add(DSL.sum(USAGE_ROLLUPS.CALLS).as("calls"));
    select.add(DSL.sum(USAGE_ROLLUPS.QUANTITY).as("quantity"));
    select.add(DSL.sum(USAGE_ROLLUPS.SPEND_NANOS).as("spend"));
    select.add(DSL.sum(USAGE_ROLLUPS.DISCOUNT_NANOS).as("discount"));
    return tx.select(select).from(USAGE).where(where).groupBy(groupFields).orderBy(DSL.field("bucket"))
        .fetch(UsageQueries::row);
  }

  /**
   * Every day × member × key × meter × model of the range with usage, in that order, to {@code each}, read
   * with a cursor (an export of a year of a large team never sits in memory); days cut in {@code zone}.
   */
  public void export(DSLContext tx, Condition subject, OffsetDateTime start, OffsetDateTime end,
      java.time.ZoneId zone, java.util.function.Consumer<Row> each) {
    if (!end.isAfter(start)) {
      throw TallyException.invalidArgument("end_time", "must be after start_time");
    }
    Field<OffsetDateTime> day = DSL.field("date_trunc('day', {0}, {1})", SQLDataType.TIMESTAMPWITHTIMEZONE,
        USAGE_ROLLUPS.MINUTE, DSL.val(zone.getId())).as("bucket");
    try (var cursor = tx.select(day, USAGE_ROLLUPS.METER.as("meter"), USAGE_ROLLUPS.MODEL.as("model"),
            USAGE_ROLLUPS.API_KEY.as("api_key"), USAGE_ROLLUPS.MEMBER.as("member"),
            DSL.sum(USAGE_ROLLUPS.CALLS).as("calls"), DSL.sum(USAGE_ROLLUPS.QUANTITY).as("quantity"),
            DSL.sum(USAGE_ROLLUPS.SPEND_NANOS).as("spend"), DSL.sum(USAGE_ROLLUPS.DISCOUNT_NANOS).as("discount"))
        .from(USAGE).where(subject, USAGE_ROLLUPS.MINUTE.ge(start), USAGE_ROLLUPS.MINUTE.lt(end))
        .groupBy(DSL.field(DSL.name("bucket")), USAGE_ROLLUPS.MEMBER, USAGE_ROLLUPS.API_KEY, USAGE_ROLLUPS.METER,
            USAGE_ROLLUPS.MODEL)
        .orderBy(DSL.field(DSL.name("bucket")), USAGE_ROLLUPS.MEMBER, USAGE_ROLLUPS.API_KEY, USAGE_ROLLUPS.METER,
            USAGE_ROLLUPS.MODEL)
        .fetchSize(1_000).fetchLazy()) {
      cursor.forEach(r -> each.accept(row(r)));
    }
  }

  /** A grouped dimension is selected and grouped by its column; others are selected as '' (never grouped by
   * name: PostgreSQL would take the name for the input column). */
  private static void dimension(boolean grouped, Field<String> column, String alias, List<Field<?>> dims,
      List<Field<?>> groupFields) {
    if (grouped) {
      dims.add(column.as(alias));
      groupFields.add(column);
    } else {
      dims.add(DSL.inline("").as(alias));
    }
  }

  public Summary summary(DSLContext tx, Condition subject, OffsetDateTime start, OffsetDateTime end) {
    var r = tx.select(DSL.sum(USAGE_ROLLUPS.CALLS), DSL.sum(USAGE_ROLLUPS.SPEND_NANOS),
            DSL.sum(DSL.when(USAGE_ROLLUPS.METER.eq("input_tokens"), USAGE_ROLLUPS.QUANTITY).otherwise(BigDecimal.ZERO)),
            DSL.sum(DSL.when(USAGE_ROLLUPS.METER.eq("output_tokens"), USAGE_ROLLUPS.QUANTITY).otherwise(BigDecimal.ZERO)),
            DSL.sum(USAGE_ROLLUPS.DISCOUNT_NANOS))
        .from(USAGE)
        .where(subject, USAGE_ROLLUPS.MINUTE.ge(start), USAGE_ROLLUPS.MINUTE.lt(end)).fetchOne();
    return new Summary(n(r.value1()), n(r.value2()), n(r.value5()), n(r.value3()), n(r.value4()));
  }

  private static Row row(Record r) {
    return new Row(r.get("bucket", OffsetDateTime.class), r.get("meter", String.class), r.get("model", String.class),
        r.get("api_key", String.class), r.get("member", String.class), n(r.get("calls", BigDecimal.class)),
        n(r.get("quantity", BigDecimal.class)), n(r.get("spend", BigDecimal.class)),
        n(r.get("discount", BigDecimal.class)));
  }

  /** A sum (PostgreSQL sums bigints as numeric, so it never overflows there) as the contract's int64. */
  private static long n(BigDecimal v) {
    if (v == null) {
      return 0;
    }
    if (v.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
      throw new dev.tally.common.error.TallyException(io.grpc.Status.Code.OUT_OF_RANGE, Reasons.TOTAL_TOO_LARGE,
          "a total of this query exceeds 2^63-1; ask for smaller buckets or a shorter range");
    }
    return v.longValueExact();
  }
}
