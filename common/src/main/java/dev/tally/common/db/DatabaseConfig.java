package dev.tally.common.db;

import dev.tally.common.config.Env;
import java.time.Duration;

/**
 * Connection settings of one service's PostgreSQL schema. Pool sizes and timeouts are explicit: a pool that
 * waits forever turns a slow database into a hung service.
 *
 * @param url JDBC URL ({@code TALLY_DB_URL})
 * @param user {@code TALLY_DB_USER}
 * @param password {@code TALLY_DB_PASSWORD}
 * @param schema the schema this service owns and migrates ({@code TALLY_DB_SCHEMA})
 * @param maxPoolSize {@code TALLY_DB_POOL_MAX}
 * @param minIdle {@code TALLY_DB_POOL_MIN_IDLE}
 * @param connectionTimeout longest wait for a pooled connection ({@code TALLY_DB_CONNECT_TIMEOUT})
 * @param statementTimeout longest statement when the call has no deadline ({@code TALLY_DB_STATEMENT_TIMEOUT})
 * @param migrate whether this process runs the Flyway migrations at start ({@code TALLY_DB_MIGRATE})
 */
public record DatabaseConfig(
    String url,
    String user,
    String password,
    String schema,
    int maxPoolSize,
    int minIdle,
    Duration connectionTimeout,
    Duration statementTimeout,
    boolean migrate) {

  public DatabaseConfig {
    if (!schema.matches("[a-z][a-z0-9_]{0,62}")) {
      throw new IllegalArgumentException("schema must be a lower-case SQL identifier: " + schema);
    }
  }

  public static DatabaseConfig fromEnv(Env env, String defaultSchema) {
    return new DatabaseConfig(
        env.string("TALLY_DB_URL", "jdbc:postgresql://localhost:5432/tally"),
        env.string("TALLY_DB_USER", "tally"),
        env.string("TALLY_DB_PASSWORD", "tally"),
        env.string("TALLY_DB_SCHEMA", defaultSchema),
        env.integer("TALLY_DB_POOL_MAX", 10, 1, 500),
        env.integer("TALLY_DB_POOL_MIN_IDLE", 2, 0, 500),
        env.duration("TALLY_DB_CONNECT_TIMEOUT", Duration.ofSeconds(5), Duration.ofMillis(250), Duration.ofMinutes(5)),
        env.duration("TALLY_DB_STATEMENT_TIMEOUT", Duration.ofSeconds(30), Duration.ofMillis(100), Duration.ofHours(1)),
        env.bool("TALLY_DB_MIGRATE", true));
  }

  /** Same connection, another schema: used where one process hosts several services (the local stack). */
  public DatabaseConfig withSchema(String otherSchema) {
    return new DatabaseConfig(url, user, password, otherSchema, maxPoolSize, minIdle, connectionTimeout,
        statementTimeout, migrate);
  }

  public static DatabaseConfig of(String url, String user, String password, String schema) {
    return new DatabaseConfig(url, user, password, schema, 10, 1, Duration.ofSeconds(5), Duration.ofSeconds(30), true);
  }
}
