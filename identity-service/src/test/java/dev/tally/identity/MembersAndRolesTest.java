package dev.tally.identity;

import static dev.tally.common.testing.GrpcAssertions.assertFails;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.identity.IdentityFixture.TestUser;
import dev.tally.identity.config.IdentityPolicy;
import dev.tally.proto.identity.v1.*;
import io.grpc.Status;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class MembersAndRolesTest {
  private static IdentityFixture f;

  @BeforeAll
  static void start() throws Exception {
    f = new IdentityFixture(MembersAndRolesTest.class, IdentityPolicy.defaults());
  }

  @AfterAll
  static void stop() {
    f.close();
  }

  /** A team with an Owner, an Admin and two Members. */
  private record Crew(Team team, TestUser owner, TestUser admin, TestUser member, TestUser member2) {
    String m(TestUser u) {
      return team.getName() + "/members/" + u.id();
    }
  }

  private Crew crew() {
    TestUser owner = f.newUser("owner");
    TestUser admin = f.newUser("admin");
    TestUser member = f.newUser("member");
    TestUser member2 = f.newUser("member2");
    Team team = f.newTeam(owner, "Crew");
    f.join(owner, team, admin, "roles/admin");
    f.join(owner, team, member, "roles/member");
    f.join(admin, team, member2, "roles/member");
    return new Crew(team, owner, admin, member, member2);
  }

  private UpdateMemberRoleRequest role(String member, String role) {
    return UpdateMemberRoleRequest.newBuilder().setName(member).setRole(role).build();
  }

  @Test
  void permissionMatrixOfBuiltinRoles() {
    Crew c = crew();
    record Row(Permission p, boolean owner, boolean admin, boolean member) {}
    List<Row> table = List.of(
        new Row(Permission.PERMISSION_TEAM_DELETE, true, false, false),
        new Row(Permission.PERMISSION_TEAM_TRANSFER_OWNERSHIP, true, false, false),
        new Row(Permission.PERMISSION_BILLING_MANAGE, true, false, false),
        new Row(Permission.PERMISSION_BILLING_VIEW, true, true, false),
        new Row(Permission.PERMISSION_USAGE_VIEW_TEAM, true, true, false),
        new Row(Permission.PERMISSION_MEMBERS_INVITE, true, true, false),
        new Row(Permission.PERMISSION_MEMBERS_REMOVE, true, true, false),
        new Row(Permission.PERMISSION_MEMBERS_UPDATE_ROLE, true, true, false),
        new Row(Permission.PERMISSION_KEYS_MANAGE_ALL, true, true, false),
        new Row(Permission.PERMISSION_KEYS_MANAGE_OWN, true, true, true),
        new Row(Permission.PERMISSION_KEYS_USE, true, true, true),
        new Row(Permission.PERMISSION_USAGE_VIEW_OWN, true, true, true));
    for (Row row : table) {
      for (var who : List.of(List.of(c.owner(), row.owner()), List.of(c.admin(), row.admin()),
          List.of(c.member(), row.member()))) {
        TestUser u = (TestUser) who.get(0);
        CheckPermissionResponse r = f.platform().checkPermission(CheckPermissionRequest.newBuilder()
            .setPrincipal(u.name()).setTeam(c.team().getName()).setPermission(row.p()).build());
        assertEquals(who.get(1), r.getAllowed(), row.p() + " for " + r.getRole());
      }
    }
    CheckPermissionResponse outsider = f.platform().checkPermission(CheckPermissionRequest.newBuilder()
        .setPrincipal(f.newUser("out").name()).setTeam(c.team().getName())
        .setPermission(Permission.PERMISSION_KEYS_USE).build());
    assertFalse(outsider.getAllowed());
    assertEquals("", outsider.getRole());
  }

  @Test
  void membersCannotInviteRemoveOrChangeRoles() {
    Crew c = crew();
    var m = f.as(c.member());
    assertFails(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN", () -> m.createInvitation(
        CreateInvitationRequest.newBuilder().setParent(c.team().getName()).setEmail("n@example.com").build()));
    assertFails(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN",
        () -> m.removeMember(RemoveMemberRequest.newBuilder().setName(c.m(c.member2())).build()));
    assertFails(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN", () -> m.updateMemberRole(role(c.m(c.member2()), "roles/member")));
    assertFails(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN",
        () -> m.listInvitations(ListInvitationsRequest.newBuilder().setParent(c.team().getName()).build()));
    assertFails(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN",
        () -> m.listAuditEvents(ListAuditEventsRequest.newBuilder().setParent(c.team().getName()).build()));
    // Members still see the team and its members.
    assertEquals(4, m.listMembers(ListMembersRequest.newBuilder().setParent(c.team().getName()).build()).getMembersCount());
  }

  @Test
  void onlyTheOwnerGrantsOrRemovesAdmin() {
    Crew c = crew();
    assertFails(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN",
        () -> f.as(c.admin()).updateMemberRole(role(c.m(c.member()), "roles/admin")));
    assertEquals("roles/admin", f.as(c.owner()).updateMemberRole(role(c.m(c.member()), "roles/admin")).getMember().getRole());
    assertFails(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN",
        () -> f.as(c.admin()).updateMemberRole(role(c.m(c.member()), "roles/member")));
    assertFails(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN",
        () -> f.as(c.admin()).removeMember(RemoveMemberRequest.newBuilder().setName(c.m(c.member())).build()));
    assertFails(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN", () -> f.as(c.admin()).createInvitation(
        CreateInvitationRequest.newBuilder().setParent(c.team().getName()).setEmail("adm@example.com")
            .setRole("roles/admin").build()));
    assertEquals("roles/member", f.as(c.owner()).updateMemberRole(role(c.m(c.member()), "roles/member")).getMember().getRole());
  }

  @Test
  void nobodyChangesTheOwnersRoleOrTheirOwn() {
    Crew c = crew();
    assertFails(Status.Code.FAILED_PRECONDITION, "OWNER_ROLE_FIXED",
        () -> f.as(c.admin()).updateMemberRole(role(c.m(c.owner()), "roles/member")));
    assertFails(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT",
        () -> f.as(c.owner()).updateMemberRole(role(c.m(c.admin()), "roles/owner")));
    assertFails(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN",
        () -> f.as(c.admin()).updateMemberRole(role(c.m(c.admin()), "roles/member")));
    assertFails(Status.Code.FAILED_PRECONDITION, "OWNER_CANNOT_BE_REMOVED",
        () -> f.as(c.admin()).removeMember(RemoveMemberRequest.newBuilder().setName(c.m(c.owner())).build()));
  }

  @Test
  void removeMemberRevokesTheirTeamKeysButKeepsOthers() {
    Crew c = crew();
    String memberKey = f.teamKey(c.member(), c.team(), "m").getSecret();
    String otherKey = f.teamKey(c.member2(), c.team(), "m2").getSecret();
    f.as(c.admin()).removeMember(RemoveMemberRequest.newBuilder().setName(c.m(c.member())).build());
    assertFails(Status.Code.PERMISSION_DENIED, "KEY_REVOKED", () -> f.verify(memberKey));
    assertEquals(c.member2().name(), f.verify(otherKey).getPrincipal().getUser());
    assertFails(Status.Code.NOT_FOUND, "NOT_FOUND",
        () -> f.as(c.member()).getTeam(GetTeamRequest.newBuilder().setName(c.team().getName()).build()));
    assertFails(Status.Code.NOT_FOUND, "NOT_FOUND",
        () -> f.as(c.admin()).removeMember(RemoveMemberRequest.newBuilder().setName(c.m(c.member())).build()));
  }

  @Test
  void leaveTeamDeletesTheLeaversTeamKeysAndOwnerCannotLeave() {
    Crew c = crew();
    String key = f.teamKey(c.member(), c.team(), "leaving").getSecret();
    f.as(c.member()).leaveTeam(LeaveTeamRequest.newBuilder().setTeam(c.team().getName()).build());
    assertFails(Status.Code.PERMISSION_DENIED, "KEY_REVOKED", () -> f.verify(key));
    assertFails(Status.Code.FAILED_PRECONDITION, "OWNER_CANNOT_LEAVE",
        () -> f.as(c.owner()).leaveTeam(LeaveTeamRequest.newBuilder().setTeam(c.team().getName()).build()));
  }

  @Test
  void customRoleGrantsItsPermissionsAndCannotEscalate() {
    Crew c = crew();
    Role billingViewer = f.as(c.owner()).createRole(CreateRoleRequest.newBuilder().setParent(c.team().getName())
        .setRoleId("billing-viewer").setDisplayName("Billing viewer")
        .addPermissions(Permission.PERMISSION_BILLING_VIEW).addPermissions(Permission.PERMISSION_KEYS_USE).build())
        .getRole();
    assertEquals(c.team().getName() + "/roles/billing-viewer", billingViewer.getName());
    f.as(c.admin()).updateMemberRole(role(c.m(c.member()), billingViewer.getName()));
    assertTrue(f.platform().checkPermission(CheckPermissionRequest.newBuilder().setPrincipal(c.member().name())
        .setTeam(c.team().getName()).setPermission(Permission.PERMISSION_BILLING_VIEW).build()).getAllowed());
    assertFalse(f.platform().checkPermission(CheckPermissionRequest.newBuilder().setPrincipal(c.member().name())
        .setTeam(c.team().getName()).setPermission(Permission.PERMISSION_KEYS_MANAGE_OWN).build()).getAllowed());
    // An Admin cannot mint a role with the Owner's billing power.
    assertFails(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN", () -> f.as(c.admin()).createRole(
        CreateRoleRequest.newBuilder().setParent(c.team().getName()).setRoleId("payer").setDisplayName("Payer")
            .addPermissions(Permission.PERMISSION_BILLING_MANAGE).build()));
    assertFails(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", () -> f.as(c.owner()).createRole(
        CreateRoleRequest.newBuilder().setParent(c.team().getName()).setRoleId("deleter").setDisplayName("D")
            .addPermissions(Permission.PERMISSION_TEAM_DELETE).build()));
    assertFails(Status.Code.ALREADY_EXISTS, "ROLE_EXISTS", () -> f.as(c.owner()).createRole(
        CreateRoleRequest.newBuilder().setParent(c.team().getName()).setRoleId("billing-viewer").setDisplayName("x")
            .addPermissions(Permission.PERMISSION_KEYS_USE).build()));
    List<String> roles = f.as(c.member()).listRoles(ListRolesRequest.newBuilder().setParent(c.team().getName()).build())
        .getRolesList().stream().map(Role::getName).toList();
    assertEquals(List.of("roles/owner", "roles/admin", "roles/member", "roles/billing", billingViewer.getName()),
        roles);
    assertFails(Status.Code.FAILED_PRECONDITION, "ROLE_IN_USE", () -> f.as(c.owner()).deleteRole(
        DeleteRoleRequest.newBuilder().setName(billingViewer.getName()).build()));
    f.as(c.owner()).updateMemberRole(role(c.m(c.member()), "roles/member"));
    f.as(c.owner()).deleteRole(DeleteRoleRequest.newBuilder().setName(billingViewer.getName()).build());
    assertEquals(4, f.as(c.member()).listRoles(ListRolesRequest.newBuilder().setParent(c.team().getName()).build())
        .getRolesCount());
  }

  @Test
  void auditLogRecordsAdministrativeChangesForOwnerAndAdmin() {
    Crew c = crew();
    f.as(c.admin()).removeMember(RemoveMemberRequest.newBuilder().setName(c.m(c.member2())).build());
    ListAuditEventsResponse log = f.as(c.owner()).listAuditEvents(ListAuditEventsRequest.newBuilder()
        .setParent(c.team().getName()).build());
    List<String> actions = log.getAuditEventsList().stream().map(AuditEvent::getAction).toList();
    assertEquals("member.remove", actions.get(0));
    assertTrue(actions.containsAll(List.of("team.create", "invitation.create", "invitation.accept")), actions.toString());
    AuditEvent removal = log.getAuditEvents(0);
    assertEquals(c.admin().name(), removal.getActor().getUser());
    assertEquals(c.m(c.member2()), removal.getTarget());
    assertEquals("roles/member", removal.getDetailsMap().get("role"));
    ListAuditEventsResponse filtered = f.as(c.admin()).listAuditEvents(ListAuditEventsRequest.newBuilder()
        .setParent(c.team().getName()).addActions("invitation.accept").setPageSize(2).build());
    assertEquals(2, filtered.getAuditEventsCount());
    assertFalse(filtered.getNextPageToken().isEmpty());
  }
}
