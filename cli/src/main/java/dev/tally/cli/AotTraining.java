package dev.tally.cli;

import com.google.protobuf.Any;
import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import dev.tally.proto.identity.v1.GetUserRequest;
import dev.tally.proto.identity.v1.GetUserResponse;
import dev.tally.proto.identity.v1.IdentityServiceGrpc;
import dev.tally.proto.identity.v1.UpsertUserRequest;
import dev.tally.proto.identity.v1.UpsertUserResponse;
import dev.tally.proto.identity.v1.User;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.StreamObserver;
import java.net.InetAddress;
import java.net.InetSocketAddress;

/**
 * The workload {@code bin/tally} records the CLI's ahead-of-time class cache from, not a command: the calls a
 * user makes (a table, {@code --json}, a refusal with its reason, no gateway at all) against a stand-in gateway
 * on loopback, so that the cache holds the classes a call answered by a real gateway loads and links — a cache
 * recorded from a refused connection alone left a third of a real call's start-up out.
 */
final class AotTraining {
  private AotTraining() {}

  public static void main(String[] args) throws Exception {
    Tally.preferPortableTransport();
    Server gateway = NettyServerBuilder.forAddress(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
        .addService(new StandInIdentity()).build().start();
    try {
      String address = "127.0.0.1:" + gateway.getPort();
      String[] upsert = {"users", "upsert", "--external-id", "aot-training", "--email", "aot@training.invalid"};
      expect(0, Tally.run(concat(new String[] {"--gateway", address, "--token", "training"}, upsert)));
      expect(0, Tally.run(concat(new String[] {"--gateway", address, "--token", "training", "--json"}, upsert)));
      expect(Errors.exitCode(io.grpc.Status.Code.PERMISSION_DENIED),
          Tally.run("--gateway", address, "--token", "training", "users", "me"));
      expect(Errors.exitCode(io.grpc.Status.Code.UNAVAILABLE),
          Tally.run(concat(new String[] {"--gateway", "127.0.0.1:9", "--token", "training"}, upsert)));
    } finally {
      gateway.shutdownNow();
    }
  }

  /** A training that did not make the calls it means to would record a cache of the wrong classes. */
  private static void expect(int wanted, int exitCode) {
    if (exitCode != wanted) {
      throw new IllegalStateException("training call exited " + exitCode + ", expected " + wanted);
    }
  }

  private static String[] concat(String[] a, String[] b) {
    String[] all = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, all, a.length, b.length);
    return all;
  }

  /** Answers an upsert with a user, and {@code users/me} with a refusal carrying an ErrorInfo reason. */
  private static final class StandInIdentity extends IdentityServiceGrpc.IdentityServiceImplBase {
    @Override
    public void upsertUser(UpsertUserRequest request, StreamObserver<UpsertUserResponse> response) {
      response.onNext(UpsertUserResponse.newBuilder().setUser(User.newBuilder().setName("users/aot-training")
          .setEmail(request.getEmail())).build());
      response.onCompleted();
    }

    @Override
    public void getUser(GetUserRequest request, StreamObserver<GetUserResponse> response) {
      response.onError(StatusProto.toStatusRuntimeException(com.google.rpc.Status.newBuilder()
          .setCode(Code.PERMISSION_DENIED_VALUE).setMessage("training")
          .addDetails(Any.pack(ErrorInfo.newBuilder().setReason("TRAINING").setDomain("tally.dev").build()))
          .build()));
    }
  }
}
