package dev.tally.identity;

import static dev.tally.common.testing.GrpcAssertions.assertFails;
import static dev.tally.identity.IdentityFixture.badField;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.FieldMask;
import dev.tally.common.auth.Caller;
import dev.tally.identity.IdentityFixture.TestUser;
import dev.tally.identity.config.IdentityPolicy;
import dev.tally.proto.identity.v1.*;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class TeamsTest {
  private static IdentityFixture f;

  @BeforeAll
  static void start() throws Exception {
    f = new IdentityFixture(TeamsTest.class, IdentityPolicy.defaults());
  }

  @AfterAll
  static void stop() {
    f.close();
  }

  @Test
  void upsertUserCreatesThenUpdatesByExternalId() {
    UpsertUserResponse first = f.platform().upsertUser(UpsertUserRequest.newBuilder().setExternalId("login-1")
        .setEmail("Ada@Example.com").setDisplayName("Ada").build());
    assertTrue(first.getCreated());
    UpsertUserResponse second = f.platform().upsertUser(UpsertUserRequest.newBuilder().setExternalId("login-1")
        .setEmail("ada@example.com").setDisplayName("Ada L.").build());
    assertFalse(second.getCreated());
    assertEquals(first.getUser().getName(), second.getUser().getName());
    assertEquals("Ada L.", second.getUser().getDisplayName());
  }

  @Test
  void upsertUserEmailOfAnotherUserIsAlreadyExistsCaseInsensitive() {
    f.platform().upsertUser(UpsertUserRequest.newBuilder().setExternalId("login-2").setEmail("grace@example.com")
        .build());
    assertFails(Status.Code.ALREADY_EXISTS, "EMAIL_TAKEN", () -> f.platform().upsertUser(
        UpsertUserRequest.newBuilder().setExternalId("login-3").setEmail("GRACE@example.com").build()));
  }

  @Test
  void upsertUserByAUserIsDenied() {
    TestUser u = f.newUser("mallory");
    assertFails(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN", () -> f.as(u).upsertUser(
        UpsertUserRequest.newBuilder().setExternalId("x").setEmail("x@example.com").build()));
  }

  @Test
  void getUserMeAndNotOthers() {
    TestUser a = f.newUser("a");
    TestUser b = f.newUser("b");
    assertEquals(a.name(), f.as(a).getUser(GetUserRequest.newBuilder().setName("users/me").build()).getUser().getName());
    assertFails(Status.Code.NOT_FOUND, "NOT_FOUND",
        () -> f.as(a).getUser(GetUserRequest.newBuilder().setName(b.name()).build()));
  }

  @Test
  void callWithoutSignedCallerIsUnauthenticated() {
    var unsigned = IdentityServiceGrpc.newBlockingStub(f.channel);
    assertFails(Status.Code.UNAUTHENTICATED, "UNAUTHENTICATED",
        () -> unsigned.getUser(GetUserRequest.newBuilder().setName("users/me").build()));
    var forged = IdentityServiceGrpc.newBlockingStub(f.channel).withCallCredentials(
        new dev.tally.common.auth.CallerSigner("another-key-of-32-characters!!!!", java.time.Clock.systemUTC())
            .credentials(Caller.PLATFORM));
    assertFails(Status.Code.UNAUTHENTICATED, "UNAUTHENTICATED",
        () -> forged.getUser(GetUserRequest.newBuilder().setName("users/me").build()));
  }

  @Test
  void createTeamMakesTheCallerOwnerWithATeamWallet() {
    TestUser owner = f.newUser("owner");
    Team team = f.newTeam(owner, "  Acme Research  ");
    assertEquals("Acme Research", team.getDisplayName());
    assertEquals(owner.name(), team.getOwner());
    assertEquals(1, team.getMemberCount());
    assertEquals("wallets/team-" + team.getName().substring(6), team.getWallet());
    GetTeamResponse got = f.as(owner).getTeam(GetTeamRequest.newBuilder().setName(team.getName()).build());
    assertEquals("roles/owner", got.getMembership().getRole());
  }

  @Test
  void createTeamName48CharactersAcceptedAnd49Rejected() {
    TestUser owner = f.newUser("names");
    String name48 = "x".repeat(48);
    assertEquals(name48, f.newTeam(owner, name48).getDisplayName());
    var e = assertFails(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", () -> f.newTeam(owner, "y".repeat(49)));
    assertEquals("display_name", badField(e));
    // Characters, not bytes: 48 multi-byte characters fit.
    assertEquals("é".repeat(48), f.newTeam(owner, "é".repeat(48)).getDisplayName());
  }

  @Test
  void createTeamBlankNameRejected() {
    TestUser owner = f.newUser("blank");
    var e = assertFails(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", () -> f.newTeam(owner, "   "));
    assertEquals("display_name", badField(e));
  }

  @Test
  void createTeamReplayReturnsTheSameTeamAndDifferentPayloadIsRejected() {
    TestUser owner = f.newUser("replay");
    CreateTeamRequest req = CreateTeamRequest.newBuilder().setDisplayName("Once").setRequestId("req-team-1").build();
    Team first = f.as(owner).createTeam(req).getTeam();
    Team again = f.as(owner).createTeam(req).getTeam();
    assertEquals(first, again);
    assertEquals(1, f.as(owner).listTeams(ListTeamsRequest.getDefaultInstance()).getTeamsCount());
    assertFails(Status.Code.ALREADY_EXISTS, "IDEMPOTENCY_KEY_REUSED", () -> f.as(owner).createTeam(
        CreateTeamRequest.newBuilder().setDisplayName("Twice").setRequestId("req-team-1").build()));
  }

  @Test
  void listTeamsPaginatesNewestFirst() {
    TestUser owner = f.newUser("pager");
    List<String> created = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      created.add(0, f.newTeam(owner, "T" + i).getName());
    }
    List<String> seen = new ArrayList<>();
    String token = "";
    do {
      ListTeamsResponse page = f.as(owner).listTeams(ListTeamsRequest.newBuilder().setPageSize(2)
          .setPageToken(token).build());
      assertTrue(page.getTeamsCount() <= 2);
      page.getTeamsList().forEach(t -> seen.add(t.getName()));
      token = page.getNextPageToken();
    } while (!token.isEmpty());
    assertEquals(created, seen);
  }

  @Test
  void listTeamsWithForeignPageTokenIsInvalidArgument() {
    TestUser a = f.newUser("tok");
    var e = assertFails(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", () -> f.as(a).listTeams(
        ListTeamsRequest.newBuilder().setPageToken("garbage!").build()));
    assertEquals("page_token", badField(e));
  }

  @Test
  void nonMemberGetsNotFoundForEverythingOfAnotherTeam() {
    TestUser ownerA = f.newUser("ownerA");
    TestUser ownerB = f.newUser("ownerB");
    Team b = f.newTeam(ownerB, "B");
    var a = f.as(ownerA);
    String m = b.getName() + "/members/" + ownerB.id();
    assertFails(Status.Code.NOT_FOUND, "NOT_FOUND", () -> a.getTeam(GetTeamRequest.newBuilder().setName(b.getName()).build()));
    assertFails(Status.Code.NOT_FOUND, "NOT_FOUND", () -> a.listMembers(ListMembersRequest.newBuilder().setParent(b.getName()).build()));
    assertFails(Status.Code.NOT_FOUND, "NOT_FOUND", () -> a.updateTeam(UpdateTeamRequest.newBuilder()
        .setTeam(Team.newBuilder().setName(b.getName()).setDisplayName("pwned"))
        .setUpdateMask(FieldMask.newBuilder().addPaths("display_name")).build()));
    assertFails(Status.Code.NOT_FOUND, "NOT_FOUND", () -> a.deleteTeam(DeleteTeamRequest.newBuilder().setName(b.getName()).build()));
    assertFails(Status.Code.NOT_FOUND, "NOT_FOUND", () -> a.removeMember(RemoveMemberRequest.newBuilder().setName(m).build()));
    assertFails(Status.Code.NOT_FOUND, "NOT_FOUND", () -> a.createInvitation(CreateInvitationRequest.newBuilder()
        .setParent(b.getName()).setEmail("x@example.com").build()));
    assertFails(Status.Code.NOT_FOUND, "NOT_FOUND", () -> a.createApiKey(CreateApiKeyRequest.newBuilder()
        .setKind(ApiKeyKind.API_KEY_KIND_TEAM).setTeam(b.getName()).setDisplayName("k").build()));
    assertFails(Status.Code.NOT_FOUND, "NOT_FOUND", () -> a.listAuditEvents(ListAuditEventsRequest.newBuilder()
        .setParent(b.getName()).build()));
    assertFails(Status.Code.NOT_FOUND, "NOT_FOUND", () -> a.listRoles(ListRolesRequest.newBuilder().setParent(b.getName()).build()));
    String keyB = f.teamKey(ownerB, b, "b-key").getApiKey().getName();
    assertFails(Status.Code.NOT_FOUND, "NOT_FOUND", () -> a.getApiKey(GetApiKeyRequest.newBuilder().setName(keyB).build()));
    assertFails(Status.Code.NOT_FOUND, "NOT_FOUND", () -> a.revokeApiKey(RevokeApiKeyRequest.newBuilder().setName(keyB).build()));
  }

  @Test
  void updateTeamRenamesForAdminAndNotForMember() {
    TestUser owner = f.newUser("o");
    TestUser admin = f.newUser("ad");
    TestUser member = f.newUser("me");
    Team team = f.newTeam(owner, "Before");
    f.join(owner, team, admin, "roles/admin");
    f.join(owner, team, member, "roles/member");
    UpdateTeamRequest rename = UpdateTeamRequest.newBuilder()
        .setTeam(Team.newBuilder().setName(team.getName()).setDisplayName("After"))
        .setUpdateMask(FieldMask.newBuilder().addPaths("display_name")).build();
    assertFails(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN", () -> f.as(member).updateTeam(rename));
    assertEquals("After", f.as(admin).updateTeam(rename).getTeam().getDisplayName());
    assertFails(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", () -> f.as(owner).updateTeam(rename.toBuilder()
        .setUpdateMask(FieldMask.newBuilder().addPaths("owner")).build()));
  }

  @Test
  void deleteTeamOnlyByOwnerRemovesMembersAndRevokesTeamKeys() {
    TestUser owner = f.newUser("del-o");
    TestUser admin = f.newUser("del-a");
    Team team = f.newTeam(owner, "Doomed");
    f.join(owner, team, admin, "roles/admin");
    String adminKeySecret = f.teamKey(admin, team, "admin-key").getSecret();
    String serviceKey = f.as(owner).createApiKey(CreateApiKeyRequest.newBuilder()
        .setKind(ApiKeyKind.API_KEY_KIND_SERVICE).setTeam(team.getName()).setDisplayName("svc").build()).getSecret();
    assertFails(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN",
        () -> f.as(admin).deleteTeam(DeleteTeamRequest.newBuilder().setName(team.getName()).build()));
    f.as(owner).deleteTeam(DeleteTeamRequest.newBuilder().setName(team.getName()).build());
    assertFails(Status.Code.NOT_FOUND, "NOT_FOUND",
        () -> f.as(owner).getTeam(GetTeamRequest.newBuilder().setName(team.getName()).build()));
    assertEquals(0, f.as(admin).listTeams(ListTeamsRequest.getDefaultInstance()).getTeamsCount());
    assertFails(Status.Code.PERMISSION_DENIED, "KEY_REVOKED", () -> f.verify(adminKeySecret));
    assertFails(Status.Code.PERMISSION_DENIED, "KEY_REVOKED", () -> f.verify(serviceKey));
  }

  @Test
  void transferOwnershipMakesMemberOwnerAndOldOwnerAdmin() {
    TestUser owner = f.newUser("to-o");
    TestUser member = f.newUser("to-m");
    TestUser stranger = f.newUser("to-s");
    Team team = f.newTeam(owner, "Handover");
    f.join(owner, team, member, "roles/member");
    assertFails(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN", () -> f.as(member).transferOwnership(
        TransferOwnershipRequest.newBuilder().setTeam(team.getName()).setNewOwner(member.name()).build()));
    assertFails(Status.Code.NOT_FOUND, "NOT_FOUND", () -> f.as(owner).transferOwnership(
        TransferOwnershipRequest.newBuilder().setTeam(team.getName()).setNewOwner(stranger.name()).build()));
    Team after = f.as(owner).transferOwnership(TransferOwnershipRequest.newBuilder().setTeam(team.getName())
        .setNewOwner(member.name()).build()).getTeam();
    assertEquals(member.name(), after.getOwner());
    assertEquals("roles/admin", f.as(owner).getTeam(GetTeamRequest.newBuilder().setName(team.getName()).build())
        .getMembership().getRole());
    // The old owner may now leave; the new one may not.
    f.as(owner).leaveTeam(LeaveTeamRequest.newBuilder().setTeam(team.getName()).build());
    assertFails(Status.Code.FAILED_PRECONDITION, "OWNER_CANNOT_LEAVE",
        () -> f.as(member).leaveTeam(LeaveTeamRequest.newBuilder().setTeam(team.getName()).build()));
    assertNotEquals(owner.name(), after.getOwner());
  }
}
