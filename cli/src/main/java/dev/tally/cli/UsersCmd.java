package dev.tally.cli;

import dev.tally.proto.identity.v1.GetUserRequest;
import dev.tally.proto.identity.v1.UpsertUserRequest;
import dev.tally.proto.identity.v1.User;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Option;

@Command(name = "users", description = "Users of the platform's login.", mixinStandardHelpOptions = true)
final class UsersCmd {
  @ParentCommand Tally root;

  @Command(name = "upsert", description = "Create or update a user (platform token).")
  void upsert(@Option(names = "--external-id", required = true) String externalId,
      @Option(names = "--email", required = true) String email,
      @Option(names = "--name", defaultValue = "") String name) {
    var r = root.c.identity().upsertUser(UpsertUserRequest.newBuilder().setExternalId(externalId).setEmail(email)
        .setDisplayName(name).build());
    root.c.print(r, () -> show(r.getUser()));
  }

  @Command(name = "me", description = "The signed-in user.")
  void me() {
    var r = root.c.identity().getUser(GetUserRequest.newBuilder().setName("users/me").build());
    root.c.print(r, () -> show(r.getUser()));
  }

  private static void show(User u) {
    Out.fields("user", u.getName(), "email", u.getEmail(), "name", u.getDisplayName());
  }
}
