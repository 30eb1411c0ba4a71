package dev.tally.common.db;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tally.common.testing.TestInfra;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Rows bound as column arrays come back from {@code unnest} exactly as they went in, whatever they hold. */
class ColumnArraysTest {
  private static Database db;

  @BeforeAll
  static void open() {
    db = Database.open(TestInfra.newDatabase(ColumnArraysTest.class, "probe"), "probe", null);
  }

  @AfterAll
  static void close() {
    db.close();
  }

  private record Row(String text, Long number, byte[] bytes) {}

  @Test
  void everyValueRoundTrips() {
    List<Row> rows = List.of(new Row("plain", 1L, new byte[] {1}), new Row("", -9_223_372_036_854_775_808L, new byte[0]),
        new Row("quote \" and \\ backslash", 9_223_372_036_854_775_807L, new byte[] {0, (byte) 0xff}),
        new Row("{braces}, commas, NULL", null, null), new Row(null, 0L, new byte[] {2}),
        new Row("NULL", 42L, new byte[] {3}), new Row("  spaced\ttab\nline  ", 7L, new byte[] {4}),
        new Row("ünïcödé 🎉", 8L, new byte[] {5}), new Row("only a \" quote", 9L, new byte[] {6}),
        new Row("only a \\ backslash\\", 10L, new byte[] {7}));
    String[] types = {"text", "bigint", "bytea"};
    List<Row> back = new ArrayList<>();
    db.dsl().connection(c -> {
      try (var ps = c.prepareStatement("select * from " + ColumnArrays.unnest(types))) {
        ColumnArrays.bind(c, ps, types, rows, r -> new Object[] {r.text(), r.number(), r.bytes()});
        try (var rs = ps.executeQuery()) {
          while (rs.next()) {
            long n = rs.getLong(2);
            Long number = rs.wasNull() ? null : n;
            back.add(new Row(rs.getString(1), number, rs.getBytes(3)));
          }
        }
      }
    });
    assertEquals(rows.size(), back.size());
    for (int i = 0; i < rows.size(); i++) {
      assertEquals(rows.get(i).text(), back.get(i).text(), "text of row " + i);
      assertEquals(rows.get(i).number(), back.get(i).number(), "bigint of row " + i);
      assertEquals(Arrays.toString(rows.get(i).bytes()), Arrays.toString(back.get(i).bytes()), "bytea of row " + i);
    }
  }
}
