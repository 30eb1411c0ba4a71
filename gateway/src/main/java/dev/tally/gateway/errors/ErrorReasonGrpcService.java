package dev.tally.gateway.errors;

import dev.tally.common.error.Reasons;
import dev.tally.proto.errors.v1.ErrorReason;
import dev.tally.proto.errors.v1.ErrorReasonServiceGrpc;
import dev.tally.proto.errors.v1.ListErrorReasonsRequest;
import dev.tally.proto.errors.v1.ListErrorReasonsResponse;
import io.grpc.stub.StreamObserver;

/** Lists the reason registry ({@link Reasons}) to any authenticated caller. */
public final class ErrorReasonGrpcService extends ErrorReasonServiceGrpc.ErrorReasonServiceImplBase {
  private static final ListErrorReasonsResponse ALL = build();

  private static ListErrorReasonsResponse build() {
    ListErrorReasonsResponse.Builder b = ListErrorReasonsResponse.newBuilder();
    Reasons.all().values().forEach(r -> b.addReasons(ErrorReason.newBuilder().setReason(r.name())
        .addAllCodes(r.codes().stream().map(Enum::name).toList()).setMeaning(r.meaning())));
    return b.build();
  }

  @Override
  public void listErrorReasons(ListErrorReasonsRequest request, StreamObserver<ListErrorReasonsResponse> out) {
    out.onNext(ALL);
    out.onCompleted();
  }
}
