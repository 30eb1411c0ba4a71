package dev.tally.cli;

import dev.tally.proto.identity.v1.*;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

@Command(name = "webhooks", description = "Endpoints that receive wallet and identity events (platform token).",
    mixinStandardHelpOptions = true)
final class WebhooksCmd {
  @ParentCommand Tally root;

  @Command(name = "create", description = "Register an HTTPS endpoint; prints its signing secret once.")
  void create(@Parameters(paramLabel = "URL") String url,
      @Option(names = "--team", description = "only this team's events (default: every team)") String team,
      @Option(names = "--event", split = ",", description = "event types, e.g. threshold_crossed,member_joined "
          + "(default: all but state_changed)") List<String> events) {
    var r = root.c.identity().createWebhookEndpoint(CreateWebhookEndpointRequest.newBuilder().setUrl(url)
        .setTeam(team == null ? "" : team).addAllEventTypes(events == null ? List.of() : events).build());
    root.c.print(r, () -> Out.fields("endpoint", r.getEndpoint().getName(), "url", r.getEndpoint().getUrl(),
        "secret", r.getSecret() + "   (shown once; verify Tally-Signature with it)"));
  }

  @Command(name = "list", description = "The registered endpoints.")
  void list() {
    var r = root.c.identity().listWebhookEndpoints(ListWebhookEndpointsRequest.getDefaultInstance());
    root.c.print(r, () -> {
      Out.Table t = new Out.Table("ENDPOINT", "URL", "TEAM", "EVENTS");
      r.getEndpointsList().forEach(e -> t.row(e.getName(), e.getUrl(), e.getTeam().isEmpty() ? "all" : e.getTeam(),
          e.getEventTypesList().isEmpty() ? "all" : String.join(",", e.getEventTypesList())));
      t.print();
    });
  }

  @Command(name = "deliveries", description = "An endpoint's deliveries, newest first (--failed: only failures).")
  void deliveries(@Parameters(paramLabel = "ENDPOINT") String endpoint, @Option(names = "--failed") boolean failed) {
    var r = root.c.identity().listWebhookDeliveries(ListWebhookDeliveriesRequest.newBuilder().setEndpoint(endpoint)
        .setState(failed ? WebhookDeliveryState.WEBHOOK_DELIVERY_STATE_FAILED
            : WebhookDeliveryState.WEBHOOK_DELIVERY_STATE_UNSPECIFIED).build());
    root.c.print(r, () -> {
      Out.Table t = new Out.Table("DELIVERY", "EVENT", "TYPE", "STATE", "ATTEMPTS", "LAST");
      r.getDeliveriesList().forEach(d -> t.row(d.getName(), d.getEventId(), d.getEventType(),
          d.getState().name().substring("WEBHOOK_DELIVERY_STATE_".length()).toLowerCase(Locale.ROOT), d.getAttempts(),
          d.getLastError().isEmpty() ? Integer.toString(d.getLastStatus()) : d.getLastError()));
      t.print();
    });
  }

  @Command(name = "replay", description = "Deliver again now.")
  void replay(@Parameters(paramLabel = "DELIVERY") String delivery) {
    var r = root.c.identity().replayWebhookDelivery(ReplayWebhookDeliveryRequest.newBuilder().setName(delivery).build());
    root.c.print(r, () -> System.out.println("queued " + r.getDelivery().getName()));
  }

  @Command(name = "rotate", description = "New signing secret; the old one keeps signing for --grace hours.")
  void rotate(@Parameters(paramLabel = "ENDPOINT") String endpoint,
      @Option(names = "--grace", defaultValue = "24", description = "hours") long hours) {
    var r = root.c.identity().rotateWebhookSecret(RotateWebhookSecretRequest.newBuilder().setName(endpoint)
        .setGracePeriod(com.google.protobuf.Duration.newBuilder().setSeconds(hours * 3600)).build());
    root.c.print(r, () -> Out.fields("endpoint", r.getEndpoint().getName(), "secret", r.getSecret()));
  }

  @Command(name = "delete", description = "Remove an endpoint and its deliveries.")
  void delete(@Parameters(paramLabel = "ENDPOINT") String endpoint) {
    var r = root.c.identity().deleteWebhookEndpoint(DeleteWebhookEndpointRequest.newBuilder().setName(endpoint)
        .build());
    root.c.print(r, () -> System.out.println("deleted " + endpoint));
  }
}
