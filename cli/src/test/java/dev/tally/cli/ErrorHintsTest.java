package dev.tally.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Errors say what to try, and --json errors come on stdout in the shape of a success. */
class ErrorHintsTest {
  @Test
  void noGatewayAnswersWithAHintAndJsonErrorsGoToStdout() {
    int port = Processes.freePort(); // nothing listens there
    Map<String, String> env = Map.of("TALLY_GATEWAY", "localhost:" + port, "TALLY_PLATFORM_TOKEN", "t".repeat(32));
    Processes.Result text = Processes.tally(env, List.of("users", "upsert", "--external-id", "x", "--email", "x@y.z"));
    assertEquals(9, text.exit(), text.err());
    assertTrue(text.err().contains("hint: no gateway answers at localhost:" + port
        + ": is ./bin/tally-stack running?"), text.err());
    Processes.Result json = Processes.tally(env, List.of("users", "upsert", "--external-id", "x", "--email",
        "x@y.z", "--json"));
    assertEquals(9, json.exit());
    assertTrue(json.out().startsWith("{\"error\": {\"code\": \"UNAVAILABLE\""), json.out());
    assertTrue(json.out().contains("\"hint\": \"no gateway answers at localhost:" + port), json.out());
  }
}
