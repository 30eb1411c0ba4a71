package dev.tally.cli;

import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;

/** Connection options not given on the command line: the environment first, then the selected profile. */
final class ProfileDefaults implements CommandLine.IDefaultValueProvider {
  static final Map<String, String> ENV = Map.of("--gateway", "TALLY_GATEWAY", "--token", "TALLY_PLATFORM_TOKEN",
      "--as", "TALLY_USER", "--api-key", "TALLY_API_KEY");

  private final Map<String, String> env;
  private final Profiles.Profile profile;

  ProfileDefaults(Map<String, String> env, Profiles.Profile profile) {
    this.env = env;
    this.profile = profile;
  }

  @Override
  public String defaultValue(ArgSpec arg) {
    if (!(arg instanceof OptionSpec option) || !ENV.containsKey(option.longestName())) {
      return null;
    }
    String fromEnv = env.get(ENV.get(option.longestName()));
    if (fromEnv != null && !fromEnv.isEmpty()) {
      return fromEnv;
    }
    return profile == null ? null : profile.option(option.longestName());
  }
}
