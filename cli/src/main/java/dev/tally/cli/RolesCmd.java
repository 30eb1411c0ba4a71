package dev.tally.cli;

import dev.tally.proto.identity.v1.*;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "roles", description = "Built-in and custom roles.", mixinStandardHelpOptions = true)
final class RolesCmd {
  @ParentCommand Tally root;

  @Command(name = "list", description = "The roles of a team.")
  void list(@Parameters(paramLabel = "TEAM") String team) {
    var r = root.c.identity().listRoles(ListRolesRequest.newBuilder().setParent(team).build());
    root.c.print(r, () -> {
      Out.Table t = new Out.Table("ROLE", "NAME", "PERMISSIONS");
      r.getRolesList().forEach(role -> t.row(role.getName(), role.getDisplayName(), role.getPermissionsList().stream()
          .map(p -> p.name().substring("PERMISSION_".length()).toLowerCase(Locale.ROOT)).collect(Collectors.joining(","))));
      t.print();
    });
  }

  @Command(name = "create", description = "Create a custom role, e.g. --permission billing_view --permission keys_use.")
  void create(@Parameters(paramLabel = "TEAM") String team, @Parameters(paramLabel = "ID") String id,
      @Option(names = "--name", required = true) String name,
      @Option(names = "--permission", required = true) List<String> permissions) {
    var req = CreateRoleRequest.newBuilder().setParent(team).setRoleId(id).setDisplayName(name);
    permissions.forEach(p -> req.addPermissions(Permission.valueOf("PERMISSION_" + p.toUpperCase(Locale.ROOT))));
    var r = root.c.identity().createRole(req.build());
    root.c.print(r, () -> System.out.println("created " + r.getRole().getName()));
  }
}
