package dev.tally.common.grpc;

import dev.tally.common.error.ErrorMapper;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;

/**
 * Closes the call with the mapped status when a handler (or an inner interceptor) throws, so no exception
 * escapes as {@code UNKNOWN} and no stack trace reaches a client. Handlers just throw domain exceptions.
 */
public final class ErrorMappingInterceptor implements ServerInterceptor {

  @Override
  public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
      ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
    OnceClosingCall<ReqT, RespT> guarded = new OnceClosingCall<>(call);
    ServerCall.Listener<ReqT> delegate;
    try {
      delegate = next.startCall(guarded, headers);
    } catch (RuntimeException e) {
      guarded.closeWith(e);
      return new ServerCall.Listener<>() {};
    }
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(delegate) {
      @Override
      public void onMessage(ReqT message) {
        if (MalformedRequests.isMalformed(message)) {
          guarded.closeWith(MalformedRequests.malformed());
          return;
        }
        guard(() -> super.onMessage(message));
      }

      @Override
      public void onHalfClose() {
        guard(super::onHalfClose);
      }

      @Override
      public void onReady() {
        guard(super::onReady);
      }

      @Override
      public void onCancel() {
        guard(super::onCancel);
      }

      @Override
      public void onComplete() {
        guard(super::onComplete);
      }

      private void guard(Runnable r) {
        if (guarded.isClosed()) {
          return;
        }
        try {
          r.run();
        } catch (RuntimeException e) {
          guarded.closeWith(e);
        }
      }
    };
  }

  /** A call that ignores a second close, so a late failure cannot crash an already answered call. */
  static final class OnceClosingCall<ReqT, RespT>
      extends ForwardingServerCall.SimpleForwardingServerCall<ReqT, RespT> {
    private volatile boolean closed;

    OnceClosingCall(ServerCall<ReqT, RespT> delegate) {
      super(delegate);
    }

    boolean isClosed() {
      return closed;
    }

    void closeWith(Throwable t) {
      StatusRuntimeException mapped = ErrorMapper.toStatusRuntimeException(t);
      Metadata trailers = mapped.getTrailers() == null ? new Metadata() : mapped.getTrailers();
      close(mapped.getStatus(), trailers);
    }

    @Override
    public synchronized void close(Status status, Metadata trailers) {
      if (closed) {
        return;
      }
      closed = true;
      super.close(status, trailers);
    }
  }
}
