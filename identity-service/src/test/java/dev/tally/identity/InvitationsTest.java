package dev.tally.identity;

import static dev.tally.common.testing.GrpcAssertions.assertFails;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.identity.IdentityFixture.TestUser;
import dev.tally.identity.config.IdentityPolicy;
import dev.tally.proto.identity.v1.*;
import io.grpc.Status;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class InvitationsTest {
  private static IdentityFixture f;

  @BeforeAll
  static void start() throws Exception {
    f = new IdentityFixture(InvitationsTest.class, IdentityPolicy.defaults());
  }

  @AfterAll
  static void stop() {
    f.close();
  }

  private CreateInvitationResponse invite(TestUser by, Team team, String email, String role) {
    return f.as(by).createInvitation(CreateInvitationRequest.newBuilder().setParent(team.getName()).setEmail(email)
        .setRole(role).build());
  }

  private AcceptInvitationRequest accept(String token) {
    return AcceptInvitationRequest.newBuilder().setToken(token).build();
  }

  @Test
  void acceptInvitationCreatesTheMembershipWithTheChosenRole() {
    TestUser owner = f.newUser("inv-owner");
    TestUser invitee = f.newUser("inv-invitee");
    Team team = f.newTeam(owner, "Inviting");
    CreateInvitationResponse inv = invite(owner, team, invitee.email().toUpperCase(), "roles/admin");
    assertTrue(inv.getToken().length() >= 40);
    assertTrue(inv.getAcceptUrl().endsWith("token=" + inv.getToken()));
    assertEquals(InvitationState.INVITATION_STATE_PENDING, inv.getInvitation().getState());
    assertFalse(inv.getInvitation().hasCloseTime(), "a pending invitation has no close time (not 1970-01-01)");
    assertEquals(invitee.email(), inv.getInvitation().getEmail());
    AcceptInvitationResponse accepted = f.as(invitee).acceptInvitation(accept(inv.getToken()));
    assertEquals("roles/admin", accepted.getMember().getRole());
    assertEquals(InvitationState.INVITATION_STATE_ACCEPTED, accepted.getInvitation().getState());
    assertTrue(accepted.getInvitation().hasCloseTime());
    assertEquals(2, accepted.getTeam().getMemberCount());
  }

  @Test
  void acceptedTokenCannotBeReused() {
    TestUser owner = f.newUser("reuse-owner");
    TestUser invitee = f.newUser("reuse-invitee");
    Team team = f.newTeam(owner, "Reuse");
    String token = invite(owner, team, invitee.email(), "").getToken();
    f.as(invitee).acceptInvitation(accept(token));
    assertFails(Status.Code.FAILED_PRECONDITION, "INVITATION_NOT_PENDING",
        () -> f.as(invitee).acceptInvitation(accept(token)));
    assertFails(Status.Code.NOT_FOUND, "INVITATION_INVALID",
        () -> f.as(invitee).acceptInvitation(accept("inv_" + "A".repeat(43))));
  }

  @Test
  void invitationForAnotherEmailIsDenied() {
    TestUser owner = f.newUser("mm-owner");
    TestUser invitee = f.newUser("mm-invitee");
    TestUser thief = f.newUser("mm-thief");
    Team team = f.newTeam(owner, "Mismatch");
    String token = invite(owner, team, invitee.email(), "").getToken();
    assertFails(Status.Code.PERMISSION_DENIED, "EMAIL_MISMATCH", () -> f.as(thief).acceptInvitation(accept(token)));
    f.as(invitee).acceptInvitation(accept(token));
  }

  @Test
  void expiredInvitationIsRejectedAndListedAsExpired() throws Exception {
    TestUser owner = f.newUser("exp-owner");
    TestUser invitee = f.newUser("exp-invitee");
    Team team = f.newTeam(owner, "Expiry");
    CreateInvitationResponse inv = invite(owner, team, invitee.email(), "");
    // Move the expiry into the past rather than waiting the minimum TTL.
    f.execute("update invitations set expire_time = now() - interval '1 second' where id = ?",
        inv.getInvitation().getName().substring(inv.getInvitation().getName().lastIndexOf('/') + 1));
    assertFails(Status.Code.FAILED_PRECONDITION, "INVITATION_EXPIRED",
        () -> f.as(invitee).acceptInvitation(accept(inv.getToken())));
    List<Invitation> expired = f.as(owner).listInvitations(ListInvitationsRequest.newBuilder()
        .setParent(team.getName()).addStates(InvitationState.INVITATION_STATE_EXPIRED).build()).getInvitationsList();
    assertEquals(List.of(inv.getInvitation().getName()), expired.stream().map(Invitation::getName).toList());
    // An expired invitation does not block a new one.
    invite(owner, team, invitee.email(), "");
  }

  @Test
  void resendIssuesANewTokenAndKillsTheOldOne() {
    TestUser owner = f.newUser("rs-owner");
    TestUser invitee = f.newUser("rs-invitee");
    Team team = f.newTeam(owner, "Resend");
    CreateInvitationResponse inv = invite(owner, team, invitee.email(), "");
    ResendInvitationResponse again = f.as(owner).resendInvitation(ResendInvitationRequest.newBuilder()
        .setName(inv.getInvitation().getName()).build());
    assertNotEquals(inv.getToken(), again.getToken());
    assertEquals(2, again.getInvitation().getSendCount());
    assertFails(Status.Code.NOT_FOUND, "INVITATION_INVALID",
        () -> f.as(invitee).acceptInvitation(accept(inv.getToken())));
    f.as(invitee).acceptInvitation(accept(again.getToken()));
  }

  @Test
  void revokedInvitationCannotBeAcceptedOrResent() {
    TestUser owner = f.newUser("rv-owner");
    TestUser invitee = f.newUser("rv-invitee");
    Team team = f.newTeam(owner, "Revoke");
    CreateInvitationResponse inv = invite(owner, team, invitee.email(), "");
    Invitation revoked = f.as(owner).revokeInvitation(RevokeInvitationRequest.newBuilder()
        .setName(inv.getInvitation().getName()).build()).getInvitation();
    assertEquals(InvitationState.INVITATION_STATE_REVOKED, revoked.getState());
    assertFails(Status.Code.FAILED_PRECONDITION, "INVITATION_NOT_PENDING",
        () -> f.as(invitee).acceptInvitation(accept(inv.getToken())));
    assertFails(Status.Code.FAILED_PRECONDITION, "INVITATION_NOT_PENDING", () -> f.as(owner).resendInvitation(
        ResendInvitationRequest.newBuilder().setName(inv.getInvitation().getName()).build()));
  }

  @Test
  void declineClosesTheInvitation() {
    TestUser owner = f.newUser("dc-owner");
    TestUser invitee = f.newUser("dc-invitee");
    Team team = f.newTeam(owner, "Decline");
    String token = invite(owner, team, invitee.email(), "").getToken();
    assertEquals(InvitationState.INVITATION_STATE_DECLINED, f.as(invitee).declineInvitation(
        DeclineInvitationRequest.newBuilder().setToken(token).build()).getInvitation().getState());
    assertFails(Status.Code.FAILED_PRECONDITION, "INVITATION_NOT_PENDING",
        () -> f.as(invitee).acceptInvitation(accept(token)));
    assertEquals(1, f.as(owner).listInvitations(ListInvitationsRequest.newBuilder().setParent(team.getName())
        .addStates(InvitationState.INVITATION_STATE_DECLINED).build()).getInvitationsCount());
  }

  @Test
  void invitingAMemberOrASecondPendingInvitationIsAlreadyExists() {
    TestUser owner = f.newUser("dup-owner");
    TestUser member = f.newUser("dup-member");
    Team team = f.newTeam(owner, "Dupes");
    f.join(owner, team, member, "roles/member");
    assertFails(Status.Code.ALREADY_EXISTS, "ALREADY_A_MEMBER", () -> invite(owner, team, member.email(), ""));
    invite(owner, team, "newcomer@example.com", "");
    assertFails(Status.Code.ALREADY_EXISTS, "INVITATION_PENDING",
        () -> invite(owner, team, "NEWCOMER@example.com", ""));
  }

  @Test
  void invitingAsOwnerOrWithAnUnknownRoleIsRejected() {
    TestUser owner = f.newUser("role-owner");
    Team team = f.newTeam(owner, "Roles");
    assertFails(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", () -> invite(owner, team, "o@example.com", "roles/owner"));
    assertFails(Status.Code.NOT_FOUND, "NOT_FOUND",
        () -> invite(owner, team, "o@example.com", team.getName() + "/roles/ghost"));
    assertFails(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", () -> invite(owner, team, "not-an-email", ""));
  }
}
