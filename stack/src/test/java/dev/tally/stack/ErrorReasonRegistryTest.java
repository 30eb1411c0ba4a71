package dev.tally.stack;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tally.common.error.Reasons;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** One home for error reasons: the code names them through the registry, and the docs list the registry. */
class ErrorReasonRegistryTest {
  private static final Path ROOT = Path.of(System.getProperty("user.dir")).getParent();

  /** docs/errors.md's table as the registry says it (written to target/errors-table.md to copy on change). */
  @Test
  void theDocsListEveryReasonOfTheRegistry() throws IOException {
    StringBuilder table = new StringBuilder("| reason | status | meaning |\n|---|---|---|\n");
    Reasons.all().values().forEach(r -> table.append("| `").append(r.name()).append("` | ")
        .append(r.codes().isEmpty() ? "RecordUsage rejection" : String.join(", ", r.codes().stream()
            .map(c -> "`" + c.name() + "`").toList()))
        .append(" | ").append(r.meaning()).append(" |\n"));
    Files.writeString(ROOT.resolve("stack/target/errors-table.md"), table);
    String doc = Files.readString(ROOT.resolve("docs/errors.md"));
    String between = doc.substring(doc.indexOf("<!-- reasons:start -->\n") + "<!-- reasons:start -->\n".length(),
        doc.indexOf("<!-- reasons:end -->"));
    assertEquals(table.toString(), between, "docs/errors.md differs from the registry: see stack/target/errors-table.md");
  }

  /** A reason written as a string literal outside the registry is a second home waiting to drift. */
  @Test
  void noReasonIsSpelledOutsideTheRegistry() throws IOException {
    Pattern literal = Pattern.compile("\"([A-Z][A-Z_]{3,})\"");
    List<String> found = new ArrayList<>();
    try (Stream<Path> files = Files.walk(ROOT)) {
      for (Path f : files.filter(p -> p.toString().endsWith(".java") && p.toString().contains("/src/main/java/")
          && !p.toString().contains("/target/") && !p.endsWith("Reasons.java")).toList()) {
        Matcher m = literal.matcher(Files.readString(f));
        while (m.find()) {
          if (Reasons.all().containsKey(m.group(1))) {
            found.add(ROOT.relativize(f) + ": " + m.group());
          }
        }
      }
    }
    assertEquals(List.of(), found);
  }
}
