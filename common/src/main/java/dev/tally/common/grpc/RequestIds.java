package dev.tally.common.grpc;

import io.grpc.Context;
import io.grpc.Metadata;
import java.util.UUID;
import java.util.regex.Pattern;

/** The per-call correlation id: taken from {@code x-request-id} when sane, else generated. */
public final class RequestIds {
  public static final Metadata.Key<String> HEADER =
      Metadata.Key.of("x-request-id", Metadata.ASCII_STRING_MARSHALLER);
  public static final Context.Key<String> CONTEXT = Context.key("tally-request-id");
  private static final Pattern SAFE = Pattern.compile("[A-Za-z0-9._:-]{1,128}");

  private RequestIds() {}

  static String fromHeaders(Metadata headers) {
    String given = headers.get(HEADER);
    return given != null && SAFE.matcher(given).matches() ? given : generate();
  }

  /**
   * A random (version 4) UUID from a fast generator: a correlation id, not a secret, made on every call — the
   * JDK's {@code UUID.randomUUID()} reads the operating system's secure source each time.
   */
  static String generate() {
    var random = java.util.concurrent.ThreadLocalRandom.current();
    long high = random.nextLong() & ~0xF000L | 0x4000L;
    long low = random.nextLong() & 0x3FFF_FFFF_FFFF_FFFFL | 0x8000_0000_0000_0000L;
    return new UUID(high, low).toString();
  }

  /**
   * For channels to other services: every call made while serving one carries that call's request id, so a
   * request can be followed through key verification, price lookups and Admit → Reserve in every log.
   */
  public static io.grpc.ClientInterceptor propagating() {
    return new io.grpc.ClientInterceptor() {
      @Override
      public <Q, R> io.grpc.ClientCall<Q, R> interceptCall(io.grpc.MethodDescriptor<Q, R> method,
          io.grpc.CallOptions options, io.grpc.Channel next) {
        return new io.grpc.ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
          @Override
          public void start(Listener<R> listener, Metadata headers) {
            String id = current();
            if (id != null && headers.get(HEADER) == null) {
              headers.put(HEADER, id);
            }
            super.start(listener, headers);
          }
        };
      }
    };
  }

  /** The request id of the call being served on this thread, or {@code null} outside a call. */
  public static String current() {
    return CONTEXT.get();
  }
}
