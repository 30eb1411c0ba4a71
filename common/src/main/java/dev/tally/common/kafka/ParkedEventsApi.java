package dev.tally.common.kafka;

import static dev.tally.common.db.jooq.Tables.PARKED_EVENTS;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.tally.common.auth.Caller;
import dev.tally.common.db.Database;
import dev.tally.common.db.jooq.tables.records.ParkedEventsRecord;
import dev.tally.common.error.Reasons;
import dev.tally.common.error.TallyException;
import dev.tally.common.grpc.ProtoTime;
import dev.tally.proto.events.v1.UsageEvent;
import dev.tally.proto.operations.v1.ParkedEvent;
import dev.tally.proto.operations.v1.ParkedEventFilter;
import dev.tally.proto.operations.v1.ParkedEventState;
import dev.tally.proto.operations.v1.ReplayResult;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * The operator side of parked records, shared by every service with consumers: list them and replay them
 * through the consumer that parked them. Platform only.
 */
public final class ParkedEventsApi {
  private static final int DEFAULT_PAGE = 100;

  private final Database db;
  private final Map<String, TransactionalConsumer> consumers;

  public ParkedEventsApi(Database db, List<TransactionalConsumer> consumers) {
    this.db = db;
    this.consumers = consumers.stream().collect(Collectors.toMap(TransactionalConsumer::group, Function.identity()));
  }

  /** One page of parked records, and the next page's token ("" when none). */
  public record Page(List<ParkedEvent> events, String nextPageToken) {}

  public Page list(Caller caller, ParkedEventFilter filter, int pageSize, String pageToken) {
    requirePlatform(caller);
    long after = 0;
    if (!pageToken.isEmpty()) {
      try {
        after = Long.parseLong(pageToken);
      } catch (NumberFormatException e) {
        throw TallyException.invalidArgument("page_token", "is not a token this call returned");
      }
    }
    int limit = pageSize <= 0 ? DEFAULT_PAGE : pageSize;
    List<String> groups = filter.getConsumerGroup().isEmpty() ? List.copyOf(consumers.keySet())
        : List.of(filter.getConsumerGroup());
    var where = PARKED_EVENTS.CONSUMER_GROUP.in(groups).and(PARKED_EVENTS.ID.gt(after));
    if (!filter.getIncludeReplayed()) {
      where = where.and(PARKED_EVENTS.STATE.eq("parked"));
    }
    List<ParkedEventsRecord> rows = db.dsl().selectFrom(PARKED_EVENTS).where(where).orderBy(PARKED_EVENTS.ID)
        .limit(limit + 1).fetch();
    String next = rows.size() > limit ? String.valueOf(rows.get(limit - 1).getId()) : "";
    List<ParkedEvent> out = new ArrayList<>();
    for (ParkedEventsRecord r : rows.subList(0, Math.min(limit, rows.size()))) {
      out.add(toProto(r));
    }
    return new Page(out, next);
  }

  public List<ReplayResult> replay(Caller caller, List<Long> ids) {
    requirePlatform(caller);
    Map<Long, String> groupOf = db.dsl().select(PARKED_EVENTS.ID, PARKED_EVENTS.CONSUMER_GROUP).from(PARKED_EVENTS)
        .where(PARKED_EVENTS.ID.in(ids)).fetchMap(PARKED_EVENTS.ID, PARKED_EVENTS.CONSUMER_GROUP);
    List<ReplayResult> results = new ArrayList<>();
    for (long id : ids) {
      TransactionalConsumer consumer = consumers.get(groupOf.get(id));
      TransactionalConsumer.Replay r = consumer == null
          ? new TransactionalConsumer.Replay(id, false, "no parked record " + id + " in this service")
          : consumer.replay(id);
      results.add(ReplayResult.newBuilder().setId(r.id()).setApplied(r.applied()).setError(r.error()).build());
    }
    return results;
  }

  /** Usage owed to {@code wallet} by parked usage records: {count, nanos}. */
  public static long[] parkedUsage(Database db, String group, String wallet) {
    long[] owed = new long[2];
    for (ParkedEventsRecord r : ParkedEvents.openByKey(db.dsl(), group, wallet)) {
      owed[0]++;
      owed[1] += usageCost(r);
    }
    return owed;
  }

  /** Every open parked usage record of {@code group}: {count, nanos}. */
  public static long[] parkedUsage(Database db, String group) {
    long[] owed = new long[2];
    for (ParkedEventsRecord r : ParkedEvents.list(db.dsl(), group, true, 0, Integer.MAX_VALUE)) {
      owed[0]++;
      owed[1] += usageCost(r);
    }
    return owed;
  }

  private static long usageCost(ParkedEventsRecord r) {
    UsageEvent e = usageEvent(r);
    return e == null ? 0 : e.getCostNanos();
  }

  private static UsageEvent usageEvent(ParkedEventsRecord r) {
    if (!Topics.USAGE.equals(r.getTopic())) {
      return null;
    }
    try {
      return UsageEvent.parseFrom(r.getPayload());
    } catch (InvalidProtocolBufferException e) {
      return null;
    }
  }

  private static ParkedEvent toProto(ParkedEventsRecord r) {
    ParkedEvent.Builder b = ParkedEvent.newBuilder().setId(r.getId()).setConsumerGroup(r.getConsumerGroup())
        .setTopic(r.getTopic()).setPartition(r.getPartitionId()).setOffset(r.getRecordOffset())
        .setKey(r.getRecordKey()).setError(r.getError()).setAttempts(r.getAttempts())
        .setState("replayed".equals(r.getState()) ? ParkedEventState.PARKED_EVENT_STATE_REPLAYED
            : ParkedEventState.PARKED_EVENT_STATE_PARKED)
        .setParkTime(ProtoTime.ts(r.getParkTime()));
    if (r.getReplayTime() != null) {
      b.setReplayTime(ProtoTime.ts(r.getReplayTime()));
    }
    UsageEvent e = usageEvent(r);
    if (e != null) {
      // The event id as stored text can hold nothing PostgreSQL refuses; here it is only echoed back.
      b.setUsageEventId(e.getEventId()).setCostNanos(e.getCostNanos());
    }
    return b.build();
  }

  private static void requirePlatform(Caller caller) {
    if (!caller.platform()) {
      throw TallyException.permissionDenied(Reasons.ROLE_FORBIDDEN, "parked events are for the platform's operators");
    }
  }
}
