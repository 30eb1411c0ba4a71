package dev.tally.stack;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tally.common.testing.TestInfra;
import dev.tally.gateway.config.GatewayConfig;
import dev.tally.proto.identity.v1.*;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Identity away: API-key callers are told UNAVAILABLE (retry), never "your key is invalid", never throttled. */
class IdentityOutageTest {

  @Test
  void anIdentityOutageIsUnavailableNotAFailedLogin() throws Exception {
    try (TallyStack stack = TallyStack.start(new StackConfig(Files.createTempDirectory("tally-idout"), true, 0, 0, 0,
        0, 0, -1, "", ""), TestInfra.newDatabase(IdentityOutageTest.class, "identity"), TestInfra.kafka());
        GatewayClient gw = new GatewayClient(stack.gatewayPort(), GatewayConfig.DEV_PLATFORM_TOKEN)) {
      String secret = teamKey(gw, "idout").getSecret();
      stack.stopIdentity();
      Map<Status.Code, Integer> codes = new EnumMap<>(Status.Code.class);
      for (int i = 0; i < 50; i++) {
        try {
          IdentityServiceGrpc.newBlockingStub(gw.channel).withCallCredentials(gw.apiKey(secret))
              .withDeadlineAfter(10, TimeUnit.SECONDS).getUser(GetUserRequest.newBuilder().setName("users/me").build());
          codes.merge(Status.Code.OK, 1, Integer::sum);
        } catch (StatusRuntimeException e) {
          codes.merge(e.getStatus().getCode(), 1, Integer::sum);
        }
      }
      assertEquals(Map.of(Status.Code.UNAVAILABLE, 50), codes, "only retryable answers, no failed logins");
    }
  }

  /**
   * A key verified before identity went away keeps being admitted past the key cache's TTL while the gateway
   * is current on identity.v1 (served stale and re-verified in the background — which fails quietly here).
   */
  @Test
  void aKnownKeyIsAdmittedPastTheCacheTtlWhileIdentityIsAway() throws Exception {
    var env = dev.tally.common.config.Env.of(TallyStack.TEST_SECRETS).with(Map.of("TALLY_KEY_CACHE_TTL", "2s"));
    try (TallyStack stack = TallyStack.start(new StackConfig(Files.createTempDirectory("tally-idstale"), true, 0, 0,
        0, 0, 0, -1, "", ""), env, TestInfra.newDatabase(IdentityOutageTest.class, "identity"), TestInfra.kafka());
        GatewayClient gw = new GatewayClient(stack.gatewayPort(), GatewayConfig.DEV_PLATFORM_TOKEN)) {
      CreateApiKeyResponse key = teamKey(gw, "idstale");
      String team = key.getApiKey().getTeam();
      String secret = key.getSecret();
      dev.tally.proto.wallet.v1.WalletServiceGrpc.newBlockingStub(gw.channel).withCallCredentials(gw.platform())
          .withDeadlineAfter(20, TimeUnit.SECONDS).deposit(dev.tally.proto.wallet.v1.DepositRequest.newBuilder()
              .setWallet(team).setAmountNanos(1_000_000_000L).setCurrencyCode("USD")
              .setExternalReference("idstale").build());
      var admission = dev.tally.proto.admission.v1.AdmissionServiceGrpc.newBlockingStub(gw.channel)
          .withCallCredentials(gw.platform());
      var admit = dev.tally.proto.admission.v1.AdmitRequest.newBuilder().setApiKeySecret(secret).setMeter("requests")
          .setEstimatedCostNanos(1_000).build();
      admission.withDeadlineAfter(20, TimeUnit.SECONDS).admit(admit); // verified and cached
      stack.stopIdentity();
      // Past the TTL (answers live 1.6–2 s, jittered) and within the stale window after it (one more TTL).
      Thread.sleep(2_300);
      for (int i = 0; i < 3; i++) {
        assertEquals(team, admission.withDeadlineAfter(10, TimeUnit.SECONDS).admit(admit).getTeam(),
            "served from the stale answer: nothing was revoked (identity.v1 is current), identity is only away");
        Thread.sleep(200);
      }
    }
  }

  /** A new user's new team and a team key of it, made through the gateway. */
  private static CreateApiKeyResponse teamKey(GatewayClient gw, String tag) {
    var identity = IdentityServiceGrpc.newBlockingStub(gw.channel).withDeadlineAfter(20, TimeUnit.SECONDS);
    User owner = identity.withCallCredentials(gw.platform()).upsertUser(UpsertUserRequest.newBuilder()
        .setExternalId(tag + "|owner").setEmail("owner@" + tag + ".test").build()).getUser();
    Team team = identity.withCallCredentials(gw.asUser(owner.getName())).createTeam(CreateTeamRequest.newBuilder()
        .setDisplayName(tag).build()).getTeam();
    return identity.withCallCredentials(gw.asUser(owner.getName())).createApiKey(CreateApiKeyRequest.newBuilder()
        .setKind(ApiKeyKind.API_KEY_KIND_TEAM).setTeam(team.getName()).setDisplayName("k").build());
  }
}
