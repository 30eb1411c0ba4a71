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
    return given != null && SAFE.matcher(given).matches() ? given : UUID.randomUUID().toString();
  }

  /** The request id of the call being served on this thread, or {@code null} outside a call. */
  public static String current() {
    return CONTEXT.get();
  }
}
