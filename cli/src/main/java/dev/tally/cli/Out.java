package dev.tally.cli;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.Timestamp;
import com.google.protobuf.util.JsonFormat;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/** Human output: aligned tables, money as dollars, times as ISO-8601. */
final class Out {
  private Out() {}

  static String json(MessageOrBuilder m) {
    try {
      return JsonFormat.printer().alwaysPrintFieldsWithNoPresence().print(m);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Nanos as a currency amount: at least two decimals, no trailing zeros beyond ({@code $0.0006}, {@code $12.50}). */
  static String money(long nanos) {
    BigDecimal d = BigDecimal.valueOf(nanos).movePointLeft(9).stripTrailingZeros();
    if (d.scale() < 2) {
      d = d.setScale(2);
    }
    return (nanos < 0 ? "-$" : "$") + d.abs().toPlainString();
  }

  /** A decimal amount ({@code 12.50}, {@code $0.05}) in nanos, exactly; more than 9 decimals is refused. */
  static long parseMoney(String text) {
    String t = text.trim().replace("$", "").replace("_", "");
    try {
      return new BigDecimal(t).movePointRight(9).longValueExact();
    } catch (ArithmeticException | NumberFormatException e) {
      throw new IllegalArgumentException("amount: not an amount of at most 9 decimals: " + text);
    }
  }

  static String time(Timestamp t) {
    return t.getSeconds() == 0 && t.getNanos() == 0 ? "-" : Instant.ofEpochSecond(t.getSeconds()).toString();
  }

  /** A table with a header row. */
  static final class Table {
    private final List<String[]> rows = new ArrayList<>();

    Table(String... header) {
      rows.add(header);
    }

    Table row(Object... cells) {
      String[] r = new String[cells.length];
      for (int i = 0; i < cells.length; i++) {
        r[i] = String.valueOf(cells[i]);
      }
      rows.add(r);
      return this;
    }

    void print() {
      int cols = rows.getFirst().length;
      int[] width = new int[cols];
      for (String[] r : rows) {
        for (int i = 0; i < cols; i++) {
          width[i] = Math.max(width[i], r[i].length());
        }
      }
      for (String[] r : rows) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < cols; i++) {
          sb.append(i == cols - 1 ? r[i] : String.format("%-" + width[i] + "s  ", r[i]));
        }
        System.out.println(sb.toString().stripTrailing());
      }
    }
  }

  /** Key-value lines for a single resource. */
  static void fields(Object... kv) {
    int width = 0;
    for (int i = 0; i < kv.length; i += 2) {
      width = Math.max(width, kv[i].toString().length());
    }
    for (int i = 0; i < kv.length; i += 2) {
      System.out.printf("%-" + (width + 1) + "s %s%n", kv[i] + ":", kv[i + 1]);
    }
  }
}
