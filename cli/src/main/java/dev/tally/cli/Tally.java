package dev.tally.cli;

import io.grpc.StatusRuntimeException;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code tally}: Tally's gRPC API from the command line, through the gateway. */
@Command(name = "tally", mixinStandardHelpOptions = true, version = "tally 0.1.0",
    description = "Teams, API keys, wallets and usage, through the Tally gateway.",
    subcommands = {UsersCmd.class, TeamsCmd.class, MembersCmd.class, InvitationsCmd.class, RolesCmd.class,
        KeysCmd.class, WalletCmd.class, UsageCmd.class, AdmitCmd.class, ReleaseCmd.class, PricesCmd.class,
        WebhooksCmd.class, ProfilesCmd.class})
public final class Tally {
  /** Where and as whom to call; inherited by every subcommand. */
  @Mixin Connection c;

  public static void main(String[] args) {
    System.exit(run(args));
  }

  public static int run(String... args) {
    CommandLine cli = new CommandLine(new Tally());
    try {
      // Defaults are applied before the arguments are parsed, so --profile is looked for here first.
      Map<String, String> env = System.getenv();
      Profiles.Profile profile = Profiles.load(env).select(askedProfile(env, profileArgument(args))).orElse(null);
      cli.setDefaultValueProvider(new ProfileDefaults(env, profile));
    } catch (IllegalArgumentException e) {
      cli.getErr().println("error: INVALID_ARGUMENT " + e.getMessage());
      return Errors.INVALID;
    }
    cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
      if (e instanceof StatusRuntimeException sre) {
        Object root = cmd.getCommandSpec().root().userObject();
        String gateway = root instanceof Tally t && t.c != null ? t.c.gateway : "";
        return Errors.report(sre, cmd.getErr(), cmd.getOut(), jsonRequested(parsed), gateway);
      }
      if (e instanceof IllegalArgumentException iae) {
        cmd.getErr().println("error: INVALID_ARGUMENT " + iae.getMessage());
        return Errors.INVALID;
      }
      throw e;
    });
    return cli.execute(args);
  }

  /** The profile asked for: {@code --profile} wins over {@code $TALLY_PROFILE}; null when neither. */
  static String askedProfile(Map<String, String> env, String flag) {
    return flag != null && !flag.isBlank() ? flag : env.get("TALLY_PROFILE");
  }

  private static String profileArgument(String[] args) {
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--")) {
        return null;
      }
      if (args[i].equals("--profile") && i + 1 < args.length) {
        return args[i + 1];
      }
      if (args[i].startsWith("--profile=")) {
        return args[i].substring("--profile=".length());
      }
    }
    return null;
  }

  private static boolean jsonRequested(CommandLine.ParseResult parsed) {
    CommandLine.ParseResult p = parsed;
    while (p.hasSubcommand()) {
      p = p.subcommand();
    }
    return p.hasMatchedOption("--json");
  }
}
