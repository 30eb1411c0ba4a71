package dev.tally.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tally.common.config.ConfigException;
import dev.tally.common.config.Env;
import dev.tally.gateway.config.GatewayConfig;
import java.util.Map;
import org.junit.jupiter.api.Test;

class GatewayConfigTest {

  @Test
  void defaultsPointAtTheLocalServices() {
    GatewayConfig config = GatewayConfig.fromEnv(Env.of(Map.of()));
    assertEquals(50051, config.server().port());
    assertEquals("localhost:50061", config.identityTarget());
    assertEquals("localhost:50062", config.walletTarget());
    assertEquals("localhost:50063", config.meteringTarget());
  }

  @Test
  void badPortFailsNamingTheVariable() {
    ConfigException e = assertThrows(ConfigException.class,
        () -> GatewayConfig.fromEnv(Env.of(Map.of("TALLY_GRPC_PORT", "70000"))));
    assertEquals("TALLY_GRPC_PORT must be between 0 and 65535, got 70000", e.getMessage());
  }
}
