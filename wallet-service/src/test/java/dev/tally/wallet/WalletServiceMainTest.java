package dev.tally.wallet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.common.app.ServiceRunner;
import dev.tally.common.grpc.GrpcServer;
import dev.tally.common.grpc.ServerConfig;
import dev.tally.common.testing.TestInfra;
import dev.tally.wallet.config.WalletConfig;
import io.grpc.ManagedChannel;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.sql.DriverManager;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class WalletServiceMainTest {

  @Test
  void startMigratesTheSchemaAndServesHealth() throws Exception {
    WalletConfig config = new WalletConfig(ServerConfig.ephemeral(),
        TestInfra.newDatabase(WalletServiceMainTest.class, "wallet"), TestInfra.kafka());
    ServiceRunner runner = new ServiceRunner();
    try {
      GrpcServer server = runner.manage(WalletServiceMain.start(config, runner));
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
              "select count(*) from information_schema.tables where table_schema = 'wallet'"
                  + " and table_name in ('request_log', 'outbox')")) {
        assertTrue(rs.next());
        assertEquals(2, rs.getInt(1));
      }
    } finally {
      runner.closeAll();
    }
  }
}
