package dev.tally.metering.grpc;

import static dev.tally.common.grpc.Unary.reply;
import static dev.tally.common.grpc.ProtoTime.ts;

import dev.tally.common.auth.Caller;
import dev.tally.common.error.TallyException;
import dev.tally.common.export.CsvStream;
import dev.tally.common.db.Database;
import dev.tally.common.grpc.ProtoTime;
import dev.tally.common.kafka.ParkedEventsApi;
import dev.tally.metering.access.UsageAccess;
import dev.tally.metering.catalog.PriceCatalog;
import dev.tally.metering.db.jooq.tables.records.PricesRecord;
import dev.tally.metering.ingest.UsageCorrections;
import dev.tally.metering.ingest.UsageIngestor;
import dev.tally.metering.rollups.UsageQueries;
import dev.tally.proto.metering.v1.*;
import io.grpc.stub.StreamObserver;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;

/** The MeteringService edge: caller in, managers do the work, protobuf out. */
public final class MeteringGrpcService extends MeteringServiceGrpc.MeteringServiceImplBase {
  private final Database db;
  private final UsageCorrections corrections;
  private final UsageIngestor ingestor;
  private final PriceCatalog catalog;
  private final UsageQueries queries;
  private final UsageAccess access;
  private final Clock clock;
  private final ParkedEventsApi parked;

  public MeteringGrpcService(Database db, UsageIngestor ingestor, UsageCorrections corrections, PriceCatalog catalog,
      UsageQueries queries, UsageAccess access, Clock clock, ParkedEventsApi parked) {
    this.corrections = corrections;
    this.parked = parked;
    this.db = db;
    this.ingestor = ingestor;
    this.catalog = catalog;
    this.queries = queries;
    this.access = access;
    this.clock = clock;
  }

  @Override
  public void listParkedEvents(ListParkedEventsRequest req, StreamObserver<ListParkedEventsResponse> out) {
    reply(out, () -> {
      var page = parked.list(Caller.current(), req.getFilter(), req.getPageSize(), req.getPageToken());
      return ListParkedEventsResponse.newBuilder().addAllParkedEvents(page.events())
          .setNextPageToken(page.nextPageToken()).build();
    });
  }

  @Override
  public void replayParkedEvents(ReplayParkedEventsRequest req, StreamObserver<ReplayParkedEventsResponse> out) {
    reply(out, () -> ReplayParkedEventsResponse.newBuilder()
        .addAllResults(parked.replay(Caller.current(), req.getIdsList())).build());
  }

  @Override
  public void recordUsage(RecordUsageRequest req, StreamObserver<RecordUsageResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> RecordUsageResponse.newBuilder()
        .addAllResults(ingestor.record(caller, req.getRecordsList())).build());
  }

  @Override
  public void getUsage(GetUsageRequest req, StreamObserver<GetUsageResponse> out) {
    Caller caller = Caller.current();
    var subject = access.filter(caller, req.getSubject());
    OffsetDateTime start = odt(req.getStartTime());
    OffsetDateTime end = odt(req.getEndTime());
    Duration step = UsageQueries.step(req.getBucketWidth());
    reply(out, () -> db.transaction(tx -> {
      var rows = queries.usage(tx.dsl(), subject, start, end, req.getBucketWidth(), req.getGroupByList(),
          req.getMetersList());
      GetUsageResponse.Builder b = GetUsageResponse.newBuilder().setCurrencyCode("USD");
      UsageBucket.Builder current = null;
      for (UsageQueries.Row r : rows) {
        if (current == null || !ProtoTime.instant(current.getStartTime()).equals(r.bucket().toInstant())) {
          if (current != null) {
            b.addBuckets(current);
          }
          current = UsageBucket.newBuilder().setStartTime(ts(r.bucket())).setEndTime(ts(r.bucket().plus(step)));
        }
        current.addGroups(UsageGroup.newBuilder().setMeter(r.meter()).setModel(r.model()).setApiKey(r.apiKey())
            .setMember(r.member()).setCalls(r.calls()).setQuantity(r.quantity()).setSpendNanos(r.spend())
            .setListSpendNanos(r.spend()).setNetSpendNanos(r.netSpend()));
      }
      if (current != null) {
        b.addBuckets(current);
      }
      return b.build();
    }));
  }

  @Override
  public void correctUsage(CorrectUsageRequest req, StreamObserver<CorrectUsageResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.mutate(caller, MeteringServiceGrpc.getCorrectUsageMethod().getFullMethodName(),
        req.getRequestId(), req, CorrectUsageResponse.parser(), tx -> corrections.correct(tx, caller, req)));
  }

  @Override
  public void exportUsage(ExportUsageRequest req, StreamObserver<ExportUsageResponse> out) {
    Caller caller = Caller.current();
    var subject = access.filter(caller, req.getSubject());
    java.time.ZoneId zone;
    try {
      zone = java.time.ZoneId.of(req.getTimeZone().isEmpty() ? "UTC" : req.getTimeZone());
    } catch (java.time.DateTimeException e) {
      throw TallyException.invalidArgument("time_zone", "must be an IANA time zone such as Europe/Berlin or UTC");
    }
    db.transaction(tx -> {
      var csv = new CsvStream<>(out, chunk -> ExportUsageResponse.newBuilder().setCsv(chunk).build(), "day",
          "member", "api_key", "meter", "model", "calls", "quantity", "list_spend", "net_spend", "list_spend_nanos",
          "net_spend_nanos", "currency_code");
      queries.export(tx.dsl(), subject, odt(req.getStartTime()), odt(req.getEndTime()), zone, r -> csv.row(
          r.bucket().atZoneSameInstant(zone).toLocalDate().toString(), r.member(), r.apiKey(), r.meter(), r.model(),
          r.calls(), r.quantity(), CsvStream.amount(r.spend()), CsvStream.amount(r.netSpend()), r.spend(),
          r.netSpend(), "USD"));
      csv.finish();
      return null;
    });
  }

  @Override
  public void getUsageSummary(GetUsageSummaryRequest req, StreamObserver<GetUsageSummaryResponse> out) {
    Caller caller = Caller.current();
    var subject = access.filter(caller, req.getSubject());
    int days = req.getDays() == 0 ? 30 : req.getDays();
    Instant end = clock.instant();
    Instant start = end.minus(Duration.ofDays(days));
    reply(out, () -> db.transaction(tx -> {
      var s = queries.summary(tx.dsl(), subject, start.atOffset(ZoneOffset.UTC), end.plusSeconds(60)
          .atOffset(ZoneOffset.UTC));
      return GetUsageSummaryResponse.newBuilder().setCalls(s.calls()).setSpendNanos(s.spend())
          .setListSpendNanos(s.spend()).setNetSpendNanos(s.netSpend())
          .setInputTokens(s.inputTokens()).setOutputTokens(s.outputTokens()).setCurrencyCode("USD")
          .setStartTime(ProtoTime.ts(start)).setEndTime(ProtoTime.ts(end)).build();
    }));
  }

  @Override
  public void listMeters(ListMetersRequest req, StreamObserver<ListMetersResponse> out) {
    reply(out, () -> db.transaction(tx -> {
      var b = ListMetersResponse.newBuilder();
      catalog.meters(tx.dsl()).forEach(m -> b.addMeters(Meter.newBuilder().setName("meters/" + m.getId())
          .setDisplayName(m.getDisplayName()).setBaseUnit(m.getBaseUnit()).setTokens(m.getTokens())
          .setDisplayUnit(m.getDisplayUnit()).setBaseUnitsPerDisplayUnit(m.getBaseUnitsPerDisplayUnit())));
      return b.build();
    }));
  }

  @Override
  public void listPrices(ListPricesRequest req, StreamObserver<ListPricesResponse> out) {
    Instant at = req.hasEffectiveAt() ? ProtoTime.instant(req.getEffectiveAt()) : clock.instant();
    String meter = req.getMeter().startsWith("meters/") ? req.getMeter().substring(7) : req.getMeter();
    reply(out, () -> db.transaction(tx -> {
      var b = ListPricesResponse.newBuilder();
      catalog.prices(tx.dsl(), meter, at).forEach(p -> b.addPrices(price(p)));
      return b.build();
    }));
  }

  @Override
  public void setPrice(SetPriceRequest req, StreamObserver<SetPriceResponse> out) {
    Caller caller = Caller.current();
    Instant effective = req.hasEffectiveTime() ? ProtoTime.instant(req.getEffectiveTime()) : clock.instant();
    reply(out, () -> {
      SetPriceResponse set = db.mutate(caller, MeteringServiceGrpc.getSetPriceMethod().getFullMethodName(),
          req.getRequestId(), req, SetPriceResponse.parser(), tx -> SetPriceResponse.newBuilder()
              .setPrice(price(catalog.setPrice(tx, caller, req.getMeter(), req.getModel(), req.getPriceNanos(),
                  req.getPerQuantity(), req.getCurrencyCode(), effective))).build());
      catalog.changed(); // committed: usage recorded from now on is priced with it
      return set;
    });
  }

  private static Price price(PricesRecord p) {
    return Price.newBuilder().setName("prices/" + p.getId()).setMeter("meters/" + p.getMeter()).setModel(p.getModel())
        .setPriceNanos(p.getPriceNanos()).setPerQuantity(p.getPerQuantity()).setCurrencyCode(p.getCurrencyCode())
        .setEffectiveTime(ts(p.getEffectiveTime())).setCreateTime(ts(p.getCreateTime())).build();
  }

  private static OffsetDateTime odt(com.google.protobuf.Timestamp t) {
    return OffsetDateTime.ofInstant(ProtoTime.instant(t), ZoneOffset.UTC);
  }
}
