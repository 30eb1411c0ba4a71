package dev.tally.stack;

import io.grpc.CallCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.util.concurrent.Executor;

/** What a platform holds: the gateway's address, the platform token, and its customers' API keys. */
final class GatewayClient implements AutoCloseable {
  static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  static final Metadata.Key<String> ACTING_USER = Metadata.Key.of("x-tally-user", Metadata.ASCII_STRING_MARSHALLER);

  final ManagedChannel channel;
  final String platformToken;

  GatewayClient(int port, String platformToken) {
    this.channel = NettyChannelBuilder.forAddress("localhost", port).usePlaintext().build();
    this.platformToken = platformToken;
  }

  /** A stack on the test JVM's PostgreSQL and Kafka, for {@code owner}'s tests, and its gateway's client. */
  static GatewayClient startStack(Class<?> owner, java.util.function.Consumer<TallyStack> keep) throws Exception {
    TallyStack stack = TallyStack.start(new StackConfig(java.nio.file.Files.createTempDirectory("tally-"
        + owner.getSimpleName()), true, 0, 0, 0, 0, 0, -1, "", ""),
        dev.tally.common.testing.TestInfra.newDatabase(owner, "identity"), dev.tally.common.testing.TestInfra.kafka());
    keep.accept(stack);
    return new GatewayClient(stack.gatewayPort(), dev.tally.gateway.config.GatewayConfig.DEV_PLATFORM_TOKEN);
  }

  dev.tally.proto.identity.v1.IdentityServiceGrpc.IdentityServiceBlockingStub identity(CallCredentials c) {
    return dev.tally.proto.identity.v1.IdentityServiceGrpc.newBlockingStub(channel).withCallCredentials(c)
        .withDeadlineAfter(20, java.util.concurrent.TimeUnit.SECONDS);
  }

  dev.tally.proto.wallet.v1.WalletServiceGrpc.WalletServiceBlockingStub wallet(CallCredentials c) {
    return dev.tally.proto.wallet.v1.WalletServiceGrpc.newBlockingStub(channel).withCallCredentials(c)
        .withDeadlineAfter(20, java.util.concurrent.TimeUnit.SECONDS);
  }

  /** The platform's backend itself. */
  CallCredentials platform() {
    return bearer(platformToken, null);
  }

  /** The platform's backend acting for a signed-in user. */
  CallCredentials asUser(String user) {
    return bearer(platformToken, user);
  }

  /** A customer calling with an API key. */
  CallCredentials apiKey(String secret) {
    return bearer(secret, null);
  }

  static CallCredentials bearer(String token, String user) {
    return new CallCredentials() {
      @Override
      public void applyRequestMetadata(RequestInfo info, Executor executor, MetadataApplier applier) {
        Metadata m = new Metadata();
        m.put(AUTHORIZATION, "Bearer " + token);
        if (user != null) {
          m.put(ACTING_USER, user);
        }
        applier.apply(m);
      }
    };
  }

  @Override
  public void close() {
    channel.shutdownNow();
  }
}
