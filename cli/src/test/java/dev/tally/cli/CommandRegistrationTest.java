package dev.tally.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** A call builds the model of the command it names only; help, typos and bare calls see every command. */
class CommandRegistrationTest {
  @Test
  void theNamedCommandIsFoundPastConnectionOptionsAndTheirValues() {
    assertEquals("keys", Tally.commandNamed("keys", "list"));
    assertEquals("keys", Tally.commandNamed("--gateway", "users", "keys", "list"));
    assertEquals("wallet", Tally.commandNamed("--as=users/1", "--json", "wallet", "balance"));
    assertEquals("admit", Tally.commandNamed("--profile", "prod", "--token", "t", "admit"));
    assertNull(Tally.commandNamed("--help"));
    assertNull(Tally.commandNamed("kyes", "list"));
    assertNull(Tally.commandNamed());
  }

  @Test
  void onlyTheNamedCommandIsRegisteredElseAll() {
    assertEquals(List.of("keys"), List.copyOf(Tally.commandLine("keys", "list").getSubcommands().keySet()));
    CommandLine all = Tally.commandLine("--help");
    assertEquals(List.of("users", "teams", "members", "invitations", "roles", "keys", "wallet", "usage", "admit",
        "release", "prices", "webhooks", "profiles"), List.copyOf(all.getSubcommands().keySet()));
  }

  @Test
  void aLazilyRegisteredCommandInheritsTheConnectionOptions() {
    CommandLine cli = Tally.commandLine("--gateway", "127.0.0.1:1", "keys", "list", "--json");
    CommandLine.ParseResult parsed = cli.parseArgs("--gateway", "127.0.0.1:1", "keys", "list", "--json");
    assertEquals("127.0.0.1:1", ((Tally) cli.getCommand()).c.gateway);
    assertEquals(true, parsed.subcommand().subcommand().hasMatchedOption("--json"));
  }

  @Test
  void theCacheTrainingRunsItsCallsAgainstItsStandInGateway() throws Exception {
    AotTraining.main(new String[0]);
  }
}
