package dev.tally.stack;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.grpc.ManagedChannel;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class TallyStackTest {

  @Test
  void stackStartsEveryServerAndReportsHealthy() throws Exception {
    Path data = Files.createTempDirectory("tally-stack");
    StackConfig config = new StackConfig(data, true, 0, 0, 0, 0, 0, -1, "", "");
    try (TallyStack stack = TallyStack.start(config,
        dev.tally.common.testing.TestInfra.newDatabase(TallyStackTest.class, "identity"),
        dev.tally.common.testing.TestInfra.kafka())) {
      ManagedChannel channel = NettyChannelBuilder.forAddress("localhost", stack.gatewayPort()).usePlaintext().build();
      try {
        assertEquals(ServingStatus.SERVING, HealthGrpc.newBlockingStub(channel)
            .withDeadlineAfter(10, TimeUnit.SECONDS)
            .check(HealthCheckRequest.getDefaultInstance()).getStatus());
      } finally {
        channel.shutdownNow();
      }
    }
  }
}
