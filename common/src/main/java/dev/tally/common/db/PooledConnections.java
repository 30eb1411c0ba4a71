package dev.tally.common.db;

import java.sql.Connection;
import java.sql.SQLException;
import javax.sql.DataSource;
import org.jooq.ConnectionProvider;
import org.jooq.exception.DataAccessException;
import org.jooq.tools.jdbc.DefaultConnection;

/**
 * Connections for jOOQ that know their isolation level. jOOQ asks a connection for it at the start of every
 * transaction, and PostgreSQL's driver answers by sending {@code SHOW TRANSACTION ISOLATION LEVEL} to the
 * server: a round trip per transaction on every path (a tenth of a small transaction's statements). The pool
 * sets every connection to READ COMMITTED when it hands it out ({@link #ISOLATION}), so the answer is known.
 */
final class PooledConnections implements ConnectionProvider {
  /** The isolation level the pool guarantees at checkout (PostgreSQL's default). */
  static final int ISOLATION = Connection.TRANSACTION_READ_COMMITTED;
  static final String ISOLATION_NAME = "TRANSACTION_READ_COMMITTED";

  private final DataSource dataSource;

  PooledConnections(DataSource dataSource) {
    this.dataSource = dataSource;
  }

  @Override
  public Connection acquire() {
    try {
      return wrap(dataSource.getConnection());
    } catch (SQLException e) {
      throw new DataAccessException("no database connection: " + e.getMessage(), e);
    }
  }

  @Override
  public void release(Connection connection) {
    try {
      connection.close(); // back to the pool
    } catch (SQLException e) {
      throw new DataAccessException("releasing a connection failed: " + e.getMessage(), e);
    }
  }

  /** {@code pooled}, answering its isolation level from what was last set on it instead of from the server. */
  static Connection wrap(Connection pooled) {
    return new KnownIsolation(pooled);
  }

  private static final class KnownIsolation extends DefaultConnection {
    private int isolation = ISOLATION;

    KnownIsolation(Connection delegate) {
      super(delegate);
    }

    @Override
    public int getTransactionIsolation() {
      return isolation;
    }

    @Override
    public void setTransactionIsolation(int level) throws SQLException {
      super.setTransactionIsolation(level);
      isolation = level;
    }
  }
}
