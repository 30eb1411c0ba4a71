package dev.tally.common.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class RequestIdsTest {
  /** A call made while serving one carries that call's request id to the next service; outside a call, none. */
  @Test
  void theRequestIdFollowsACallIntoTheServicesItCalls() throws Exception {
    AtomicReference<String> seen = new AtomicReference<>();
    ServerInterceptor capture = new ServerInterceptor() {
      @Override
      public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
          ServerCallHandler<Q, R> next) {
        seen.set(headers.get(RequestIds.HEADER));
        return next.startCall(call, headers);
      }
    };
    String name = InProcessServerBuilder.generateName();
    Server server = InProcessServerBuilder.forName(name).directExecutor()
        .addService(ServerInterceptors.intercept(new HealthStatusManager().getHealthService(), capture)).build().start();
    ManagedChannel channel = InProcessChannelBuilder.forName(name).directExecutor()
        .intercept(RequestIds.propagating()).build();
    try {
      var health = HealthGrpc.newBlockingStub(channel);
      Context.current().withValue(RequestIds.CONTEXT, "req-42").run(() ->
          health.check(HealthCheckRequest.getDefaultInstance()));
      assertEquals("req-42", seen.get());
      seen.set("unset");
      health.check(HealthCheckRequest.getDefaultInstance());
      assertEquals(null, seen.get(), "no call being served: nothing to carry");
    } finally {
      channel.shutdownNow();
      server.shutdownNow();
    }
  }

  /** Generated ids are version-4 UUIDs and do not repeat; a sane given id is kept, an unsafe one replaced. */
  @Test
  void generatedIdsAreDistinctVersion4Uuids() {
    java.util.Set<String> seen = new java.util.HashSet<>();
    for (int i = 0; i < 100_000; i++) {
      java.util.UUID id = java.util.UUID.fromString(RequestIds.generate());
      assertEquals(4, id.version());
      assertEquals(2, id.variant());
      org.junit.jupiter.api.Assertions.assertTrue(seen.add(id.toString()));
    }
    Metadata given = new Metadata();
    given.put(RequestIds.HEADER, "trace-7:a.b");
    assertEquals("trace-7:a.b", RequestIds.fromHeaders(given));
    given = new Metadata();
    given.put(RequestIds.HEADER, "bad id");
    assertEquals(4, java.util.UUID.fromString(RequestIds.fromHeaders(given)).version());
  }
}
