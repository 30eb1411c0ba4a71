package dev.tally.stack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.common.config.Env;
import dev.tally.common.error.Reasons;
import dev.tally.common.grpc.ProtoTime;
import dev.tally.common.testing.Await;
import dev.tally.common.testing.GrpcAssertions;
import dev.tally.common.testing.TestInfra;
import dev.tally.gateway.config.GatewayConfig;
import dev.tally.identity.keys.ApiKeyManager;
import dev.tally.proto.admission.v1.AdmissionServiceGrpc;
import dev.tally.proto.admission.v1.AdmitRequest;
import dev.tally.proto.identity.v1.*;
import dev.tally.proto.metering.v1.MeteringServiceGrpc;
import dev.tally.proto.metering.v1.RecordStatus;
import dev.tally.proto.metering.v1.RecordUsageRequest;
import dev.tally.proto.metering.v1.UsageRecord;
import dev.tally.proto.wallet.v1.DepositRequest;
import dev.tally.proto.wallet.v1.GetWalletRequest;
import dev.tally.proto.wallet.v1.ListPlansRequest;
import dev.tally.proto.wallet.v1.WalletServiceGrpc;
import io.grpc.CallCredentials;
import io.grpc.Status;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The run command honours the services' settings: every variable docs/configuration.md lists for the
 * services is read by the local stack, and non-default values are observed through the gateway — among them
 * the key every joining member is assigned (the Algorithmia policy).
 */
class StackSettingsTest {
  private static final String TOKEN = "a-platform-token-of-our-own";
  /** What the stack itself decides (documented under "Local stack"): ports, addresses, its database, its broker. */
  private static final Set<String> STACK_DECIDES = Set.of("TALLY_GRPC_PORT", "TALLY_METRICS_PORT", "TALLY_DB_URL",
      "TALLY_DB_USER", "TALLY_DB_PASSWORD", "TALLY_DB_SCHEMA", "TALLY_KAFKA_BOOTSTRAP", "TALLY_IDENTITY_TARGET",
      "TALLY_WALLET_TARGET", "TALLY_METERING_TARGET");
  /** Read by the logging configuration, not by the services' code. */
  private static final Set<String> LOGGING = Set.of("TALLY_LOG_FORMAT", "TALLY_LOG_LEVEL", "TALLY_ACCESS_LOG_LEVEL");

  private static final Set<String> read = ConcurrentHashMap.newKeySet();
  private static TallyStack stack;
  private static GatewayClient gw;

  @BeforeAll
  static void start() throws Exception {
    Map<String, String> vars = new HashMap<>();
    vars.put("TALLY_USAGE_MAX_AGE", "40d");
    vars.put("TALLY_MAX_OWNED_TEAMS", "1");
    vars.put("TALLY_PLATFORM_TOKEN", TOKEN);
    vars.put("TALLY_INTERNAL_AUTH_KEY", "a-signing-key-of-our-own");
    vars.put("TALLY_SECRET_PEPPER", "a-pepper-of-our-own-too");
    vars.put("TALLY_ASSIGN_KEY_ON_JOIN", "true");
    vars.put("TALLY_CURRENCY", "EUR");
    vars.put("TALLY_PLANS", "team:Team plan:7000000000");
    // Mail settings are read only with a host; nothing listens there (invitations still work, mails wait).
    vars.put("TALLY_SMTP_HOST", "localhost");
    vars.put("TALLY_SMTP_PORT", "9");
    vars.put("TALLY_SMTP_FROM", "tally@settings.test");
    stack = TallyStack.start(new StackConfig(Files.createTempDirectory("tally-settings"), true, 0, 0, 0, 0, 0, -1,
        "", ""), Env.recording(vars, read::add), TestInfra.newDatabase(StackSettingsTest.class, "identity"),
        TestInfra.kafka());
    gw = new GatewayClient(stack.gatewayPort(), TOKEN);
  }

  @AfterAll
  static void stop() {
    gw.close();
    stack.close();
  }

  @Test
  void everyDocumentedServiceVariableIsReadByTheStack() throws Exception {
    String doc = Files.readString(Path.of("..", "docs", "configuration.md"));
    String services = doc.substring(doc.indexOf("## Every service"), doc.indexOf("## Local stack"));
    Set<String> documented = new TreeSet<>();
    Matcher m = Pattern.compile("`(TALLY_[A-Z0-9_]+)`").matcher(services);
    while (m.find()) {
      documented.add(m.group(1));
    }
    documented.removeAll(STACK_DECIDES);
    documented.removeAll(LOGGING);
    assertTrue(documented.size() > 30, "parsed the tables: " + documented);
    Set<String> unread = new TreeSet<>(documented);
    unread.removeAll(read);
    assertEquals(Set.of(), unread, "documented but ignored by the local stack");
  }

  @Test
  void nonDefaultValuesTakeEffect() {
    var identity = IdentityServiceGrpc.newBlockingStub(gw.channel).withDeadlineAfter(20, TimeUnit.SECONDS);
    GrpcAssertions.assertFails(Status.Code.UNAUTHENTICATED, Reasons.UNAUTHENTICATED, () -> identity
        .withCallCredentials(GatewayClient.bearer(GatewayConfig.DEV_PLATFORM_TOKEN, null))
        .upsertUser(UpsertUserRequest.newBuilder().setExternalId("x").setEmail("x@settings.test").build()));
    User owner = identity.withCallCredentials(gw.platform()).upsertUser(UpsertUserRequest.newBuilder()
        .setExternalId("settings|owner").setEmail("owner@settings.test").build()).getUser();
    CallCredentials asOwner = gw.asUser(owner.getName());
    Team team = identity.withCallCredentials(asOwner).createTeam(CreateTeamRequest.newBuilder()
        .setDisplayName("Settings").build()).getTeam();
    GrpcAssertions.assertFails(Status.Code.FAILED_PRECONDITION, Reasons.TEAM_LIMIT_REACHED,
        () -> identity.withCallCredentials(asOwner).createTeam(CreateTeamRequest.newBuilder()
            .setDisplayName("Second").build()));

    var wallet = WalletServiceGrpc.newBlockingStub(gw.channel).withCallCredentials(gw.platform())
        .withDeadlineAfter(20, TimeUnit.SECONDS);
    assertEquals("EUR", wallet.getWallet(GetWalletRequest.newBuilder().setName(team.getWallet()).build())
        .getWallet().getCurrencyCode());
    assertEquals("plans/team", wallet.listPlans(ListPlansRequest.getDefaultInstance()).getPlans(0).getName());
    wallet.deposit(DepositRequest.newBuilder().setWallet(team.getWallet()).setAmountNanos(1_000_000_000L)
        .setCurrencyCode("EUR").setExternalReference("settings-pay").build());

    // Joining assigns a team key whose secret the accept answer carries once, and it spends.
    User joiner = identity.withCallCredentials(gw.platform()).upsertUser(UpsertUserRequest.newBuilder()
        .setExternalId("settings|joiner").setEmail("joiner@settings.test").build()).getUser();
    String token = identity.withCallCredentials(asOwner).createInvitation(CreateInvitationRequest.newBuilder()
        .setParent(team.getName()).setEmail("joiner@settings.test").build()).getToken();
    AcceptInvitationRequest accept = AcceptInvitationRequest.newBuilder().setToken(token).setRequestId("join-1")
        .build();
    AcceptInvitationResponse joined = identity.withCallCredentials(gw.asUser(joiner.getName()))
        .acceptInvitation(accept);
    ApiKey assigned = joined.getAssignedKey();
    assertEquals(ApiKeyManager.ASSIGNED_ON_JOIN_LABEL, assigned.getDisplayName());
    assertEquals(ApiKeyKind.API_KEY_KIND_TEAM, assigned.getKind());
    assertEquals(joiner.getName(), assigned.getOwner());
    assertTrue(joined.getAssignedKeySecret().startsWith("tly_"));
    AcceptInvitationResponse replay = identity.withCallCredentials(gw.asUser(joiner.getName()))
        .acceptInvitation(accept);
    assertEquals(assigned.getName(), replay.getAssignedKey().getName());
    assertEquals("", replay.getAssignedKeySecret(), "the secret is shown once, never stored");
    var admit = AdmissionServiceGrpc.newBlockingStub(gw.channel).withCallCredentials(gw.platform())
        .withDeadlineAfter(20, TimeUnit.SECONDS);
    assertEquals(team.getWallet(), admit.admit(AdmitRequest.newBuilder().setApiKeySecret(joined.getAssignedKeySecret())
        .setMeter("requests").setEstimatedQuantity(1).build()).getBillingAccount());

    // Usage 20 days old is within the configured 40-day window (7 days by default).
    var recorded = MeteringServiceGrpc.newBlockingStub(gw.channel).withCallCredentials(gw.platform())
        .withDeadlineAfter(20, TimeUnit.SECONDS).recordUsage(RecordUsageRequest.newBuilder().addRecords(
            UsageRecord.newBuilder().setEventId("old-usage").setApiKey(assigned.getName()).setMeter("requests")
                .setQuantity(1).setOccurredAt(ProtoTime.ts(Instant.now().minus(Duration.ofDays(20))))).build());
    assertEquals(RecordStatus.RECORD_STATUS_ACCEPTED, recorded.getResults(0).getStatus(),
        recorded.getResults(0).toString());

    // Removal revokes the assigned key like the member's other team keys.
    identity.withCallCredentials(asOwner).removeMember(RemoveMemberRequest.newBuilder()
        .setName(team.getName() + "/members/" + joiner.getName().substring("users/".length())).build());
    Await.until("assigned key revoked", Duration.ofSeconds(10), () -> identity.withCallCredentials(asOwner)
        .getApiKey(GetApiKeyRequest.newBuilder().setName(assigned.getName()).build()).getApiKey().getState()
        == ApiKeyState.API_KEY_STATE_REVOKED);
    assertFalse(read.isEmpty());
  }
}
