package dev.tally.identity;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.common.app.ServiceRunner;
import dev.tally.common.grpc.GrpcServer;
import dev.tally.common.grpc.ServerConfig;
import dev.tally.common.testing.TestInfra;
import dev.tally.identity.config.IdentityConfig;
import io.grpc.ManagedChannel;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.sql.DriverManager;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class IdentityServiceMainTest {

  @Test
  void startMigratesTheSchemaAndServesHealth() throws Exception {
    IdentityConfig config = new IdentityConfig(ServerConfig.ephemeral(),
        TestInfra.newDatabase(IdentityServiceMainTest.class, "identity"), TestInfra.kafka(),
        dev.tally.identity.config.IdentityPolicy.defaults(), IdentityConfig.DEV_INTERNAL_AUTH_KEY,
        IdentityConfig.DEV_SECRET_PEPPER, dev.tally.identity.mail.SmtpConfig.DISABLED);
    ServiceRunner runner = new ServiceRunner();
    try {
      GrpcServer server = runner.manage(IdentityServiceMain.start(config, runner));
      ManagedChannel channel = NettyChannelBuilder.forAddress("localhost", server.port()).usePlaintext().build();
      try {
        assertEquals(ServingStatus.SERVING, HealthGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
            .check(HealthCheckRequest.getDefaultInstance()).getStatus());
      } finally {
        channel.shutdownNow();
      }
      try (var c = DriverManager.getConnection(config.database().url(), config.database().user(),
          config.database().password());
          var rs = c.createStatement().executeQuery(
              "select count(*) from information_schema.tables where table_schema = 'identity'"
                  + " and table_name in ('request_log', 'outbox')")) {
        assertTrue(rs.next());
        assertEquals(2, rs.getInt(1));
      }
    } finally {
      runner.closeAll();
    }
  }
}
