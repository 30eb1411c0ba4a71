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
      var identity = IdentityServiceGrpc.newBlockingStub(gw.channel).withDeadlineAfter(20, TimeUnit.SECONDS);
      User owner = identity.withCallCredentials(gw.platform()).upsertUser(UpsertUserRequest.newBuilder()
          .setExternalId("idout|owner").setEmail("owner@idout.test").build()).getUser();
      Team team = identity.withCallCredentials(gw.asUser(owner.getName())).createTeam(CreateTeamRequest.newBuilder()
          .setDisplayName("Outage").build()).getTeam();
      String secret = identity.withCallCredentials(gw.asUser(owner.getName())).createApiKey(CreateApiKeyRequest
          .newBuilder().setKind(ApiKeyKind.API_KEY_KIND_TEAM).setTeam(team.getName()).setDisplayName("k").build())
          .getSecret();
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
}
