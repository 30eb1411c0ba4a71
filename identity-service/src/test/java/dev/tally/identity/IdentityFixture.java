package dev.tally.identity;


import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.BadRequest;
import dev.tally.common.app.ServiceRunner;
import dev.tally.common.auth.Caller;
import dev.tally.common.auth.CallerSigner;
import dev.tally.common.db.DatabaseConfig;
import dev.tally.common.grpc.GrpcServer;
import dev.tally.common.grpc.ServerConfig;
import dev.tally.common.testing.TestInfra;
import dev.tally.identity.config.IdentityConfig;
import dev.tally.identity.config.IdentityPolicy;
import dev.tally.identity.mail.SmtpConfig;
import dev.tally.proto.identity.v1.*;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.protobuf.StatusProto;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Clock;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real identity service on the shared embedded PostgreSQL (a fresh database) and Kafka, with stubs that
 * call it as any caller, signed the way the gateway signs them.
 */
final class IdentityFixture implements AutoCloseable {
  private static final AtomicInteger USERS = new AtomicInteger();

  final IdentityConfig config;
  final ServiceRunner runner = new ServiceRunner();
  final GrpcServer server;
  final ManagedChannel channel;
  final CallerSigner signer;

  /** A signed-in user of the tests. */
  record TestUser(Caller caller, String name, String email) {
    String id() {
      return name.substring("users/".length());
    }
  }

  IdentityFixture(Class<?> owner, IdentityPolicy policy) throws Exception {
    this(owner, policy, SmtpConfig.DISABLED);
  }

  IdentityFixture(Class<?> owner, IdentityPolicy policy, SmtpConfig smtp) throws Exception {
    DatabaseConfig db = TestInfra.newDatabase(owner, "identity");
    config = new IdentityConfig(ServerConfig.ephemeral(), db, TestInfra.kafka(), policy,
        IdentityConfig.DEV_INTERNAL_AUTH_KEY, IdentityConfig.DEV_SECRET_PEPPER, smtp);
    server = runner.manage(IdentityServiceMain.start(config, runner));
    channel = NettyChannelBuilder.forAddress("localhost", server.port()).usePlaintext().build();
    signer = new CallerSigner(config.internalAuthKey(), Clock.systemUTC());
  }

  IdentityServiceGrpc.IdentityServiceBlockingStub as(Caller caller) {
    return IdentityServiceGrpc.newBlockingStub(channel).withCallCredentials(signer.credentials(caller))
        .withDeadlineAfter(20, TimeUnit.SECONDS);
  }

  IdentityServiceGrpc.IdentityServiceBlockingStub as(TestUser user) {
    return as(user.caller());
  }

  IdentityServiceGrpc.IdentityServiceBlockingStub platform() {
    return as(Caller.PLATFORM);
  }

  /** The internal service (VerifyApiKey) as {@code caller}. */
  dev.tally.proto.identity.v1.IdentityInternalServiceGrpc.IdentityInternalServiceBlockingStub internalAs(Caller caller) {
    return dev.tally.proto.identity.v1.IdentityInternalServiceGrpc.newBlockingStub(channel).withCallCredentials(signer.credentials(caller))
        .withDeadlineAfter(20, TimeUnit.SECONDS);
  }

  TestUser newUser(String label) {
    int n = USERS.incrementAndGet();
    String email = label + "." + n + "@example.com";
    User u = platform().upsertUser(UpsertUserRequest.newBuilder().setExternalId("ext-" + label + "-" + n + "-"
        + System.nanoTime()).setEmail(email).setDisplayName(label).build()).getUser();
    return new TestUser(Caller.user(u.getName()), u.getName(), email);
  }

  Team newTeam(TestUser owner, String name) {
    return as(owner).createTeam(CreateTeamRequest.newBuilder().setDisplayName(name).build()).getTeam();
  }

  /** Invites {@code user} with {@code role} and has them accept. */
  void join(TestUser inviter, Team team, TestUser user, String role) {
    String token = as(inviter).createInvitation(CreateInvitationRequest.newBuilder().setParent(team.getName())
        .setEmail(user.email()).setRole(role).build()).getToken();
    as(user).acceptInvitation(AcceptInvitationRequest.newBuilder().setToken(token).build());
  }

  CreateApiKeyResponse teamKey(TestUser user, Team team, String label) {
    return as(user).createApiKey(CreateApiKeyRequest.newBuilder().setKind(ApiKeyKind.API_KEY_KIND_TEAM)
        .setTeam(team.getName()).setDisplayName(label).build());
  }

  CreateApiKeyResponse personalKey(TestUser user, String label) {
    return as(user).createApiKey(CreateApiKeyRequest.newBuilder().setKind(ApiKeyKind.API_KEY_KIND_PERSONAL)
        .setDisplayName(label).build());
  }

  VerifyApiKeyResponse verify(String secret) {
    return internalAs(Caller.PLATFORM).verifyApiKey(VerifyApiKeyRequest.newBuilder().setSecret(secret).build());
  }

  Connection sql() throws SQLException {
    Connection c = DriverManager.getConnection(config.database().url(), config.database().user(),
        config.database().password());
    c.createStatement().execute("set search_path to identity");
    return c;
  }

  void execute(String sql, Object... args) throws SQLException {
    try (Connection c = sql(); var ps = c.prepareStatement(sql)) {
      for (int i = 0; i < args.length; i++) {
        ps.setObject(i + 1, args[i]);
      }
      ps.executeUpdate();
    }
  }



  static String badField(StatusRuntimeException e) {
    com.google.rpc.Status s = StatusProto.fromThrowable(e);
    return s.getDetailsList().stream().filter(a -> a.is(BadRequest.class)).findFirst().map(a -> {
      try {
        return a.unpack(BadRequest.class).getFieldViolations(0).getField();
      } catch (InvalidProtocolBufferException ex) {
        throw new AssertionError(ex);
      }
    }).orElse("");
  }

  @Override
  public void close() {
    channel.shutdownNow();
    runner.closeAll();
  }
}
