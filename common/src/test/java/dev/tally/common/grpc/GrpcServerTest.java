package dev.tally.common.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import dev.tally.common.error.TallyException;
import dev.tally.common.metrics.Metrics;
import dev.tally.proto.identity.v1.CreateTeamRequest;
import dev.tally.proto.identity.v1.CreateTeamResponse;
import dev.tally.proto.identity.v1.IdentityServiceGrpc;
import dev.tally.proto.identity.v1.Team;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.protobuf.StatusProto;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class GrpcServerTest {
  private static GrpcServer server;
  private static ManagedChannel channel;
  private static IdentityServiceGrpc.IdentityServiceBlockingStub stub;
  private static final AtomicReference<String> seenRequestId = new AtomicReference<>();

  /** A stand-in handler: fails the way real handlers can, to exercise the shared chain. */
  static final class FakeIdentity extends IdentityServiceGrpc.IdentityServiceImplBase {
    @Override
    public void createTeam(CreateTeamRequest request, StreamObserver<CreateTeamResponse> responses) {
      seenRequestId.set(RequestIds.current());
      switch (request.getDisplayName()) {
        case "boom" -> throw new IllegalStateException("database password is hunter2");
        case "limit" -> throw TallyException.failedPrecondition("TEAM_LIMIT_REACHED", "one team per owner");
        default -> {
          responses.onNext(CreateTeamResponse.newBuilder()
              .setTeam(Team.newBuilder().setName("teams/1").setDisplayName(request.getDisplayName()))
              .build());
          responses.onCompleted();
        }
      }
    }
  }

  @BeforeAll
  static void start() throws Exception {
    ServerConfig config = new ServerConfig(0, 0, java.time.Duration.ofSeconds(1), 1 << 20, true);
    server = GrpcServer.builder("test", config, Metrics.newRegistry("test"))
        .addService(new FakeIdentity())
        .start();
    channel = NettyChannelBuilder.forAddress("localhost", server.port()).usePlaintext().build();
    stub = IdentityServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  @AfterAll
  static void stop() {
    channel.shutdownNow();
    server.close();
  }

  @Test
  void createTeamSucceedsThroughTheChain() {
    CreateTeamResponse response = stub.createTeam(CreateTeamRequest.newBuilder().setDisplayName("Acme").build());
    assertEquals("Acme", response.getTeam().getDisplayName());
  }

  @Test
  void protovalidateViolationIsInvalidArgumentNamingTheField() {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> stub.createTeam(CreateTeamRequest.newBuilder().setDisplayName("").setRequestId("bad id!").build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    com.google.rpc.Status details = StatusProto.fromThrowable(e);
    assertNotNull(details);
    ErrorInfo info = unpack(details, ErrorInfo.class);
    assertEquals("INVALID_ARGUMENT", info.getReason());
    assertEquals("tally.dev", info.getDomain());
    BadRequest bad = unpack(details, BadRequest.class);
    List<String> fields = bad.getFieldViolationsList().stream().map(BadRequest.FieldViolation::getField).toList();
    assertEquals(List.of("display_name", "request_id"), fields);
  }

  @Test
  void domainFailureKeepsItsCodeAndReason() {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> stub.createTeam(CreateTeamRequest.newBuilder().setDisplayName("limit").build()));
    assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode());
    assertEquals("TEAM_LIMIT_REACHED", unpack(StatusProto.fromThrowable(e), ErrorInfo.class).getReason());
  }

  @Test
  void unexpectedExceptionIsInternalWithoutLeakingDetails() {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> stub.createTeam(CreateTeamRequest.newBuilder().setDisplayName("boom").build()));
    assertEquals(Status.Code.INTERNAL, e.getStatus().getCode());
    String description = e.getStatus().getDescription();
    assertTrue(description.startsWith("internal error (error id "), description);
    assertFalse(description.contains("hunter2"));
    assertFalse(description.contains("IllegalStateException"));
    assertFalse(e.getTrailers().toString().contains("hunter2"));
    assertTrue(String.valueOf(e.getTrailers().get(RequestIds.HEADER)).matches("[0-9a-f-]{36}"),
        "a failed call's trailers carry the id it was logged under");
    assertEquals("INTERNAL", unpack(StatusProto.fromThrowable(e), ErrorInfo.class).getReason());
  }

  @Test
  void requestIdFromTheClientReachesTheHandlerAndComesBack() {
    Metadata headers = new Metadata();
    headers.put(RequestIds.HEADER, "req-123");
    AtomicReference<Metadata> trailers = new AtomicReference<>();
    IdentityServiceGrpc.newBlockingStub(channel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers),
            MetadataUtils.newCaptureMetadataInterceptor(new AtomicReference<>(), trailers))
        .createTeam(CreateTeamRequest.newBuilder().setDisplayName("Acme").build());
    assertEquals("req-123", seenRequestId.get());
    assertEquals("req-123", trailers.get().get(RequestIds.HEADER));
  }

  @Test
  void healthReportsServingForTheServerAndEachService() {
    HealthGrpc.HealthBlockingStub health = HealthGrpc.newBlockingStub(channel);
    assertEquals(HealthCheckResponse.ServingStatus.SERVING,
        health.check(HealthCheckRequest.getDefaultInstance()).getStatus());
    assertEquals(HealthCheckResponse.ServingStatus.SERVING,
        health.check(HealthCheckRequest.newBuilder().setService("tally.identity.v1.IdentityService").build())
            .getStatus());
  }

  @Test
  void reflectionListsTheServices() throws Exception {
    CompletableFuture<List<String>> names = new CompletableFuture<>();
    StreamObserver<ServerReflectionRequest> requests = ServerReflectionGrpc.newStub(channel)
        .serverReflectionInfo(new StreamObserver<>() {
          @Override
          public void onNext(ServerReflectionResponse response) {
            names.complete(response.getListServicesResponse().getServiceList().stream()
                .map(s -> s.getName()).toList());
          }

          @Override
          public void onError(Throwable t) {
            names.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {}
        });
    requests.onNext(ServerReflectionRequest.newBuilder().setListServices("").build());
    List<String> services = names.get(10, TimeUnit.SECONDS);
    requests.onCompleted();
    assertTrue(services.contains("tally.identity.v1.IdentityService"), services.toString());
    assertTrue(services.contains("grpc.health.v1.Health"), services.toString());
  }

  @Test
  void metricsEndpointExposesPerRpcCountsByStatusAndReason() throws Exception {
    stub.createTeam(CreateTeamRequest.newBuilder().setDisplayName("Metered").build());
    assertThrows(StatusRuntimeException.class,
        () -> stub.createTeam(CreateTeamRequest.newBuilder().setDisplayName("limit").build()));
    HttpResponse<String> response = HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create("http://localhost:" + server.metricsPort() + "/metrics")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, response.statusCode());
    assertTrue(response.body().contains(
        "tally_grpc_server_calls_seconds_count{method=\"tally.identity.v1.IdentityService/CreateTeam\","
            + "reason=\"none\",service=\"test\",status=\"OK\"}"), response.body());
    assertTrue(response.body().contains(
        "tally_grpc_server_calls_seconds_count{method=\"tally.identity.v1.IdentityService/CreateTeam\","
            + "reason=\"TEAM_LIMIT_REACHED\",service=\"test\",status=\"FAILED_PRECONDITION\"}"), response.body());
  }

  private static <T extends com.google.protobuf.Message> T unpack(com.google.rpc.Status status, Class<T> type) {
    return status.getDetailsList().stream().filter(a -> a.is(type)).findFirst().map(a -> {
      try {
        return a.unpack(type);
      } catch (com.google.protobuf.InvalidProtocolBufferException ex) {
        throw new AssertionError(ex);
      }
    }).orElseThrow(() -> new AssertionError("no " + type.getSimpleName() + " in " + status));
  }

  /**
   * Methods chosen by {@code onTransportThread} run on the transport thread (as a bare gRPC server answers),
   * the rest on a call thread each, where blocking is fine; the interceptor chain (validation, error mapping)
   * holds on both.
   */
  @Test
  void chosenCallsRunOnTheTransportThreadAndTheRestOnCallThreads() throws Exception {
    AtomicReference<Thread> createdOn = new AtomicReference<>();
    AtomicReference<Thread> gotOn = new AtomicReference<>();
    var identity = new IdentityServiceGrpc.IdentityServiceImplBase() {
      @Override
      public void createTeam(CreateTeamRequest request, StreamObserver<CreateTeamResponse> responses) {
        createdOn.set(Thread.currentThread());
        responses.onNext(CreateTeamResponse.getDefaultInstance());
        responses.onCompleted();
      }

      @Override
      public void getTeam(dev.tally.proto.identity.v1.GetTeamRequest request,
          StreamObserver<dev.tally.proto.identity.v1.GetTeamResponse> responses) {
        gotOn.set(Thread.currentThread());
        responses.onNext(dev.tally.proto.identity.v1.GetTeamResponse.getDefaultInstance());
        responses.onCompleted();
      }
    };
    ServerConfig config = new ServerConfig(0, -1, java.time.Duration.ofSeconds(1), 1 << 20, false);
    GrpcServer inline = GrpcServer.builder("inline", config, Metrics.newRegistry("inline")).addService(identity)
        .onTransportThread((method, headers) -> method.getFullMethodName().endsWith("/CreateTeam")).start();
    ManagedChannel c = NettyChannelBuilder.forAddress("localhost", inline.port()).usePlaintext().build();
    try {
      var s = IdentityServiceGrpc.newBlockingStub(c).withDeadlineAfter(10, TimeUnit.SECONDS);
      s.createTeam(CreateTeamRequest.newBuilder().setDisplayName("Acme").build());
      s.getTeam(dev.tally.proto.identity.v1.GetTeamRequest.newBuilder().setName("teams/1").build());
      assertFalse(createdOn.get().isVirtual(), "CreateTeam ran on " + createdOn.get());
      assertTrue(createdOn.get().getName().contains("ELG"), "a Netty event loop: " + createdOn.get());
      assertTrue(gotOn.get().isVirtual(), "GetTeam ran on " + gotOn.get());
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
          () -> s.createTeam(CreateTeamRequest.newBuilder().setDisplayName("").build()));
      assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode(), "validated on the transport thread too");
    } finally {
      c.shutdownNow();
      inline.close();
    }
  }
}
