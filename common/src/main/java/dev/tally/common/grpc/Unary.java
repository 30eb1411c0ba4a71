package dev.tally.common.grpc;

import io.grpc.stub.StreamObserver;
import java.util.function.Supplier;

/** The one way a unary handler answers: its body's value, or its exception for the error mapper. */
public final class Unary {
  private Unary() {}

  /** Sends what {@code body} returns and completes; an exception propagates to the interceptors. */
  public static <T> void reply(StreamObserver<T> out, Supplier<T> body) {
    out.onNext(body.get());
    out.onCompleted();
  }
}
