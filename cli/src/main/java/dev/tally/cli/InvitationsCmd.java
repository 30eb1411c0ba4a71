package dev.tally.cli;

import dev.tally.proto.identity.v1.*;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "invitations", description = "Email invitations.", mixinStandardHelpOptions = true)
final class InvitationsCmd {
  @ParentCommand Tally root;

  @Command(name = "create", description = "Invite an email address; prints the accept token once.")
  void create(@Parameters(paramLabel = "TEAM") String team, @Parameters(paramLabel = "EMAIL") String email,
      @Option(names = "--role", defaultValue = "roles/member") String role) {
    var r = root.c.identity().createInvitation(CreateInvitationRequest.newBuilder().setParent(team).setEmail(email)
        .setRole(role).build());
    root.c.print(r, () -> Out.fields("invitation", r.getInvitation().getName(), "email", r.getInvitation().getEmail(),
        "role", r.getInvitation().getRole(), "expires", Out.time(r.getInvitation().getExpireTime()),
        "token", r.getToken(), "accept url", r.getAcceptUrl()));
  }

  @Command(name = "list", description = "A team's invitations.")
  void list(@Parameters(paramLabel = "TEAM") String team,
      @Option(names = "--state", description = "pending, accepted, declined, revoked or expired") String state) {
    var req = ListInvitationsRequest.newBuilder().setParent(team).setPageSize(1000);
    if (state != null) {
      req.addStates(InvitationState.valueOf("INVITATION_STATE_" + state.toUpperCase(Locale.ROOT)));
    }
    var r = root.c.identity().listInvitations(req.build());
    root.c.print(r, () -> {
      Out.Table t = new Out.Table("INVITATION", "EMAIL", "ROLE", "STATE", "EXPIRES");
      r.getInvitationsList().forEach(i -> t.row(i.getName(), i.getEmail(), i.getRole(),
          i.getState().name().substring("INVITATION_STATE_".length()).toLowerCase(Locale.ROOT), Out.time(i.getExpireTime())));
      t.print();
    });
  }

  @Command(name = "accept", description = "Accept an invitation sent to your email.")
  void accept(@Parameters(paramLabel = "TOKEN") String token) {
    var r = root.c.identity().acceptInvitation(AcceptInvitationRequest.newBuilder().setToken(token).build());
    root.c.print(r, () -> System.out.println("joined " + r.getTeam().getName() + " (" + r.getTeam().getDisplayName()
        + ") as " + r.getMember().getRole()));
  }

  @Command(name = "decline", description = "Decline an invitation.")
  void decline(@Parameters(paramLabel = "TOKEN") String token) {
    var r = root.c.identity().declineInvitation(DeclineInvitationRequest.newBuilder().setToken(token).build());
    root.c.print(r, () -> System.out.println("declined " + r.getInvitation().getName()));
  }

  @Command(name = "revoke", description = "Withdraw a pending invitation.")
  void revoke(@Parameters(paramLabel = "INVITATION") String name) {
    var r = root.c.identity().revokeInvitation(RevokeInvitationRequest.newBuilder().setName(name).build());
    root.c.print(r, () -> System.out.println("revoked " + name));
  }

  @Command(name = "resend", description = "Issue a new token for a pending invitation.")
  void resend(@Parameters(paramLabel = "INVITATION") String name) {
    var r = root.c.identity().resendInvitation(ResendInvitationRequest.newBuilder().setName(name).build());
    root.c.print(r, () -> Out.fields("invitation", r.getInvitation().getName(), "token", r.getToken(),
        "accept url", r.getAcceptUrl()));
  }
}
