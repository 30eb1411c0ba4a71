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
      ps.setArray(k + 1, c.createArrayOf(types[k], cols[k]));
    }
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
