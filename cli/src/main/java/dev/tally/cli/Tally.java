package dev.tally.cli;

import io.grpc.StatusRuntimeException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code tally}: Tally's gRPC API from the command line, through the gateway. */
@Command(name = "tally", mixinStandardHelpOptions = true, version = "tally 0.1.0",
    description = "Teams, API keys, wallets and usage, through the Tally gateway.")
public final class Tally {
  /**
   * The commands, in the order help lists them. Registered here rather than in the annotation so that a call
   * builds the model of its own command only: picocli reflects over every option of every registered command
   * (and copies the inherited connection options into each), which was two thirds of a call's start-up.
   */
  private static final Map<String, Supplier<Object>> COMMANDS = new LinkedHashMap<>();
  static {
    COMMANDS.put("users", UsersCmd::new);
    COMMANDS.put("teams", TeamsCmd::new);
    COMMANDS.put("members", MembersCmd::new);
    COMMANDS.put("invitations", InvitationsCmd::new);
    COMMANDS.put("roles", RolesCmd::new);
    COMMANDS.put("keys", KeysCmd::new);
    COMMANDS.put("wallet", WalletCmd::new);
    COMMANDS.put("usage", UsageCmd::new);
    COMMANDS.put("admit", AdmitCmd::new);
    COMMANDS.put("release", ReleaseCmd::new);
    COMMANDS.put("prices", PricesCmd::new);
    COMMANDS.put("webhooks", WebhooksCmd::new);
    COMMANDS.put("profiles", ProfilesCmd::new);
  }
  /** The connection options given before a command that take a value (which is never a command's name). */
  private static final Set<String> VALUED_OPTIONS = Set.of("--gateway", "--token", "--as", "--api-key", "--profile");

  /** Where and as whom to call; inherited by every subcommand. */
  @Mixin Connection c;

  public static void main(String[] args) {
    preferPortableTransport();
    System.exit(run(args));
  }

  /** A call or two need no native transport; not loading Netty's epoll library saves start-up time. */
  static void preferPortableTransport() {
    String noNative = "io.grpc.netty.shaded.io.netty.transport.noNative";
    if (System.getProperty(noNative) == null) {
      System.setProperty(noNative, "true");
    }
  }

  public static int run(String... args) {
    CommandLine cli = commandLine(args);
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
    Tally root = cli.getCommand();
    try {
      return cli.execute(args);
    } finally {
      if (root.c != null) {
        root.c.close();
      }
    }
  }

  /** The command line with the command the arguments name, or with all of them (help, a typo, none). */
  static CommandLine commandLine(String... args) {
    CommandLine cli = new CommandLine(new Tally());
    String named = commandNamed(args);
    COMMANDS.forEach((name, command) -> {
      if (named == null || named.equals(name)) {
        cli.addSubcommand(name, command.get());
      }
    });
    return cli;
  }

  /** The command the arguments name: the first word not an option or an option's value; null if none is known. */
  static String commandNamed(String... args) {
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (VALUED_OPTIONS.contains(a)) {
        i++;
      } else if (!a.startsWith("-")) {
        return COMMANDS.containsKey(a) ? a : null;
      } else if (a.equals("--")) {
        return null;
      }
    }
    return null;
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
