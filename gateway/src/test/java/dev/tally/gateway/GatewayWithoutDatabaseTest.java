package dev.tally.gateway;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The gateway keeps no database, so its classpath (and image) carries no JDBC driver, pool, migrations or
 * jOOQ; and every class it runs, with the shared classes it names, still links without them.
 */
class GatewayWithoutDatabaseTest {
  private static final Path CLASSES = Path.of("target/classes");

  @Test
  void noDatabaseLibraryIsOnTheGatewaysClasspath() {
    for (String absent : new String[] {"org.postgresql.Driver", "com.zaxxer.hikari.HikariDataSource",
        "org.flywaydb.core.Flyway", "org.jooq.DSLContext"}) {
      assertThrows(ClassNotFoundException.class, () -> Class.forName(absent), absent + " must not ship with the gateway");
    }
  }

  @Test
  void everyGatewayClassAndTheSharedClassesItNamesLink() throws Exception {
    Set<String> names = new TreeSet<>();
    Set<String> shared = new TreeSet<>();
    Pattern common = Pattern.compile("dev/tally/common/[A-Za-z0-9_/$]+");
    try (Stream<Path> files = Files.walk(CLASSES)) {
      for (Path f : files.filter(p -> p.toString().endsWith(".class")).toList()) {
        names.add(className(CLASSES.relativize(f)));
        Matcher m = common.matcher(new String(Files.readAllBytes(f), StandardCharsets.ISO_8859_1));
        while (m.find()) {
          shared.add(m.group().replace('/', '.'));
        }
      }
    }
    assertTrue(names.contains("dev.tally.gateway.GatewayMain"), "compiled classes found in " + CLASSES.toAbsolutePath());
    assertFalse(shared.isEmpty(), "the gateway names shared classes");
    names.addAll(shared);
    for (String name : names) {
      Class<?> c = Class.forName(name, false, getClass().getClassLoader());
      // Resolving every member's signature fails here if one names a class the gateway does not ship.
      c.getDeclaredMethods();
      c.getDeclaredFields();
      c.getDeclaredConstructors();
    }
  }

  private static String className(Path relative) throws IOException {
    String s = relative.toString();
    return s.substring(0, s.length() - ".class".length()).replace('/', '.');
  }
}
