package dev.tally.cli;

import dev.tally.proto.identity.v1.*;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Parameters;

@Command(name = "members", description = "Members and roles of a team.", mixinStandardHelpOptions = true)
final class MembersCmd {
  @ParentCommand Tally root;

  @Command(name = "list", description = "The members of a team.")
  void list(@Parameters(paramLabel = "TEAM") String team) {
    var r = root.c.identity().listMembers(ListMembersRequest.newBuilder().setParent(team).setPageSize(1000).build());
    root.c.print(r, () -> {
      Out.Table t = new Out.Table("MEMBER", "EMAIL", "ROLE", "JOINED");
      r.getMembersList().forEach(m -> t.row(m.getName(), m.getEmail(), m.getRole(), Out.time(m.getJoinTime())));
      t.print();
    });
  }

  @Command(name = "role", description = "Change a member's role (roles/admin, roles/member or a custom role).")
  void role(@Parameters(paramLabel = "MEMBER") String member, @Parameters(paramLabel = "ROLE") String role) {
    var r = root.c.identity().updateMemberRole(UpdateMemberRoleRequest.newBuilder().setName(member).setRole(role).build());
    root.c.print(r, () -> System.out.println(r.getMember().getName() + " is now " + r.getMember().getRole()));
  }

  @Command(name = "remove", description = "Remove a member; their team keys are revoked.")
  void remove(@Parameters(paramLabel = "MEMBER") String member) {
    var r = root.c.identity().removeMember(RemoveMemberRequest.newBuilder().setName(member).build());
    root.c.print(r, () -> System.out.println("removed " + member));
  }

  @Command(name = "leave", description = "Leave a team.")
  void leave(@Parameters(paramLabel = "TEAM") String team) {
    var r = root.c.identity().leaveTeam(LeaveTeamRequest.newBuilder().setTeam(team).build());
    root.c.print(r, () -> System.out.println("left " + team));
  }

  @Command(name = "transfer", description = "Hand the team to another member (Owner).")
  void transfer(@Parameters(paramLabel = "TEAM") String team, @Parameters(paramLabel = "USER") String user) {
    var r = root.c.identity().transferOwnership(TransferOwnershipRequest.newBuilder().setTeam(team).setNewOwner(user).build());
    root.c.print(r, () -> TeamsCmd.show(r.getTeam()));
  }
}
