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
