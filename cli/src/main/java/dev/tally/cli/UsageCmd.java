package dev.tally.cli;

import com.google.protobuf.util.Timestamps;
import dev.tally.proto.metering.v1.*;
import java.text.ParseException;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "usage", description = "Record usage and see it per key, member or team.", mixinStandardHelpOptions = true)
final class UsageCmd {
  @ParentCommand Tally root;

  @Command(name = "record", description = "Record one usage record (platform token).")
  void record(@Option(names = "--key", required = true, description = "apiKeys/{key}") String key,
      @Option(names = "--meter", required = true) String meter,
      @Option(names = "--quantity", required = true) long quantity,
      @Option(names = "--model", defaultValue = "") String model,
      @Option(names = "--hold", defaultValue = "") String hold,
      @Option(names = "--event-id", description = "idempotency key (default: a new one)") String eventId) {
    var r = root.c.metering().recordUsage(RecordUsageRequest.newBuilder().addRecords(UsageRecord.newBuilder()
        .setEventId(eventId == null ? UUID.randomUUID().toString() : eventId).setApiKey(key).setMeter(meter)
        .setQuantity(quantity).setModel(model).setHold(hold)
        .setOccurredAt(Timestamps.fromMillis(System.currentTimeMillis()))).build());
    root.c.print(r, () -> {
      RecordResult x = r.getResults(0);
      System.out.println(x.getStatus().name().substring("RECORD_STATUS_".length()).toLowerCase(Locale.ROOT)
          + (x.getReason().isEmpty() ? "" : " " + x.getReason()) + " " + x.getEventId() + " cost "
          + Out.money(x.getCostNanos()) + " (net " + Out.money(x.getNetCostNanos()) + ")");
    });
  }

  @Command(name = "summary", description = "Calls, spend and tokens over the last --days (SUBJECT: apiKeys/{k}, "
      + "teams/{t}, teams/{t}/members/{u} or users/me).")
  void summary(@Parameters(paramLabel = "SUBJECT") String subject, @Option(names = "--days", defaultValue = "30") int days) {
    var r = root.c.metering().getUsageSummary(GetUsageSummaryRequest.newBuilder().setSubject(subject).setDays(days).build());
    root.c.print(r, () -> Out.fields("subject", subject, "days", days, "calls", r.getCalls(),
        "list spend", Out.money(r.getListSpendNanos()), "net spend", Out.money(r.getNetSpendNanos()),
        "input tokens", r.getInputTokens(), "output tokens", r.getOutputTokens()));
  }

  @Command(name = "correct", description = "Void (--void) or amend (--quantity) recorded usage: a reversal and a"
      + " replacement on the statement, never an edit (platform token).")
  void correct(@Option(names = "--key", required = true, description = "apiKeys/{k} the usage was recorded with")
      String key, @Option(names = "--event-id", required = true) String eventId,
      @Option(names = "--void") boolean voidIt, @Option(names = "--quantity", defaultValue = "-1") long quantity,
      @Option(names = "--reason", required = true) String reason,
      @Option(names = "--request-id", description = "idempotency key (default: a new one)") String requestId) {
    var req = CorrectUsageRequest.newBuilder().setApiKey(key).setEventId(eventId).setReason(reason)
        .setRequestId(requestId == null ? UUID.randomUUID().toString() : requestId);
    if (voidIt) {
      req.setVoid(true);
    } else if (quantity >= 0) {
      req.setQuantity(quantity);
    }
    var r = root.c.metering().correctUsage(req.build());
    root.c.print(r, () -> Out.fields("correction", r.getCorrectionEventId(), "was", Out.money(r.getPreviousCostNanos())
        + " (net " + Out.money(r.getPreviousNetCostNanos()) + ")", "now", Out.money(r.getCostNanos()) + " (net "
        + Out.money(r.getNetCostNanos()) + ")"));
  }

  @Command(name = "export", description = "Spend as CSV (day × member × key × meter × model, list and net) into a"
      + " file, streamed: any range, any team size.")
  void export(@Parameters(paramLabel = "SUBJECT") String subject,
      @Option(names = "--from", required = true, description = "RFC 3339 time") String from,
      @Option(names = "--to", description = "RFC 3339 time (default now)") String to,
      @Option(names = "--tz", defaultValue = "UTC", description = "IANA zone the days are cut in") String zone,
      @Option(names = "--out", required = true, description = "file to write (- for standard output)") String out)
      throws ParseException {
    var chunks = root.c.meteringStreaming().exportUsage(ExportUsageRequest.newBuilder().setSubject(subject)
        .setStartTime(Timestamps.parse(from))
        .setEndTime(to == null ? Timestamps.fromMillis(Instant.now().toEpochMilli() + 60_000) : Timestamps.parse(to))
        .setTimeZone(zone).build());
    long bytes = CsvFile.write(chunks, ExportUsageResponse::getCsv, out);
    if (!"-".equals(out)) {
      System.err.println("wrote " + out + " (" + bytes + " bytes)");
    }
  }

  @Command(name = "get", description = "Usage in time buckets, grouped.")
  void get(@Parameters(paramLabel = "SUBJECT") String subject,
      @Option(names = "--from", required = true, description = "RFC 3339 time") String from,
      @Option(names = "--to", description = "RFC 3339 time (default now)") String to,
      @Option(names = "--bucket", defaultValue = "day", description = "minute, hour or day") String bucket,
      @Option(names = "--group-by", split = ",", description = "meter, model, api_key, member") List<String> groupBy)
      throws ParseException {
    var req = GetUsageRequest.newBuilder().setSubject(subject).setStartTime(Timestamps.parse(from))
        .setEndTime(to == null ? Timestamps.fromMillis(Instant.now().toEpochMilli() + 60_000) : Timestamps.parse(to))
        .setBucketWidth(BucketWidth.valueOf("BUCKET_WIDTH_" + bucket.toUpperCase(Locale.ROOT)));
    if (groupBy != null) {
      groupBy.forEach(g -> req.addGroupBy(GroupBy.valueOf("GROUP_BY_" + g.toUpperCase(Locale.ROOT))));
    }
    var r = root.c.metering().getUsage(req.build());
    root.c.print(r, () -> {
      Out.Table t = new Out.Table("BUCKET", "METER", "MODEL", "KEY", "MEMBER", "CALLS", "QUANTITY", "LIST SPEND",
          "NET SPEND");
      r.getBucketsList().forEach(b -> b.getGroupsList().forEach(g -> t.row(Out.time(b.getStartTime()), dash(g.getMeter()),
          dash(g.getModel()), dash(g.getApiKey()), dash(g.getMember()), g.getCalls(), g.getQuantity(),
          Out.money(g.getListSpendNanos()), Out.money(g.getNetSpendNanos()))));
      t.print();
    });
  }

  private static String dash(String s) {
    return s.isEmpty() ? "-" : s;
  }
}
