package dev.tally.identity;

import static dev.tally.common.testing.GrpcAssertions.assertFails;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Duration;
import com.google.protobuf.Timestamp;
import dev.tally.identity.IdentityFixture.TestUser;
import dev.tally.identity.config.IdentityPolicy;
import dev.tally.proto.identity.v1.*;
import io.grpc.Status;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class ApiKeysTest {
  private static IdentityFixture f;

  @BeforeAll
  static void start() throws Exception {
    f = new IdentityFixture(ApiKeysTest.class, IdentityPolicy.defaults());
  }

  @AfterAll
  static void stop() {
    f.close();
  }

  private static String id(String name) {
    return name.substring(name.indexOf('/') + 1);
  }

  @Test
  void personalKeyVerifiesToItsOwnerAndPersonalWallet() {
    TestUser u = f.newUser("pk");
    CreateApiKeyResponse created = f.personalKey(u, "laptop");
    assertTrue(created.getSecret().startsWith("tly_"));
    assertEquals(47, created.getSecret().length());
    assertEquals(created.getSecret().substring(0, 12), created.getApiKey().getSecretPrefix());
    VerifyApiKeyResponse v = f.verify(created.getSecret());
    assertEquals(u.name(), v.getPrincipal().getUser());
    assertEquals("wallets/user-" + u.id(), v.getBillingAccount());
    assertEquals(created.getApiKey().getName(), v.getApiKey().getName());
  }

  @Test
  void teamKeyBillsTheTeamAndCarriesTheOwnersRole() {
    TestUser owner = f.newUser("tk-owner");
    TestUser member = f.newUser("tk-member");
    Team team = f.newTeam(owner, "Keys");
    f.join(owner, team, member, "roles/member");
    VerifyApiKeyResponse v = f.verify(f.teamKey(member, team, "ci").getSecret());
    assertEquals(team.getWallet(), v.getBillingAccount());
    assertEquals(member.name(), v.getPrincipal().getUser());
    assertEquals(team.getName(), v.getPrincipal().getTeam());
    assertEquals("roles/member", v.getRole());
    assertTrue(v.getPermissionsList().contains(Permission.PERMISSION_KEYS_USE));
  }

  @Test
  void serviceKeyNeedsKeysManageAllAndSurvivesItsCreatorLeaving() {
    TestUser owner = f.newUser("sk-owner");
    TestUser admin = f.newUser("sk-admin");
    TestUser member = f.newUser("sk-member");
    Team team = f.newTeam(owner, "Service");
    f.join(owner, team, admin, "roles/admin");
    f.join(owner, team, member, "roles/member");
    CreateApiKeyRequest req = CreateApiKeyRequest.newBuilder().setKind(ApiKeyKind.API_KEY_KIND_SERVICE)
        .setTeam(team.getName()).setDisplayName("prod").build();
    assertFails(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN", () -> f.as(member).createApiKey(req));
    CreateApiKeyResponse svc = f.as(admin).createApiKey(req);
    assertEquals("", svc.getApiKey().getOwner());
    f.as(admin).leaveTeam(LeaveTeamRequest.newBuilder().setTeam(team.getName()).build());
    VerifyApiKeyResponse v = f.verify(svc.getSecret());
    assertEquals("", v.getPrincipal().getUser());
    assertEquals(team.getName(), v.getPrincipal().getTeam());
    assertEquals(team.getWallet(), v.getBillingAccount());
  }

  @Test
  void unknownSecretIsKeyInvalid() {
    assertFails(Status.Code.UNAUTHENTICATED, "KEY_INVALID", () -> f.verify("tly_" + "x".repeat(43)));
  }

  @Test
  void verifyIsInternalToThePlatform() {
    TestUser u = f.newUser("vi");
    String secret = f.personalKey(u, "k").getSecret();
    assertFails(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN",
        () -> f.internalAs(u.caller()).verifyApiKey(VerifyApiKeyRequest.newBuilder().setSecret(secret).build()));
  }

  @Test
  void revokedKeyIsDeniedWithKeyRevoked() {
    TestUser u = f.newUser("rk");
    CreateApiKeyResponse k = f.personalKey(u, "gone");
    ApiKey revoked = f.as(u).revokeApiKey(RevokeApiKeyRequest.newBuilder().setName(k.getApiKey().getName()).build())
        .getApiKey();
    assertEquals(ApiKeyState.API_KEY_STATE_REVOKED, revoked.getState());
    assertTrue(revoked.hasRevokeTime());
    assertFails(Status.Code.PERMISSION_DENIED, "KEY_REVOKED", () -> f.verify(k.getSecret()));
    assertFails(Status.Code.FAILED_PRECONDITION, "KEY_REVOKED", () -> f.as(u).rotateApiKey(
        RotateApiKeyRequest.newBuilder().setName(k.getApiKey().getName()).build()));
  }

  @Test
  void expiredKeyIsDeniedWithKeyExpired() throws Exception {
    TestUser u = f.newUser("ek");
    Instant soon = Instant.now().plusSeconds(3600);
    CreateApiKeyResponse k = f.as(u).createApiKey(CreateApiKeyRequest.newBuilder()
        .setKind(ApiKeyKind.API_KEY_KIND_PERSONAL).setDisplayName("short-lived")
        .setExpireTime(Timestamp.newBuilder().setSeconds(soon.getEpochSecond())).build());
    f.verify(k.getSecret());
    f.execute("update api_keys set expire_time = now() - interval '1 second' where id = ?", id(k.getApiKey().getName()));
    assertFails(Status.Code.PERMISSION_DENIED, "KEY_EXPIRED", () -> f.verify(k.getSecret()));
    assertEquals(ApiKeyState.API_KEY_STATE_EXPIRED, f.as(u).getApiKey(GetApiKeyRequest.newBuilder()
        .setName(k.getApiKey().getName()).build()).getApiKey().getState());
    assertFails(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", () -> f.as(u).createApiKey(
        CreateApiKeyRequest.newBuilder().setKind(ApiKeyKind.API_KEY_KIND_PERSONAL).setDisplayName("past")
            .setExpireTime(Timestamp.newBuilder().setSeconds(1)).build()));
  }

  @Test
  void rotateKeepsTheIdAndHonoursTheGracePeriod() throws Exception {
    TestUser u = f.newUser("rot");
    CreateApiKeyResponse k = f.personalKey(u, "rotating");
    RotateApiKeyResponse withGrace = f.as(u).rotateApiKey(RotateApiKeyRequest.newBuilder()
        .setName(k.getApiKey().getName()).setGracePeriod(Duration.newBuilder().setSeconds(3600)).build());
    assertEquals(k.getApiKey().getName(), withGrace.getApiKey().getName());
    assertNotEquals(k.getSecret(), withGrace.getSecret());
    // Both secrets work during the grace period, and name the same key.
    assertEquals(k.getApiKey().getName(), f.verify(k.getSecret()).getApiKey().getName());
    assertEquals(k.getApiKey().getName(), f.verify(withGrace.getSecret()).getApiKey().getName());
    // When the grace period is over, the old one stops.
    f.execute("update api_key_secrets set expire_time = now() - interval '1 second' where key_id = ? "
        + "and expire_time is not null", id(k.getApiKey().getName()));
    assertFails(Status.Code.UNAUTHENTICATED, "KEY_INVALID", () -> f.verify(k.getSecret()));
    f.verify(withGrace.getSecret());
    // Without grace the previous secret dies at once.
    RotateApiKeyResponse noGrace = f.as(u).rotateApiKey(RotateApiKeyRequest.newBuilder()
        .setName(k.getApiKey().getName()).build());
    assertFails(Status.Code.UNAUTHENTICATED, "KEY_INVALID", () -> f.verify(withGrace.getSecret()));
    f.verify(noGrace.getSecret());
  }

  @Test
  void createApiKeyReplayReturnsTheKeyWithoutTheSecretAndDifferentPayloadIsRejected() {
    TestUser u = f.newUser("idem");
    CreateApiKeyRequest req = CreateApiKeyRequest.newBuilder().setKind(ApiKeyKind.API_KEY_KIND_PERSONAL)
        .setDisplayName("once").setRequestId("key-req-1").build();
    CreateApiKeyResponse first = f.as(u).createApiKey(req);
    CreateApiKeyResponse replay = f.as(u).createApiKey(req);
    assertEquals(first.getApiKey(), replay.getApiKey());
    assertFalse(first.getSecret().isEmpty());
    assertEquals("", replay.getSecret());
    assertEquals(1, f.as(u).listApiKeys(ListApiKeysRequest.getDefaultInstance()).getApiKeysCount());
    assertFails(Status.Code.ALREADY_EXISTS, "IDEMPOTENCY_KEY_REUSED", () -> f.as(u).createApiKey(
        req.toBuilder().setDisplayName("twice").build()));
  }

  @Test
  void membersSeeTheirOwnTeamKeysAndAdminsSeeAll() {
    TestUser owner = f.newUser("ls-owner");
    TestUser m1 = f.newUser("ls-m1");
    TestUser m2 = f.newUser("ls-m2");
    Team team = f.newTeam(owner, "Listing");
    f.join(owner, team, m1, "roles/member");
    f.join(owner, team, m2, "roles/member");
    String k1 = f.teamKey(m1, team, "k1").getApiKey().getName();
    String k2 = f.teamKey(m2, team, "k2").getApiKey().getName();
    ListApiKeysRequest list = ListApiKeysRequest.newBuilder().setTeam(team.getName()).build();
    assertEquals(List.of(k1), f.as(m1).listApiKeys(list).getApiKeysList().stream().map(ApiKey::getName).toList());
    assertEquals(List.of(k2, k1), f.as(owner).listApiKeys(list).getApiKeysList().stream().map(ApiKey::getName).toList());
    assertFails(Status.Code.NOT_FOUND, "NOT_FOUND",
        () -> f.as(m1).revokeApiKey(RevokeApiKeyRequest.newBuilder().setName(k2).build()));
    f.as(owner).revokeApiKey(RevokeApiKeyRequest.newBuilder().setName(k2).build());
    assertEquals(List.of(k1), f.as(owner).listApiKeys(list.toBuilder()
        .addStates(ApiKeyState.API_KEY_STATE_ACTIVE).build()).getApiKeysList().stream().map(ApiKey::getName).toList());
  }

  @Test
  void teamKeyForATeamOfWhichTheCallerIsNotAMemberIsNotFound() {
    TestUser a = f.newUser("nm-a");
    TestUser b = f.newUser("nm-b");
    Team team = f.newTeam(b, "Other");
    assertFails(Status.Code.NOT_FOUND, "NOT_FOUND", () -> f.teamKey(a, team, "sneaky"));
    assertFails(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", () -> f.as(a).createApiKey(
        CreateApiKeyRequest.newBuilder().setKind(ApiKeyKind.API_KEY_KIND_TEAM).setDisplayName("no team").build()));
  }
}
