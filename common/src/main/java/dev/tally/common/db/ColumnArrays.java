package dev.tally.common.db;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.List;
import java.util.function.Function;

/**
 * Many rows in one statement whatever their number: the rows are turned into one array per column and
 * bound to {@code unnest(?::type[], …)}. A rendered multi-row insert costs more to build than to run; this
 * costs one statement and one round trip per batch.
 */
public final class ColumnArrays {
  private ColumnArrays() {}

  /**
   * Binds the columns of {@code rows} (each row's values from {@code values}, in the order of {@code types},
   * PostgreSQL array element types such as {@code text}, {@code bigint}, {@code bytea}, {@code timestamptz})
   * as parameters {@code 1..types.length} of {@code ps}.
   */
  public static <T> void bind(Connection c, PreparedStatement ps, String[] types, List<T> rows,
      Function<T, Object[]> values) throws SQLException {
    int n = rows.size();
    Object[][] cols = new Object[types.length][];
    for (int k = 0; k < types.length; k++) {
      cols[k] = "bytea".equals(types[k]) ? new byte[n][] : new Object[n];
    }
    for (int i = 0; i < n; i++) {
      Object[] v = values.apply(rows.get(i));
      for (int k = 0; k < types.length; k++) {
        cols[k][i] = v[k];
      }
    }
    for (int k = 0; k < types.length; k++) {
      switch (types[k]) {
        // The driver's own text encoding of a String array (escaping into a growing buffer) cost more than
        // the statement; a literal of the right size is the same text PostgreSQL parses.
        case "text", "timestamptz" -> ps.setString(k + 1, textArray(cols[k]));
        case "bigint" -> bindBigints(c, ps, k + 1, cols[k]);
        default -> ps.setArray(k + 1, c.createArrayOf(types[k], cols[k]));
      }
    }
  }

  /** {@code values} as a PostgreSQL array literal: every element quoted ({@code \} and {@code "} escaped). */
  static String textArray(Object[] values) {
    int size = 2;
    for (Object v : values) {
      size += v == null ? 5 : v.toString().length() + 3;
    }
    StringBuilder sb = new StringBuilder(size).append('{');
    for (int i = 0; i < values.length; i++) {
      if (i > 0) {
        sb.append(',');
      }
      if (values[i] == null) {
        sb.append("NULL");
        continue;
      }
      String v = values[i].toString();
      sb.append('"');
      if (v.indexOf('"') < 0 && v.indexOf('\\') < 0) {
        sb.append(v); // the usual case, copied whole: appending char by char was most of this method's cost
      } else {
        for (int j = 0; j < v.length(); j++) {
          char ch = v.charAt(j);
          if (ch == '"' || ch == '\\') {
            sb.append('\\');
          }
          sb.append(ch);
        }
      }
      sb.append('"');
    }
    return sb.append('}').toString();
  }

  /** Bigints in binary as a primitive array; with a null among them, as a literal (NULL stays NULL). */
  private static void bindBigints(Connection c, PreparedStatement ps, int index, Object[] values)
      throws SQLException {
    long[] longs = new long[values.length];
    for (int i = 0; i < values.length; i++) {
      if (values[i] == null) {
        ps.setString(index, textArray(values));
        return;
      }
      longs[i] = ((Number) values[i]).longValue();
    }
    ps.setArray(index, c.unwrap(org.postgresql.PGConnection.class).createArrayOf("bigint", longs));
  }

  /** {@code unnest(?::t1[], ?::t2[], …)} for {@code types}. */
  public static String unnest(String... types) {
    StringBuilder sb = new StringBuilder("unnest(");
    for (int k = 0; k < types.length; k++) {
      sb.append(k == 0 ? "" : ", ").append("?::").append(types[k]).append("[]");
    }
    return sb.append(')').toString();
  }
}
