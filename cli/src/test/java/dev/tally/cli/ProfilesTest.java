package dev.tally.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Named profiles in ~/.config/tally/config: a flag beats the environment, which beats the profile; secrets
 * come from files or from a config only its owner can read; `tally profiles` never shows one. (That a
 * profile's token really authenticates is in the quickstart process test.)
 */
class ProfilesTest {
  private Path home;
  private Path config;
  private int defaultPort;
  private int stagingPort;

  @BeforeEach
  void writeProfiles() throws Exception {
    home = Files.createTempDirectory("tally-home");
    config = home.resolve(".config/tally/config");
    Files.createDirectories(config.getParent());
    Files.writeString(home.resolve("token"), "a-platform-token-read-from-its-file\n");
    defaultPort = Processes.freePort();
    stagingPort = Processes.freePort();
    Files.writeString(config, """
        # two deployments
        [default]
        gateway = localhost:%d
        token-file = ~/token

        [staging]
        gateway = localhost:%d
        api-key = tly_inline_secret_of_staging
        as = users/someone
        """.formatted(defaultPort, stagingPort));
    Files.setPosixFilePermissions(config, PosixFilePermissions.fromString("rw-------"));
  }

  private Processes.Result tally(Map<String, String> extra, String... args) {
    Map<String, String> env = new HashMap<>(Map.of("HOME", home.toString()));
    env.putAll(extra);
    return Processes.tally(env, List.of(args));
  }

  private static void assertCalled(Processes.Result r, int port) {
    assertEquals(9, r.exit(), r.err());
    assertTrue(r.err().contains("no gateway answers at localhost:" + port + ":"), r.err());
  }

  @Test
  void theDefaultProfileThenANamedOneThenTheEnvironmentThenAFlag() {
    String[] call = {"users", "upsert", "--external-id", "x", "--email", "x@y.z"};
    assertCalled(tally(Map.of(), call), defaultPort);
    assertCalled(tally(Map.of("TALLY_PROFILE", "staging"), call), stagingPort);
    String[] named = {"--profile", "staging", "users", "upsert", "--external-id", "x", "--email", "x@y.z"};
    assertCalled(tally(Map.of(), named), stagingPort);
    int envPort = Processes.freePort();
    assertCalled(tally(Map.of("TALLY_GATEWAY", "localhost:" + envPort), named), envPort);
    int flagPort = Processes.freePort();
    assertCalled(tally(Map.of("TALLY_GATEWAY", "localhost:" + envPort), "--profile", "staging", "--gateway",
        "localhost:" + flagPort, "users", "upsert", "--external-id", "x", "--email", "x@y.z"), flagPort);
  }

  @Test
  void anUnknownProfileIsRefusedNamingTheOnesThereAre() {
    Processes.Result r = tally(Map.of(), "--profile", "prod", "users", "upsert", "--external-id", "x", "--email", "x@y.z");
    assertEquals(2, r.exit());
    assertTrue(r.err().contains("no profile 'prod' in " + config + " (profiles: default, staging)"), r.err());
  }

  @Test
  void anInlineSecretOthersCanReadIsRefused() throws Exception {
    Files.setPosixFilePermissions(config, PosixFilePermissions.fromString("rw-r--r--"));
    Processes.Result r = tally(Map.of(), "users", "upsert", "--external-id", "x", "--email", "x@y.z");
    assertEquals(2, r.exit());
    assertTrue(r.err().contains("holds a secret and others can read it: chmod 600 " + config), r.err());
  }

  @Test
  void profilesAreListedWithoutTheirSecrets() {
    Processes.Result r = tally(Map.of("TALLY_PROFILE", "staging"), "profiles");
    assertEquals(0, r.exit(), r.err());
    assertTrue(r.out().contains("  default") && r.out().contains("localhost:" + defaultPort)
        && r.out().contains("platform token"), r.out());
    assertTrue(r.out().contains("* staging") && r.out().contains("api key") && r.out().contains("users/someone"), r.out());
    assertFalse(r.out().contains("tly_inline_secret") || r.out().contains("read-from-its-file"), r.out());
  }
}
