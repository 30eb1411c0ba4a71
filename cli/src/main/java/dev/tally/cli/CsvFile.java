package dev.tally.cli;

import com.google.protobuf.ByteString;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Iterator;
import java.util.function.Function;

/** Writes a streamed CSV export to a file as it arrives (a partial file never takes the name). */
final class CsvFile {
  private CsvFile() {}

  /** Writes every chunk to {@code out} ("-": standard output); returns the bytes written. */
  static <T> long write(Iterator<T> chunks, Function<T, ByteString> csv, String out) {
    try {
      if ("-".equals(out)) {
        return copy(chunks, csv, System.out);
      }
      Path target = Path.of(out).toAbsolutePath();
      Path partial = Files.createTempFile(target.getParent(), ".tally-export", ".csv.part");
      long n;
      try (OutputStream o = Files.newOutputStream(partial)) {
        n = copy(chunks, csv, o);
      } catch (RuntimeException | IOException e) {
        Files.deleteIfExists(partial);
        throw e;
      }
      Files.move(partial, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      return n;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static <T> long copy(Iterator<T> chunks, Function<T, ByteString> csv, OutputStream o) throws IOException {
    long n = 0;
    while (chunks.hasNext()) {
      ByteString b = csv.apply(chunks.next());
      b.writeTo(o);
      n += b.size();
    }
    o.flush();
    return n;
  }
}
