package dev.tally.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tally.common.config.ConfigException;
import dev.tally.common.config.Env;
import dev.tally.gateway.config.GatewayConfig;
import java.util.Map;
import org.junit.jupiter.api.Test;

class GatewayConfigTest {
  private static final Map<String, String> KEYS = Map.of("TALLY_PLATFORM_TOKEN", "a-token-of-16-chars-at-least",
      "TALLY_INTERNAL_AUTH_KEY", "a-signing-key-of-16-chars");

  @Test
  void defaultsPointAtTheLocalServices() {
    GatewayConfig config = GatewayConfig.fromEnv(Env.of(KEYS));
    assertEquals(50051, config.server().port());
    assertEquals("localhost:50061", config.identityTarget());
    assertEquals("localhost:50062", config.walletTarget());
    assertEquals("localhost:50063", config.meteringTarget());
  }

  @Test
  void badPortFailsNamingTheVariable() {
    ConfigException e = assertThrows(ConfigException.class,
        () -> GatewayConfig.fromEnv(Env.of(Map.of("TALLY_GRPC_PORT", "70000")).with(KEYS)));
    assertEquals("TALLY_GRPC_PORT must be between 0 and 65535, got 70000", e.getMessage());
  }

  @Test
  void noDevelopmentFallbackForSecrets() {
    ConfigException token = assertThrows(ConfigException.class, () -> GatewayConfig.fromEnv(Env.of(Map.of(
        "TALLY_INTERNAL_AUTH_KEY", "a-signing-key-of-16-chars"))));
    assertEquals(true, token.getMessage().startsWith("TALLY_PLATFORM_TOKEN is required"), token.getMessage());
    ConfigException key = assertThrows(ConfigException.class, () -> GatewayConfig.fromEnv(Env.of(Map.of(
        "TALLY_PLATFORM_TOKEN", "a-token-of-16-chars-at-least"))));
    assertEquals(true, key.getMessage().startsWith("TALLY_INTERNAL_AUTH_KEY is required"), key.getMessage());
    assertThrows(ConfigException.class, () -> GatewayConfig.fromEnv(Env.of(Map.of("TALLY_PLATFORM_TOKEN", "short",
        "TALLY_INTERNAL_AUTH_KEY", "a-signing-key-of-16-chars"))));
    assertEquals(ServerConfigDefaults.LOOPBACK, GatewayConfig.fromEnv(Env.of(KEYS)).server().bindAddress());
  }

  /** Where the services listen unless configured otherwise. */
  private static final class ServerConfigDefaults {
    static final String LOOPBACK = dev.tally.common.grpc.ServerConfig.LOOPBACK;
  }
}
