package dev.tally.cli;

import com.google.protobuf.FieldMask;
import dev.tally.proto.identity.v1.*;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "teams", description = "Teams: create, list, rename, delete, export the audit log.", mixinStandardHelpOptions = true)
final class TeamsCmd {
  @ParentCommand Tally root;

  @Command(name = "create", description = "Create a team you own.")
  void create(@Parameters(paramLabel = "NAME") String name) {
    var r = root.c.identity().createTeam(CreateTeamRequest.newBuilder().setDisplayName(name).build());
    root.c.print(r, () -> show(r.getTeam()));
  }

  @Command(name = "list", description = "Your teams.")
  void list() {
    var r = root.c.identity().listTeams(ListTeamsRequest.newBuilder().setPageSize(1000).build());
    root.c.print(r, () -> {
      Out.Table t = new Out.Table("TEAM", "NAME", "ROLE", "MEMBERS");
      for (int i = 0; i < r.getTeamsCount(); i++) {
        Team team = r.getTeams(i);
        t.row(team.getName(), team.getDisplayName(), r.getMemberships(i).getRole(), team.getMemberCount());
      }
      t.print();
    });
  }

  @Command(name = "get", description = "One team.")
  void get(@Parameters(paramLabel = "TEAM") String team) {
    var r = root.c.identity().getTeam(GetTeamRequest.newBuilder().setName(team).build());
    root.c.print(r, () -> show(r.getTeam()));
  }

  @Command(name = "rename", description = "Rename a team.")
  void rename(@Parameters(paramLabel = "TEAM") String team, @Parameters(paramLabel = "NAME") String name) {
    var r = root.c.identity().updateTeam(UpdateTeamRequest.newBuilder()
        .setTeam(Team.newBuilder().setName(team).setDisplayName(name))
        .setUpdateMask(FieldMask.newBuilder().addPaths("display_name")).build());
    root.c.print(r, () -> show(r.getTeam()));
  }

  @Command(name = "audit-export", description = "The team's audit log as CSV into a file, oldest first, streamed.")
  void auditExport(@Parameters(paramLabel = "TEAM") String team,
      @Option(names = "--out", required = true, description = "file to write (- for standard output)") String out,
      @Option(names = "--action", split = ",", description = "only these actions") java.util.List<String> actions) {
    var chunks = root.c.identityStreaming().exportAuditEvents(ExportAuditEventsRequest.newBuilder().setParent(team)
        .addAllActions(actions == null ? java.util.List.of() : actions).build());
    long bytes = CsvFile.write(chunks, ExportAuditEventsResponse::getCsv, out);
    if (!"-".equals(out)) {
      System.err.println("wrote " + out + " (" + bytes + " bytes)");
    }
  }

  @Command(name = "delete", description = "Delete a team (Owner): the remaining balance goes to the Owner.")
  void delete(@Parameters(paramLabel = "TEAM") String team) {
    var r = root.c.identity().deleteTeam(DeleteTeamRequest.newBuilder().setName(team).build());
    root.c.print(r, () -> System.out.println("deleted " + team));
  }

  static void show(Team t) {
    Out.fields("team", t.getName(), "name", t.getDisplayName(), "owner", t.getOwner(), "wallet", t.getWallet(),
        "members", t.getMemberCount());
  }
}
