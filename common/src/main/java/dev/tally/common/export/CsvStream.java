package dev.tally.common.export;

import dev.tally.common.error.Reasons;
import com.google.protobuf.ByteString;
import dev.tally.common.error.TallyException;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Function;

/**
 * CSV written to a server-streaming call in chunks of about 64 KiB, so an export of any size never sits in
 * memory: before each chunk it waits while the client (or the gateway in between) is not ready to take more,
 * and stops when the call is cancelled. Cells are quoted as RFC 4180 says, and a cell that a spreadsheet would
 * run as a formula is defused with a leading apostrophe (values come from platform input).
 */
public final class CsvStream<R> {
  static final int CHUNK = 64 * 1024;

  private final ServerCallStreamObserver<R> out;
  private final Function<ByteString, R> message;
  private final StringBuilder buffer = new StringBuilder(CHUNK + 1024);
  private long rows;

  public CsvStream(StreamObserver<R> out, Function<ByteString, R> message, String... header) {
    this.out = (ServerCallStreamObserver<R>) out;
    this.message = message;
    row((Object[]) header);
    rows = 0;
  }

  /** Appends one row (numbers written as they are, anything else as an escaped string). */
  public void row(Object... cells) {
    for (int i = 0; i < cells.length; i++) {
      if (i > 0) {
        buffer.append(',');
      }
      Object c = cells[i];
      buffer.append(c instanceof BigDecimal d ? d.toPlainString() : c instanceof Number n ? n.toString()
          : cell(String.valueOf(c)));
    }
    buffer.append("\r\n");
    rows++;
    if (buffer.length() >= CHUNK) {
      flush();
    }
  }

  public long rows() {
    return rows;
  }

  /** Sends what is left and completes the call. */
  public void finish() {
    if (!buffer.isEmpty()) {
      flush();
    }
    out.onCompleted();
  }

  private void flush() {
    while (!out.isReady()) {
      if (out.isCancelled()) {
        throw new TallyException(Status.Code.CANCELLED, Reasons.CANCELLED, "the export was cancelled by its caller");
      }
      LockSupport.parkNanos(1_000_000); // the transport frees space on its own thread; checked every ms
    }
    out.onNext(message.apply(ByteString.copyFrom(buffer.toString(), StandardCharsets.UTF_8)));
    buffer.setLength(0);
  }

  /** A CSV cell: quoted when it holds a comma, quote or line break; defused when it starts like a formula. */
  static String cell(String v) {
    String s = !v.isEmpty() && "=+-@\t\r".indexOf(v.charAt(0)) >= 0 ? "'" + v : v;
    if (s.indexOf(',') >= 0 || s.indexOf('"') >= 0 || s.indexOf('\n') >= 0 || s.indexOf('\r') >= 0) {
      return '"' + s.replace("\"", "\"\"") + '"';
    }
    return s;
  }

  /** Nano-units as an exact decimal amount ({@code 1800000} → {@code 0.0018}). */
  public static BigDecimal amount(long nanos) {
    BigDecimal d = BigDecimal.valueOf(nanos).movePointLeft(9).stripTrailingZeros();
    return d.scale() < 0 ? d.setScale(0) : d;
  }
}
