package dev.tally.stack;

import dev.tally.common.config.Env;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The local stack's own secrets: the platform token, the key that signs internal calls, the pepper of key
 * hashes. Each comes from its variable when set, else from {@code <data>/secrets/<name>} (created on first
 * start with 256 random bits, readable by the owner only), or, for an ephemeral stack, is made up for this
 * run. Nothing is written in the source, so nobody else can sign for this stack.
 */
final class LocalSecrets {
  static final String PLATFORM_TOKEN = "TALLY_PLATFORM_TOKEN";
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final Map<String, String> FILES = Map.of(PLATFORM_TOKEN, "platform-token",
      "TALLY_INTERNAL_AUTH_KEY", "internal-auth-key", "TALLY_SECRET_PEPPER", "secret-pepper");

  private LocalSecrets() {}

  /** The three secrets as variables, to put beside the environment. */
  static Map<String, String> resolve(Env env, Path dataDir, boolean ephemeral) {
    Map<String, String> out = new LinkedHashMap<>();
    for (Map.Entry<String, String> f : FILES.entrySet()) {
      String value = env.optional(f.getKey()).orElseGet(() -> ephemeral ? fresh()
          : stored(dataDir.resolve("secrets").resolve(f.getValue())));
      out.put(f.getKey(), value);
    }
    return out;
  }

  /** Where the platform token of a persistent stack is kept (for the CLI: {@code cat} it). */
  static Path platformTokenFile(Path dataDir) {
    return dataDir.resolve("secrets").resolve(FILES.get(PLATFORM_TOKEN));
  }

  private static String stored(Path file) {
    try {
      if (Files.exists(file)) {
        return Files.readString(file).trim();
      }
      Path dir = file.getParent();
      Files.createDirectories(dir);
      Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
      String value = fresh();
      Path tmp = Files.createTempFile(dir, "new", ".tmp",
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      Files.writeString(tmp, value + "\n");
      Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
      return value;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot keep the local stack's secrets in " + file.getParent(), e);
    }
  }

  private static String fresh() {
    byte[] b = new byte[32];
    RANDOM.nextBytes(b);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }
}
