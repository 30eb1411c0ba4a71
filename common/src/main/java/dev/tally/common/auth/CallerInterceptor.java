package dev.tally.common.auth;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;

/**
 * Services' side of internal authentication: every call must carry a caller header signed by the
 * gateway; the verified {@link Caller} is put in the gRPC context. Calls without one fail
 * {@code UNAUTHENTICATED} (health and reflection are not intercepted).
 */
public final class CallerInterceptor implements ServerInterceptor {
  private final CallerSigner signer;

  public CallerInterceptor(CallerSigner signer) {
    this.signer = signer;
  }

  @Override
  public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
      ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
    Caller caller = signer.verify(headers.get(CallerSigner.CALLER_HEADER), call.getMethodDescriptor()
        .getFullMethodName());
    return Contexts.interceptCall(Context.current().withValue(Caller.CONTEXT, caller), call, headers, next);
  }
}
