package dev.tally.identity;

import static dev.tally.common.testing.GrpcAssertions.assertFails;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tally.identity.IdentityFixture.TestUser;
import dev.tally.identity.config.IdentityPolicy;
import dev.tally.proto.identity.v1.*;
import io.grpc.Status;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The Tensorix-style deployment: one owned team per user, personal keys archived while in a team. */
class MembershipPolicyTest {
  private static IdentityFixture tensorix;

  @BeforeAll
  static void start() throws Exception {
    tensorix = new IdentityFixture(MembershipPolicyTest.class,
        IdentityPolicy.defaults().withMaxOwnedTeams(1).withArchivePersonalKeysOnJoin(true));
  }

  @AfterAll
  static void stop() {
    tensorix.close();
  }

  @Test
  void createTeamBeyondTheOwnedTeamCapIsTeamLimitReached() {
    TestUser u = tensorix.newUser("cap");
    Team first = tensorix.newTeam(u, "Only one");
    assertFails(Status.Code.FAILED_PRECONDITION, "TEAM_LIMIT_REACHED", () -> tensorix.newTeam(u, "Second"));
    // Deleting the team frees the slot.
    tensorix.as(u).deleteTeam(DeleteTeamRequest.newBuilder().setName(first.getName()).build());
    tensorix.newTeam(u, "Second");
  }

  @Test
  void joiningArchivesPersonalKeysAndLeavingRestoresThem() {
    TestUser owner = tensorix.newUser("arch-owner");
    TestUser joiner = tensorix.newUser("arch-joiner");
    String personal = tensorix.personalKey(joiner, "personal").getSecret();
    tensorix.verify(personal);
    Team team = tensorix.newTeam(owner, "Archive");
    tensorix.join(owner, team, joiner, "roles/member");
    assertFails(Status.Code.PERMISSION_DENIED, "KEY_ARCHIVED", () -> tensorix.verify(personal));
    assertFails(Status.Code.FAILED_PRECONDITION, "PERSONAL_KEYS_ARCHIVED", () -> tensorix.personalKey(joiner, "new"));
    tensorix.as(joiner).leaveTeam(LeaveTeamRequest.newBuilder().setTeam(team.getName()).build());
    assertEquals(joiner.name(), tensorix.verify(personal).getPrincipal().getUser());
  }

  @Test
  void creatingATeamArchivesTheOwnersPersonalKeysAndDeletionRestoresThem() {
    TestUser owner = tensorix.newUser("arch-creator");
    String personal = tensorix.personalKey(owner, "mine").getSecret();
    Team team = tensorix.newTeam(owner, "Mine");
    assertFails(Status.Code.PERMISSION_DENIED, "KEY_ARCHIVED", () -> tensorix.verify(personal));
    tensorix.as(owner).deleteTeam(DeleteTeamRequest.newBuilder().setName(team.getName()).build());
    tensorix.verify(personal);
  }

  @Test
  void revokedPersonalKeysStayRevokedAfterLeaving() {
    TestUser owner = tensorix.newUser("rv-owner");
    TestUser joiner = tensorix.newUser("rv-joiner");
    CreateApiKeyResponse k = tensorix.personalKey(joiner, "dead");
    tensorix.as(joiner).revokeApiKey(RevokeApiKeyRequest.newBuilder().setName(k.getApiKey().getName()).build());
    Team team = tensorix.newTeam(owner, "Rv");
    tensorix.join(owner, team, joiner, "roles/member");
    tensorix.as(joiner).leaveTeam(LeaveTeamRequest.newBuilder().setTeam(team.getName()).build());
    assertFails(Status.Code.PERMISSION_DENIED, "KEY_REVOKED", () -> tensorix.verify(k.getSecret()));
  }
}
