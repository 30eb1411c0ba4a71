package dev.tally.common.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.common.db.DatabaseConfig;
import dev.tally.common.grpc.ServerConfig;
import dev.tally.common.kafka.KafkaConfig;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class EnvTest {

  @Test
  void defaultsApplyWhenNothingIsSet() {
    ServerConfig config = ServerConfig.fromEnv(Env.of(Map.of()), 50051, 9464);
    assertEquals(50051, config.port());
    assertEquals(9464, config.metricsPort());
    assertEquals(Duration.ofSeconds(20), config.drainTimeout());
  }

  @Test
  void valuesAreParsedWithUnits() {
    Env env = Env.of(Map.of("TALLY_GRPC_PORT", "7000", "TALLY_SHUTDOWN_DRAIN", "1500ms", "TALLY_DB_POOL_MAX", "25"));
    assertEquals(7000, ServerConfig.fromEnv(env, 1, 2).port());
    assertEquals(Duration.ofMillis(1500), ServerConfig.fromEnv(env, 1, 2).drainTimeout());
    assertEquals(25, DatabaseConfig.fromEnv(env, "identity").maxPoolSize());
  }

  @Test
  void badIntegerNamesTheVariable() {
    ConfigException e = assertThrows(ConfigException.class,
        () -> ServerConfig.fromEnv(Env.of(Map.of("TALLY_GRPC_PORT", "http")), 1, 2));
    assertTrue(e.getMessage().startsWith("TALLY_GRPC_PORT must be an integer"), e.getMessage());
  }

  @Test
  void outOfRangeNamesTheVariableAndTheRange() {
    ConfigException e = assertThrows(ConfigException.class,
        () -> DatabaseConfig.fromEnv(Env.of(Map.of("TALLY_DB_POOL_MAX", "0")), "identity"));
    assertEquals("TALLY_DB_POOL_MAX must be between 1 and 500, got 0", e.getMessage());
  }

  @Test
  void badDurationAndBadChoiceNameTheVariable() {
    ConfigException duration = assertThrows(ConfigException.class,
        () -> ServerConfig.fromEnv(Env.of(Map.of("TALLY_SHUTDOWN_DRAIN", "soon")), 1, 2));
    assertTrue(duration.getMessage().startsWith("TALLY_SHUTDOWN_DRAIN must be a duration"));
    ConfigException protocol = assertThrows(ConfigException.class,
        () -> KafkaConfig.fromEnv(Env.of(Map.of("TALLY_KAFKA_SECURITY_PROTOCOL", "carrier-pigeon"))));
    assertTrue(protocol.getMessage().startsWith("TALLY_KAFKA_SECURITY_PROTOCOL must be"));
    ConfigException bool = assertThrows(ConfigException.class,
        () -> ServerConfig.fromEnv(Env.of(Map.of("TALLY_GRPC_REFLECTION", "maybe")), 1, 2));
    assertEquals("TALLY_GRPC_REFLECTION must be true or false, got 'maybe'", bool.getMessage());
  }

  @Test
  void secretsAreNotPrintedByConfigToString() {
    KafkaConfig config = KafkaConfig.fromEnv(Env.of(Map.of(
        "TALLY_KAFKA_SASL_JAAS_CONFIG", "org.apache.kafka.common.security.scram.ScramLoginModule required password=\"s3cret\";")));
    assertTrue(!config.toString().contains("s3cret"));
  }
}
