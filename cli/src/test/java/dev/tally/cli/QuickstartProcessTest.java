package dev.tally.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import dev.tally.proto.admission.v1.AdmitResponse;
import dev.tally.proto.identity.v1.CreateApiKeyResponse;
import dev.tally.proto.identity.v1.CreateInvitationResponse;
import dev.tally.proto.identity.v1.CreateTeamResponse;
import dev.tally.proto.identity.v1.ListTeamsResponse;
import dev.tally.proto.identity.v1.UpsertUserResponse;
import dev.tally.proto.metering.v1.GetUsageSummaryResponse;
import dev.tally.proto.wallet.v1.GetWalletResponse;
import io.grpc.ManagedChannel;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The README's run command as a process, the quickstart driven through the CLI as processes, a restart that
 * finds the data, and a clean Ctrl-C. Writes the transcript the quickstart shows (target/quickstart.md) and
 * checks that docs/quickstart.md shows exactly these commands.
 */
class QuickstartProcessTest {
  private final Map<String, String> env = new HashMap<>();
  private final Map<String, String> vars = new LinkedHashMap<>();
  private final StringBuilder transcript = new StringBuilder();
  private final List<String> commands = new ArrayList<>();

  @Test
  void quickstartThroughTheCliSurvivesARestart() throws Exception {
    Path data = Files.createTempDirectory("tally-quickstart");
    int gateway = Processes.freePort();
    int identityPort = Processes.freePort();
    Map<String, String> stackEnv = Map.of("TALLY_DATA_DIR", data.toString(), "TALLY_SKIP_BUILD", "1",
        "TALLY_GATEWAY_PORT", Integer.toString(gateway), "TALLY_IDENTITY_PORT", Integer.toString(identityPort),
        "TALLY_WALLET_PORT", Integer.toString(Processes.freePort()),
        "TALLY_METERING_PORT", Integer.toString(Processes.freePort()),
        "TALLY_POSTGRES_PORT", Integer.toString(Processes.freePort()), "TALLY_METRICS_PORT", "-1");
    env.put("TALLY_GATEWAY", "localhost:" + gateway);
    Process stack = startStack(stackEnv, data.resolve("first.log"), gateway);
    try {
      // The stack made its own platform token and signing key, kept for its owner only.
      Path tokenFile = data.resolve("secrets/platform-token");
      assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
          Files.getPosixFilePermissions(tokenFile)));
      String token = Files.readString(tokenFile).trim();
      assertTrue(token.length() >= 32 && !token.startsWith("dev-"), token);
      assertTrue(Files.readString(data.resolve("first.log")).contains("platform token: " + token));
      env.put("TALLY_PLATFORM_TOKEN", token);
      LocalStackExposure.assertOnlyItsOwnKeysAndLoopback(identityPort, gateway,
          Files.readString(data.resolve("first.log")));
      quickstart();
      aProfileCarriesTheAddressTheTokenAndTheUser(tokenFile, gateway);
    } finally {
      stop(stack, data.resolve("first.log"));
    }

    Process again = startStack(stackEnv, data.resolve("second.log"), gateway);
    try {
      ListTeamsResponse teams = json(ListTeamsResponse.newBuilder(),
          run(false, "teams", "list", "--as", "$OWNER", "--json"));
      assertEquals(vars.get("TEAM"), teams.getTeams(0).getName(), "the team survived the restart");
      GetWalletResponse w = json(GetWalletResponse.newBuilder(),
          run(false, "wallet", "get", "$TEAM", "--as", "$OWNER", "--json"));
      assertEquals(Long.parseLong(vars.get("BALANCE")), w.getWallet().getBalanceNanos(), "the money survived too");
    } finally {
      stop(again, data.resolve("second.log"));
    }

    Path out = Processes.ROOT.resolve("cli/target/quickstart.md");
    Files.writeString(out, transcript.toString());
    String doc = Files.readString(Processes.ROOT.resolve("docs/quickstart.md"));
    for (String c : commands) {
      assertTrue(doc.contains("$ " + c), "docs/quickstart.md does not show the command the test ran: " + c
          + " (see " + out + ")");
    }
  }

  private void quickstart() throws Exception {
    UpsertUserResponse owner = json(UpsertUserResponse.newBuilder(), run(true,
        "users", "upsert", "--external-id", "auth0|ada", "--email", "ada@acme.test", "--name", "Ada Owner", "--json"));
    vars.put("OWNER", owner.getUser().getName());
    UpsertUserResponse member = json(UpsertUserResponse.newBuilder(), run(true,
        "users", "upsert", "--external-id", "auth0|max", "--email", "max@acme.test", "--name", "Max Member", "--json"));
    vars.put("MEMBER", member.getUser().getName());
    String team = run(true, "teams", "create", "Acme AI", "--as", "$OWNER");
    vars.put("TEAM", field(team, "team"));
    String invitation = run(true, "invitations", "create", "$TEAM", "max@acme.test", "--as", "$OWNER");
    vars.put("TOKEN", field(invitation, "token"));
    assertTrue(run(true, "invitations", "accept", "$TOKEN", "--as", "$MEMBER").startsWith("joined"));
    String key = run(true, "keys", "create", "--team", "$TEAM", "--label", "prod", "--as", "$MEMBER");
    vars.put("KEY", field(key, "key"));
    vars.put("SECRET", field(key, "secret").split(" ")[0]);
    assertTrue(vars.get("SECRET").startsWith("tly_"));
    run(true, "wallet", "deposit", "$TEAM", "20.00", "--ref", "pay_001");
    run(true, "wallet", "limit", "$TEAM", "day", "1.00", "--as", "$OWNER");
    String perMember = run(true, "wallet", "quota", "$TEAM", "$TEAM/members/*", "month", "5.00", "--as", "$OWNER");
    assertTrue(perMember.contains("$5.00 each (team default)"), perMember);
    String admitted = run(true, "admit", "--key-secret", "$SECRET", "--meter", "output_tokens", "--quantity", "4000");
    vars.put("HOLD", field(admitted, "hold"));
    String recorded = run(true, "usage", "record", "--key", "$KEY", "--meter", "output_tokens", "--quantity", "3000",
        "--hold", "$HOLD", "--event-id", "req-0001");
    assertTrue(recorded.startsWith("accepted req-0001 cost $0.0018"), recorded);
    awaitUsage();
    GetUsageSummaryResponse summary = json(GetUsageSummaryResponse.newBuilder(),
        run(false, "usage", "summary", "$KEY", "--as", "$MEMBER", "--json"));
    assertEquals(1, summary.getCalls());
    assertEquals(1_800_000L, summary.getListSpendNanos());
    assertEquals(1_800_000L, summary.getNetSpendNanos());
    run(true, "usage", "summary", "$KEY", "--as", "$MEMBER");
    // The spend export writes a CSV file (not in the quickstart's transcript: its dates are the day's).
    Path csv = Files.createTempDirectory("tally-export").resolve("spend.csv");
    run(false, "usage", "export", "$TEAM", "--from", Instant.now().minus(Duration.ofDays(1)).toString(), "--out",
        csv.toString(), "--as", "$OWNER");
    List<String> rows = Files.readAllLines(csv);
    assertEquals(2, rows.size(), rows.toString());
    assertTrue(rows.get(1).contains(",output_tokens,,1,3000,0.0018,0.0018,1800000,1800000,USD"), rows.get(1));
    String wallet = run(true, "wallet", "get", "$TEAM", "--as", "$OWNER");
    assertTrue(wallet.contains("$19.9982"), wallet);
    vars.put("BALANCE", Long.toString(20_000_000_000L - 1_800_000L));
    Processes.Result denied = runExpectingFailure("admit", "--key-secret", "$SECRET", "--meter", "gpu_seconds",
        "--quantity", "3600000");
    assertEquals(8, denied.exit(), "RESOURCE_EXHAUSTED exits 8");
    assertTrue(denied.err().startsWith("error: RESOURCE_EXHAUSTED SPENDING_LIMIT_REACHED"), denied.err());
    String limits = run(true, "wallet", "limits", "$TEAM", "--subject", "$KEY", "--as", "$OWNER");
    assertTrue(limits.contains("team") && limits.contains("balance") && limits.contains("$0.9982"), limits);
    assertTrue(limits.contains("team_default") && limits.contains("$4.9982"), "Max's share of the default: " + limits);
    genericClient();
  }

  /** A named profile of the config file is all a call needs: no variable is set for this one. */
  private void aProfileCarriesTheAddressTheTokenAndTheUser(Path tokenFile, int gateway) throws Exception {
    Path home = Files.createTempDirectory("tally-profile-home");
    Path config = home.resolve(".config/tally/config");
    Files.createDirectories(config.getParent());
    Files.writeString(config, "[local]\ngateway = localhost:" + gateway + "\ntoken-file = " + tokenFile
        + "\nas = " + vars.get("OWNER") + "\n");
    Processes.Result r = Processes.tally(Map.of("HOME", home.toString()), List.of("--profile", "local", "teams",
        "list", "--json"));
    assertEquals(0, r.exit(), r.err());
    ListTeamsResponse teams = json(ListTeamsResponse.newBuilder(), r.out());
    assertEquals(vars.get("TEAM"), teams.getTeams(0).getName());
  }

  /** The same API with a generic client over reflection: buf curl (installed by bin/test into .tools/). */
  private void genericClient() throws Exception {
    Path buf = Processes.ROOT.resolve(".tools/node_modules/.bin/buf");
    if (!Files.isExecutable(buf)) {
      System.err.println("buf is not installed in .tools/ (bin/test installs it): the buf curl steps are not run");
      return;
    }
    String services = shell(buf, "buf curl --protocol grpc --http2-prior-knowledge --list-services http://$TALLY_GATEWAY",
        List.of("curl", "--protocol", "grpc", "--http2-prior-knowledge", "--list-services", "http://" + env.get("TALLY_GATEWAY")));
    assertTrue(services.contains("tally.admission.v1.AdmissionService"), services);
    String wallet = shell(buf, "buf curl --protocol grpc --http2-prior-knowledge -H \"authorization: Bearer "
            + "$TALLY_PLATFORM_TOKEN\" -H \"x-tally-user: $OWNER\" -d \"{\\\"name\\\": \\\"$TEAM\\\"}\" "
            + "http://$TALLY_GATEWAY/tally.wallet.v1.WalletService/GetWallet",
        List.of("curl", "--protocol", "grpc", "--http2-prior-knowledge", "-H", "authorization: Bearer "
            + env.get("TALLY_PLATFORM_TOKEN"), "-H", "x-tally-user: " + vars.get("OWNER"), "-d",
            "{\"name\": \"" + vars.get("TEAM") + "\"}", "http://" + env.get("TALLY_GATEWAY")
                + "/tally.wallet.v1.WalletService/GetWallet"));
    assertTrue(wallet.contains("\"balanceNanos\": \"19998200000\""), wallet);
  }

  private String shell(Path buf, String shown, List<String> args) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(buf.toString());
    cmd.addAll(args);
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), shown);
    assertEquals(0, p.exitValue(), shown + "\n" + out);
    commands.add(shown);
    transcript.append("$ ").append(shown).append('\n').append(redact(out)).append('\n');
    return out;
  }

  /** The rollups follow the ledger within moments; wait for them. */
  private void awaitUsage() throws InterruptedException {
    long until = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (System.nanoTime() < until) {
      Processes.Result r = Processes.tally(env, substitute(List.of("usage", "summary", "$KEY", "--as", "$MEMBER",
          "--json")));
      if (r.exit() == 0 && r.out().contains("\"calls\": \"1\"")) {
        return;
      }
      Thread.sleep(200);
    }
    throw new AssertionError("usage never showed up");
  }

  private String run(boolean show, String... args) {
    Processes.Result r = Processes.tally(env, substitute(List.of(args)));
    assertEquals(0, r.exit(), "tally " + String.join(" ", args) + " failed: " + r.err());
    if (show) {
      record(args, r.out());
    }
    return r.out();
  }

  private Processes.Result runExpectingFailure(String... args) {
    Processes.Result r = Processes.tally(env, substitute(List.of(args)));
    record(args, r.err() + "[exit " + r.exit() + "]\n");
    return r;
  }

  private void record(String[] args, String output) {
    StringBuilder line = new StringBuilder("tally");
    for (String a : args) {
      line.append(' ').append(a.contains(" ") || a.contains("|") || a.contains("*") ? "\"" + a + "\"" : a);
    }
    commands.add(line.toString());
    transcript.append("$ ").append(line).append('\n').append(redact(output)).append('\n');
  }

  /** Secrets shown once stay out of the docs: their tails are cut. */
  private static String redact(String text) {
    return text.replaceAll("(tly_[A-Za-z0-9]{8})[A-Za-z0-9]{20,}", "$1…")
        .replaceAll("(inv_[A-Za-z0-9_-]{6})[A-Za-z0-9_-]{20,}", "$1…");
  }

  private List<String> substitute(List<String> args) {
    List<String> out = new ArrayList<>();
    for (String a : args) {
      // $VAR (and "$VAR/..." as a shell expands it inside quotes)
      Matcher m = Pattern.compile("\\$([A-Z_]+)").matcher(a);
      StringBuilder sb = new StringBuilder();
      while (m.find()) {
        m.appendReplacement(sb, Matcher.quoteReplacement(vars.getOrDefault(m.group(1), m.group())));
      }
      m.appendTail(sb);
      out.add(sb.toString());
    }
    return out;
  }

  private static String field(String output, String name) {
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + ":\\s+(\\S.*)$").matcher(output);
    assertTrue(m.find(), "no " + name + " in:\n" + output);
    return m.group(1).trim();
  }

  @SuppressWarnings("unchecked")
  private static <T extends Message> T json(Message.Builder b, String json) throws IOException {
    JsonFormat.parser().ignoringUnknownFields().merge(json, b);
    return (T) b.build();
  }

  private static Process startStack(Map<String, String> env, Path log, int gateway) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(Processes.ROOT.resolve("bin/tally-stack").toString())
        .directory(Processes.ROOT.toFile()).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().putAll(env);
    pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
    Process p = pb.start();
    ManagedChannel ch = NettyChannelBuilder.forAddress("localhost", gateway).usePlaintext().build();
    try {
      long until = System.nanoTime() + Duration.ofSeconds(120).toNanos();
      while (true) {
        assertTrue(p.isAlive(), "the stack died:\n" + Files.readString(log));
        try {
          if (HealthGrpc.newBlockingStub(ch).withDeadlineAfter(2, TimeUnit.SECONDS)
              .check(HealthCheckRequest.getDefaultInstance()).getStatus() == HealthCheckResponse.ServingStatus.SERVING) {
            return p;
          }
        } catch (io.grpc.StatusRuntimeException notYet) {
          // not listening yet
        }
        assertTrue(System.nanoTime() < until, "the stack never became healthy:\n" + Files.readString(log));
        Thread.sleep(250);
      }
    } finally {
      ch.shutdownNow();
    }
  }

  /** Ctrl-C: SIGINT, then a clean exit within the drain time. */
  private static void stop(Process p, Path log) throws Exception {
    new ProcessBuilder("kill", "-INT", Long.toString(p.pid())).start().waitFor();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the stack did not stop on Ctrl-C");
    String output = Files.readString(log, StandardCharsets.UTF_8);
    assertTrue(output.contains("gateway: stopped") && output.contains("wallet: stopped"),
        "no clean shutdown:\n" + output);
  }
}
