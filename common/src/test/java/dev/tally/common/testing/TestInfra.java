package dev.tally.common.testing;

import dev.tally.common.db.DatabaseConfig;
import dev.tally.common.embedded.EmbeddedKafkaBroker;
import dev.tally.common.embedded.EmbeddedPostgresServer;
import dev.tally.common.kafka.KafkaConfig;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The real infrastructure of a test JVM: one PostgreSQL server and one Kafka broker, started on first use
 * and shared by every test class (a fresh database per class). {@code TALLY_DB_URL} (a JDBC URL of an
 * existing server's maintenance database, with {@code TALLY_DB_USER}/{@code TALLY_DB_PASSWORD}) and
 * {@code TALLY_KAFKA_BOOTSTRAP} point the tests at external infrastructure instead.
 */
public final class TestInfra {
  private static final AtomicInteger DATABASES = new AtomicInteger();
  private static EmbeddedPostgresServer postgres;
  private static EmbeddedKafkaBroker kafka;

  private TestInfra() {}

  /** A new, empty database on the shared server, named after {@code owner} for debugging. */
  public static synchronized DatabaseConfig newDatabase(Class<?> owner, String schema) {
    String name = "t" + DATABASES.incrementAndGet() + "_" + ProcessHandle.current().pid() + "_"
        + owner.getSimpleName().toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]", "");
    name = name.length() > 60 ? name.substring(0, 60) : name;
    String external = System.getenv("TALLY_DB_URL");
    if (external != null && !external.isBlank()) {
      String user = envOr("TALLY_DB_USER", "postgres");
      String password = envOr("TALLY_DB_PASSWORD", "postgres");
      try (Connection c = DriverManager.getConnection(external, user, password)) {
        c.createStatement().execute("create database " + name);
      } catch (SQLException e) {
        throw new IllegalStateException("cannot create test database on " + external + ": " + e.getMessage(), e);
      }
      String base = external.substring(0, external.lastIndexOf('/') + 1);
      return DatabaseConfig.of(base + name, user, password, schema);
    }
    EmbeddedPostgresServer server = postgres();
    server.createDatabase(name);
    return DatabaseConfig.of(server.jdbcUrl(name), server.user(), server.password(), schema);
  }

  public static synchronized KafkaConfig kafka() {
    String external = System.getenv("TALLY_KAFKA_BOOTSTRAP");
    if (external != null && !external.isBlank()) {
      return KafkaConfig.plaintext(external);
    }
    if (kafka == null) {
      kafka = EmbeddedKafkaBroker.startEphemeral();
      Runtime.getRuntime().addShutdownHook(new Thread(kafka::close, "test-kafka-stop"));
    }
    return KafkaConfig.plaintext(kafka.bootstrapServers());
  }

  /** A name no other test in this JVM (or an earlier run against an external broker) has used. */
  public static String unique(String prefix) {
    return prefix + "-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
  }

  private static EmbeddedPostgresServer postgres() {
    if (postgres == null) {
      postgres = EmbeddedPostgresServer.startEphemeral();
      Runtime.getRuntime().addShutdownHook(new Thread(postgres::close, "test-postgres-stop"));
    }
    return postgres;
  }

  private static String envOr(String name, String fallback) {
    String v = System.getenv(name);
    return v == null || v.isBlank() ? fallback : v;
  }
}
