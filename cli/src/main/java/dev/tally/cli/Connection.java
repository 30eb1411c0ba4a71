package dev.tally.cli;

import com.google.protobuf.MessageOrBuilder;
import dev.tally.proto.admission.v1.AdmissionServiceGrpc;
import dev.tally.proto.identity.v1.IdentityServiceGrpc;
import dev.tally.proto.metering.v1.MeteringServiceGrpc;
import dev.tally.proto.wallet.v1.WalletServiceGrpc;
import io.grpc.CallCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.MultiThreadIoEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.nio.NioIoHandler;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioSocketChannel;
import io.grpc.netty.shaded.io.netty.util.concurrent.DefaultThreadFactory;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/**
 * Where and as whom to call, shared by every command. An option not given takes its variable, then the
 * selected profile ({@link ProfileDefaults}, the one place naming the variables), then the default here.
 */
final class Connection {
  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  private static final Metadata.Key<String> ACTING_USER = Metadata.Key.of("x-tally-user", Metadata.ASCII_STRING_MARSHALLER);

  @Option(names = "--gateway", scope = ScopeType.INHERIT, defaultValue = "localhost:50051",
      description = "gateway address (env TALLY_GATEWAY; default ${DEFAULT-VALUE})")
  String gateway;

  @Option(names = "--token", scope = ScopeType.INHERIT,
      description = "the platform token (env TALLY_PLATFORM_TOKEN)")
  String platformToken;

  @Option(names = "--as", scope = ScopeType.INHERIT,
      description = "act for this user, users/{id}, with the platform token (env TALLY_USER)")
  String user;

  @Option(names = "--api-key", scope = ScopeType.INHERIT,
      description = "authenticate with an API key instead (env TALLY_API_KEY)")
  String apiKey;

  @Option(names = "--profile", scope = ScopeType.INHERIT, paramLabel = "NAME",
      description = "connection profile of the config file (env TALLY_PROFILE; see 'tally profiles')")
  String profile;

  @Option(names = "--json", scope = ScopeType.INHERIT, description = "print JSON instead of tables")
  boolean json;

  private ManagedChannel channel;
  private EventLoopGroup loop;

  /**
   * A channel on one NIO thread of its own, which {@link #close} stops: with gRPC's shared event loop still
   * waiting in a native select, the JVM's exit waited ~300 ms for it; and a call or two need no epoll library.
   */
  private ManagedChannel channel() {
    if (channel == null) {
      loop = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("tally-cli", true), NioIoHandler.newFactory());
      channel = NettyChannelBuilder.forTarget(gateway).usePlaintext().eventLoopGroup(loop)
          .channelType(NioSocketChannel.class).build();
      Runtime.getRuntime().addShutdownHook(new Thread(channel::shutdownNow));
    }
    return channel;
  }

  /** Ends the channel and its thread (the command is done). */
  void close() {
    if (channel == null) {
      return;
    }
    channel.shutdownNow();
    try {
      channel.awaitTermination(1, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    loop.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS).awaitUninterruptibly(1, TimeUnit.SECONDS);
  }

  private CallCredentials credentials() {
    String bearer = apiKey != null && !apiKey.isBlank() ? apiKey : platformToken;
    if (bearer == null || bearer.isBlank()) {
      throw new IllegalArgumentException("give --api-key or --token (or TALLY_API_KEY / TALLY_PLATFORM_TOKEN, or a"
          + " --profile that has one)");
    }
    boolean acting = (apiKey == null || apiKey.isBlank()) && user != null && !user.isBlank();
    return new CallCredentials() {
      @Override
      public void applyRequestMetadata(RequestInfo info, Executor executor, MetadataApplier applier) {
        Metadata m = new Metadata();
        m.put(AUTHORIZATION, "Bearer " + bearer);
        if (acting) {
          m.put(ACTING_USER, user);
        }
        applier.apply(m);
      }
    };
  }

  IdentityServiceGrpc.IdentityServiceBlockingStub identity() {
    return IdentityServiceGrpc.newBlockingStub(channel()).withCallCredentials(credentials())
        .withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  WalletServiceGrpc.WalletServiceBlockingStub wallet() {
    return WalletServiceGrpc.newBlockingStub(channel()).withCallCredentials(credentials())
        .withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  /** For exports: a stream of any length gets an hour. */
  MeteringServiceGrpc.MeteringServiceBlockingStub meteringStreaming() {
    return MeteringServiceGrpc.newBlockingStub(channel()).withCallCredentials(credentials())
        .withDeadlineAfter(1, TimeUnit.HOURS);
  }

  IdentityServiceGrpc.IdentityServiceBlockingStub identityStreaming() {
    return IdentityServiceGrpc.newBlockingStub(channel()).withCallCredentials(credentials())
        .withDeadlineAfter(1, TimeUnit.HOURS);
  }

  MeteringServiceGrpc.MeteringServiceBlockingStub metering() {
    return MeteringServiceGrpc.newBlockingStub(channel()).withCallCredentials(credentials())
        .withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  AdmissionServiceGrpc.AdmissionServiceBlockingStub admission() {
    return AdmissionServiceGrpc.newBlockingStub(channel()).withCallCredentials(credentials())
        .withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  /** Prints {@code response} as JSON with --json, else runs {@code table}. */
  void print(MessageOrBuilder response, Runnable table) {
    if (json) {
      System.out.println(Out.json(response));
    } else {
      table.run();
    }
  }
}
