package dev.tally.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tally.common.auth.Caller;
import dev.tally.common.auth.CallerSigner;
import dev.tally.proto.identity.v1.GetUserRequest;
import dev.tally.proto.identity.v1.IdentityServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.Socket;
import java.time.Clock;
import java.util.Collections;
import java.util.concurrent.TimeUnit;

/** What a neighbour on the network, or someone who read the source, can do to a running local stack: nothing. */
final class LocalStackExposure {
  private LocalStackExposure() {}

  static void assertOnlyItsOwnKeysAndLoopback(int identityPort, int gatewayPort, String startLog) throws Exception {
    // A caller signed with the key once written in the source is refused on a service's own port.
    ManagedChannel ch = NettyChannelBuilder.forAddress("localhost", identityPort).usePlaintext().build();
    try {
      CallerSigner stranger = new CallerSigner("dev-internal-auth-key-change-me", Clock.systemUTC());
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> IdentityServiceGrpc
          .newBlockingStub(ch).withCallCredentials(stranger.credentials(Caller.PLATFORM))
          .withDeadlineAfter(5, TimeUnit.SECONDS).getUser(GetUserRequest.newBuilder().setName("users/x").build()));
      assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());
    } finally {
      ch.shutdownNow();
    }
    // Nothing listens beyond loopback: the services, the broker and the database the start-up printed.
    java.util.List<Integer> ports = new java.util.ArrayList<>(java.util.List.of(identityPort, gatewayPort));
    var kafka = java.util.regex.Pattern.compile("kafka: +[^:\\s]+:(\\d+)").matcher(startLog);
    var postgres = java.util.regex.Pattern.compile("postgresql: +jdbc:postgresql://[^:]+:(\\d+)/").matcher(startLog);
    org.junit.jupiter.api.Assertions.assertTrue(kafka.find() && postgres.find(), startLog);
    ports.add(Integer.parseInt(kafka.group(1)));
    ports.add(Integer.parseInt(postgres.group(1)));
    for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
      for (InetAddress address : Collections.list(nic.getInetAddresses())) {
        if (address.isLoopbackAddress() || address.isLinkLocalAddress()) {
          continue;
        }
        for (int port : ports) {
          try (Socket s = new Socket()) {
            assertThrows(java.io.IOException.class, () -> s.connect(new InetSocketAddress(address, port), 1_000),
                "port " + port + " answers on " + address);
          }
        }
      }
    }
  }
}
