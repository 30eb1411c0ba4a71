package dev.tally.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Named connection profiles in a config file ({@code $TALLY_CONFIG}, else {@code $XDG_CONFIG_HOME/tally/config},
 * else {@code ~/.config/tally/config}), one {@code [name]} section each with {@code gateway}, {@code as},
 * {@code token} or {@code token-file}, {@code api-key} or {@code api-key-file}. The profile is {@code --profile},
 * else {@code $TALLY_PROFILE}, else {@code [default]} when there is one. A file holding a secret inline must be
 * readable by its owner only, as ssh asks of its keys.
 */
final class Profiles {
  /** The keys a section may have; each names the option it supplies. */
  static final Map<String, String> KEYS = Map.of("gateway", "--gateway", "as", "--as", "token", "--token",
      "token-file", "--token", "api-key", "--api-key", "api-key-file", "--api-key");

  private final Path file;
  private final Path home;
  private final Map<String, Map<String, String>> sections;

  private Profiles(Path file, Path home, Map<String, Map<String, String>> sections) {
    this.file = file;
    this.home = home;
    this.sections = sections;
  }

  static Path location(Map<String, String> env) {
    if (env.get("TALLY_CONFIG") != null && !env.get("TALLY_CONFIG").isBlank()) {
      return Path.of(env.get("TALLY_CONFIG"));
    }
    String xdg = env.get("XDG_CONFIG_HOME");
    Path config = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(env.getOrDefault("HOME", "."), ".config");
    return config.resolve("tally").resolve("config");
  }

  /** The profiles of the file at {@code location(env)}; none when there is no file. */
  static Profiles load(Map<String, String> env) {
    Path file = location(env);
    Path home = Path.of(env.getOrDefault("HOME", "."));
    if (!Files.exists(file)) {
      return new Profiles(file, home, Map.of());
    }
    Map<String, Map<String, String>> sections = new LinkedHashMap<>();
    Map<String, String> current = null;
    int n = 0;
    try {
      for (String raw : Files.readAllLines(file)) {
        n++;
        String line = raw.strip();
        if (line.isEmpty() || line.startsWith("#") || line.startsWith(";")) {
          continue;
        }
        if (line.startsWith("[") && line.endsWith("]")) {
          current = sections.computeIfAbsent(line.substring(1, line.length() - 1).strip(), k -> new LinkedHashMap<>());
          continue;
        }
        int eq = line.indexOf('=');
        String key = eq < 0 ? "" : line.substring(0, eq).strip();
        if (current == null || !KEYS.containsKey(key)) {
          throw new IllegalArgumentException(file + ":" + n + ": expected [profile] or one of " + KEYS.keySet()
              + " = value");
        }
        current.put(key, line.substring(eq + 1).strip());
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Profiles p = new Profiles(file, home, sections);
    p.refuseInlineSecretsOthersCanRead();
    return p;
  }

  Path file() {
    return file;
  }

  List<String> names() {
    return List.copyOf(sections.keySet());
  }

  /**
   * The profile named by {@code --profile} or {@code $TALLY_PROFILE}, else {@code [default]} if any; a name
   * asked for that the file lacks is an error.
   */
  Optional<Profile> select(String asked) {
    if (asked == null || asked.isBlank()) {
      return Optional.ofNullable(sections.get("default")).map(s -> new Profile("default", s));
    }
    Map<String, String> s = sections.get(asked);
    if (s == null) {
      throw new IllegalArgumentException("no profile '" + asked + "' in " + file
          + (sections.isEmpty() ? " (no profiles there)" : " (profiles: " + String.join(", ", sections.keySet()) + ")"));
    }
    return Optional.of(new Profile(asked, s));
  }

  /** One profile: what it sets for each option, secrets read from their files. */
  final class Profile {
    private final String name;
    private final Map<String, String> values;

    private Profile(String name, Map<String, String> values) {
      this.name = name;
      this.values = values;
    }

    String name() {
      return name;
    }

    /** The value this profile gives {@code option} (--gateway, --as, --token, --api-key), or null. */
    String option(String option) {
      for (var e : values.entrySet()) {
        if (!KEYS.get(e.getKey()).equals(option)) {
          continue;
        }
        return e.getKey().endsWith("-file") ? readSecret(e.getValue()) : e.getValue();
      }
      return null;
    }

    /** How the profile authenticates, never the secret: "api key", "platform token" or "none". */
    String auth() {
      if (values.containsKey("api-key") || values.containsKey("api-key-file")) {
        return "api key";
      }
      return values.containsKey("token") || values.containsKey("token-file") ? "platform token" : "none";
    }

    String raw(String key) {
      return values.getOrDefault(key, "");
    }
  }

  private String readSecret(String path) {
    Path p = path.startsWith("~/") ? home.resolve(path.substring(2)) : Path.of(path);
    Path resolved = p.isAbsolute() ? p : file.toAbsolutePath().getParent().resolve(p);
    try {
      return Files.readString(resolved).strip();
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read " + resolved + " (named in " + file + "): " + e.getMessage());
    }
  }

  private void refuseInlineSecretsOthersCanRead() {
    boolean inline = sections.values().stream().anyMatch(s -> s.containsKey("token") || s.containsKey("api-key"));
    if (!inline) {
      return;
    }
    try {
      Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file);
      if (perms.contains(PosixFilePermission.GROUP_READ) || perms.contains(PosixFilePermission.OTHERS_READ)) {
        throw new IllegalArgumentException(file + " holds a secret and others can read it: chmod 600 " + file
            + " (or name the secret's file with token-file / api-key-file)");
      }
    } catch (UnsupportedOperationException | IOException e) {
      // No POSIX permissions to check on this file system.
    }
  }
}
