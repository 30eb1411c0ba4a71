package dev.tally.codegen;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import org.flywaydb.core.Flyway;
import org.jooq.codegen.GenerationTool;
import org.jooq.meta.jaxb.Configuration;
import org.jooq.meta.jaxb.Database;
import org.jooq.meta.jaxb.Generate;
import org.jooq.meta.jaxb.Generator;
import org.jooq.meta.jaxb.Jdbc;
import org.jooq.meta.jaxb.SchemaMappingType;
import org.jooq.meta.jaxb.Target;

/**
 * Generates jOOQ classes from Flyway migrations: starts a throwaway embedded PostgreSQL, applies the
 * scripts, and reads the live schema, so the classes always match what the migrations create. The code
 * is generated without a schema name (tables resolve through the connection's search_path), so one
 * service can run in any schema. Skips the work when nothing changed since the last run (hash stamp).
 *
 * <p>Arguments: {@code <schema> <package> <target dir> <migrations dir>...}.
 */
public final class JooqCodegen {
  private JooqCodegen() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 4) {
      throw new IllegalArgumentException(
          "usage: JooqCodegen <schema> <package> <target dir> <migrations dir>...");
    }
    String schema = args[0];
    String packageName = args[1];
    Path target = Path.of(args[2]);
    List<Path> migrations = new ArrayList<>();
    for (int i = 3; i < args.length; i++) {
      migrations.add(Path.of(args[i]).toAbsolutePath());
    }

    Path stamp = target.resolve(".migrations.sha256");
    String hash = hash(schema, packageName, migrations);
    if (Files.exists(stamp) && Files.readString(stamp).equals(hash)) {
      System.out.println("[codegen] jOOQ classes of " + packageName + " are up to date");
      return;
    }
    try (EmbeddedPostgres pg = EmbeddedPostgres.builder().start()) {
      String url = pg.getJdbcUrl("postgres", "postgres");
      Flyway.configure()
          .dataSource(url, "postgres", "postgres")
          .schemas(schema)
          .defaultSchema(schema)
          .createSchemas(true)
          .locations(migrations.stream().map(p -> "filesystem:" + p).toArray(String[]::new))
          .failOnMissingLocations(true)
          .load()
          .migrate();
      GenerationTool.generate(new Configuration()
          .withJdbc(new Jdbc().withDriver("org.postgresql.Driver").withUrl(url)
              .withUser("postgres").withPassword("postgres"))
          .withGenerator(new Generator()
              .withDatabase(new Database()
                  .withName("org.jooq.meta.postgres.PostgresDatabase")
                  .withSchemata(new SchemaMappingType().withInputSchema(schema).withOutputSchemaToDefault(true))
                  .withExcludes("flyway_schema_history"))
              .withGenerate(new Generate()
                  .withRecords(true)
                  .withPojos(false)
                  .withDaos(false)
                  .withJavaTimeTypes(true)
                  .withGeneratedAnnotation(false)
                  .withComments(false))
              .withTarget(new Target().withPackageName(packageName).withDirectory(target.toString()))));
    }
    Files.createDirectories(target);
    Files.writeString(stamp, hash);
  }

  private static String hash(String schema, String packageName, List<Path> dirs)
      throws IOException, NoSuchAlgorithmException {
    MessageDigest digest = MessageDigest.getInstance("SHA-256");
    digest.update((schema + "|" + packageName).getBytes(StandardCharsets.UTF_8));
    for (Path dir : dirs) {
      List<Path> files;
      try (Stream<Path> walk = Files.walk(dir)) {
        files = walk.filter(Files::isRegularFile).sorted().toList();
      }
      for (Path f : files) {
        digest.update(f.getFileName().toString().getBytes(StandardCharsets.UTF_8));
        digest.update(Files.readAllBytes(f));
      }
    }
    return HexFormat.of().formatHex(digest.digest());
  }
}
