package dev.tally.cli;

import com.google.protobuf.Duration;
import dev.tally.proto.identity.v1.*;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "keys", description = "API keys: the secret is shown once.", mixinStandardHelpOptions = true)
final class KeysCmd {
  @ParentCommand Tally root;

  @Command(name = "create", description = "Create a personal key, a team key (--team) or a service key (--service).")
  void create(@Option(names = "--label", required = true) String label,
      @Option(names = "--team", defaultValue = "") String team,
      @Option(names = "--service", description = "owned by the team, not by you") boolean service) {
    ApiKeyKind kind = team.isEmpty() ? ApiKeyKind.API_KEY_KIND_PERSONAL
        : service ? ApiKeyKind.API_KEY_KIND_SERVICE : ApiKeyKind.API_KEY_KIND_TEAM;
    var r = root.c.identity().createApiKey(CreateApiKeyRequest.newBuilder().setKind(kind).setTeam(team)
        .setDisplayName(label).build());
    root.c.print(r, () -> {
      show(r.getApiKey());
      Out.fields("secret", r.getSecret() + "   (shown once; store it now)");
    });
  }

  @Command(name = "list", description = "Your personal keys, or a team's keys.")
  void list(@Option(names = "--team", defaultValue = "") String team) {
    var r = root.c.identity().listApiKeys(ListApiKeysRequest.newBuilder().setTeam(team).setPageSize(1000).build());
    root.c.print(r, () -> {
      Out.Table t = new Out.Table("KEY", "LABEL", "KIND", "STATE", "PREFIX", "LAST USED");
      r.getApiKeysList().forEach(k -> t.row(k.getName(), k.getDisplayName(), kind(k), state(k), k.getSecretPrefix(),
          Out.time(k.getLastUseTime())));
      t.print();
    });
  }

  @Command(name = "get", description = "One key.")
  void get(@Parameters(paramLabel = "KEY") String key) {
    var r = root.c.identity().getApiKey(GetApiKeyRequest.newBuilder().setName(key).build());
    root.c.print(r, () -> show(r.getApiKey()));
  }

  @Command(name = "revoke", description = "Revoke a key at once.")
  void revoke(@Parameters(paramLabel = "KEY") String key) {
    var r = root.c.identity().revokeApiKey(RevokeApiKeyRequest.newBuilder().setName(key).build());
    root.c.print(r, () -> System.out.println("revoked " + key));
  }

  @Command(name = "restrict", description = "Restrict a key (apiKeys/{k}) or every key of a team (teams/{t}, the "
      + "default) to meters and models; no --meter/--model lifts the restriction.")
  void restrict(@Parameters(paramLabel = "KEY_OR_TEAM") String parent,
      @Option(names = "--meter", split = ",", description = "allowed meter ids (repeat or comma-separate)")
      java.util.List<String> meters,
      @Option(names = "--model", split = ",", description = "allowed models") java.util.List<String> models) {
    var r = root.c.identity().setKeyRestrictions(SetKeyRestrictionsRequest.newBuilder().setParent(parent)
        .addAllAllowedMeters(meters == null ? java.util.List.of() : meters)
        .addAllAllowedModels(models == null ? java.util.List.of() : models).build());
    root.c.print(r, () -> Out.fields("restricted", parent,
        "meters", r.hasApiKey() ? any(r.getApiKey().getAllowedMetersList()) : any(r.getTeam().getKeyAllowedMetersList()),
        "models", r.hasApiKey() ? any(r.getApiKey().getAllowedModelsList()) : any(r.getTeam().getKeyAllowedModelsList())));
  }

  private static String any(java.util.List<String> values) {
    return values.isEmpty() ? "any" : String.join(", ", values);
  }

  @Command(name = "rotate", description = "New secret, same key; the old one works for --grace seconds.")
  void rotate(@Parameters(paramLabel = "KEY") String key,
      @Option(names = "--grace", defaultValue = "0", description = "seconds") long grace) {
    var r = root.c.identity().rotateApiKey(RotateApiKeyRequest.newBuilder().setName(key)
        .setGracePeriod(Duration.newBuilder().setSeconds(grace)).build());
    root.c.print(r, () -> Out.fields("key", r.getApiKey().getName(), "secret", r.getSecret() + "   (shown once)"));
  }

  private static void show(ApiKey k) {
    Out.fields("key", k.getName(), "label", k.getDisplayName(), "kind", kind(k), "state", state(k),
        "billed to", k.getBillingAccount(), "prefix", k.getSecretPrefix());
  }

  private static String kind(ApiKey k) {
    return k.getKind().name().substring("API_KEY_KIND_".length()).toLowerCase(Locale.ROOT);
  }

  private static String state(ApiKey k) {
    return k.getState().name().substring("API_KEY_STATE_".length()).toLowerCase(Locale.ROOT);
  }
}
