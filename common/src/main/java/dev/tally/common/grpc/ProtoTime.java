package dev.tally.common.grpc;

import com.google.protobuf.Duration;
import com.google.protobuf.Timestamp;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;

/** Conversions between protobuf time types and java.time. */
public final class ProtoTime {
  private ProtoTime() {}

  /** The timestamp, or the default (unset) instance for {@code null}. */
  public static Timestamp ts(OffsetDateTime t) {
    return t == null ? Timestamp.getDefaultInstance() : ts(t.toInstant());
  }

  public static Timestamp ts(Instant t) {
    return Timestamp.newBuilder().setSeconds(t.getEpochSecond()).setNanos(t.getNano()).build();
  }

  public static Instant instant(Timestamp t) {
    return Instant.ofEpochSecond(t.getSeconds(), t.getNanos());
  }

  /** {@code null} when unset. */
  public static OffsetDateTime odt(Timestamp t, boolean isSet) {
    return isSet ? OffsetDateTime.ofInstant(instant(t), ZoneOffset.UTC) : null;
  }

  public static java.time.Duration duration(Duration d) {
    return java.time.Duration.ofSeconds(d.getSeconds(), d.getNanos());
  }

  public static Duration duration(java.time.Duration d) {
    return Duration.newBuilder().setSeconds(d.getSeconds()).setNanos(d.getNano()).build();
  }
}
