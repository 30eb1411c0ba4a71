package dev.tally.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;

/** {@code tally profiles}: the config file's profiles, the selected one marked; never a secret. */
@Command(name = "profiles", description = "List the connection profiles of the config file (--profile NAME selects one).")
final class ProfilesCmd implements Callable<Integer> {
  @ParentCommand Tally parent;

  @Override
  public Integer call() {
    Profiles profiles = Profiles.load(System.getenv());
    System.out.println("config: " + profiles.file() + (profiles.names().isEmpty() ? " (no profiles)" : ""));
    String selected = profiles.select(Tally.askedProfile(System.getenv(), parent.c.profile))
        .map(Profiles.Profile::name).orElse("");
    for (String name : profiles.names()) {
      Profiles.Profile p = profiles.select(name).orElseThrow();
      System.out.printf("%s %-16s gateway %-28s auth %-15s as %s%n", name.equals(selected) ? "*" : " ", name,
          p.raw("gateway").isEmpty() ? "(default)" : p.raw("gateway"), p.auth(),
          p.raw("as").isEmpty() ? "-" : p.raw("as"));
    }
    return 0;
  }
}
