package dev.tally.wallet.db;

import dev.tally.common.db.ColumnArrays;
import dev.tally.wallet.usage.UsageLine;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.jooq.DSLContext;

/**
 * The itemized usage of wallets ({@code usage_lines}): one row per usage event, which is both the statement's
 * item and the event's exactly-once claim. Written from arrays, a fixed number of statements per batch.
 */
public final class UsageLineDao {
  private static final String COLUMNS = "wallet, usage_event_id, payload_hash, id, granted_amount, paid_amount, "
      + "list_amount, discount, currency_code, member, api_key, description, occur_time, posting, corrects";

  /** The payload hashes of the lines that already exist among {@code keys} (wallet, event id pairs). */
  public Map<String, byte[]> existing(DSLContext tx, List<String> wallets, List<String> eventIds) {
    Map<String, byte[]> out = new HashMap<>();
    if (wallets.isEmpty()) {
      return out;
    }
    tx.connection(c -> {
      try (PreparedStatement ps = c.prepareStatement("select l.wallet, l.usage_event_id, l.payload_hash from "
          + "unnest(?::text[], ?::text[]) as k(w, e) join usage_lines l on l.wallet = k.w and l.usage_event_id = k.e")) {
        ps.setArray(1, c.createArrayOf("text", wallets.toArray()));
        ps.setArray(2, c.createArrayOf("text", eventIds.toArray()));
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            out.put(UsageLine.key(rs.getString(1), rs.getString(2)), rs.getBytes(3));
          }
        }
      }
    });
    return out;
  }

  /** Inserts lines known to be new (checked under the wallets' locks) in one statement. */
  public void insertAll(DSLContext tx, List<UsageLine> lines) {
    if (lines.isEmpty()) {
      return;
    }
    String[] types = {"text", "text", "bytea", "text", "bigint", "bigint", "bigint", "bigint", "text", "text", "text",
        "text", "timestamptz", "text", "text"};
    tx.connection(c -> {
      try (PreparedStatement ps = c.prepareStatement("insert into usage_lines (" + COLUMNS + ") select * from "
          + ColumnArrays.unnest(types))) {
        ColumnArrays.bind(c, ps, types, lines, l -> new Object[] {l.wallet(), l.eventId(), l.payloadHash(), l.id(),
            l.granted(), l.paid(), l.listAmount(), l.discount(), l.currency(), l.member(), l.apiKey(), l.description(),
            l.occurTime().toString(), l.posting(), l.corrects()});
        ps.executeUpdate();
      }
    });
  }


  /**
   * What the usage of {@code wallet} that counts against {@code subject} (the wallet, a member or a key) adds
   * up to in [{@code start}, {@code end}) by occurrence time; {@code end} null for no end.
   */
  public long spent(DSLContext tx, String wallet, String subject, OffsetDateTime start, OffsetDateTime end) {
    String filter = subject.startsWith("apiKeys/") ? " and api_key = ?" : subject.equals(wallet) ? "" : " and member = ?";
    long[] sum = new long[1];
    tx.connection(c -> {
      try (PreparedStatement ps = c.prepareStatement("select coalesce(sum(granted_amount + paid_amount), 0) "
          + "from usage_lines where wallet = ? and occur_time >= ?" + (end == null ? "" : " and occur_time < ?")
          + filter)) {
        int i = 1;
        ps.setString(i++, wallet);
        ps.setObject(i++, start);
        if (end != null) {
          ps.setObject(i++, end);
        }
        if (!filter.isEmpty()) {
          ps.setString(i, subject);
        }
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          sum[0] = rs.getBigDecimal(1).longValueExact();
        }
      }
    });
    return sum[0];
  }

  /**
   * {@link #spent} for every key ({@code keys}) or every member of the wallet at once: what each spent in
   * [{@code start}, {@code end}), for those that spent anything.
   */
  public Map<String, Long> spentPerSubject(DSLContext tx, String wallet, boolean keys, OffsetDateTime start,
      OffsetDateTime end) {
    String column = keys ? "api_key" : "member";
    Map<String, Long> out = new java.util.TreeMap<>();
    tx.connection(c -> {
      try (PreparedStatement ps = c.prepareStatement("select " + column + ", sum(granted_amount + paid_amount) "
          + "from usage_lines where wallet = ? and occur_time >= ?" + (end == null ? "" : " and occur_time < ?")
          + " and " + column + " is not null group by " + column)) {
        ps.setString(1, wallet);
        ps.setObject(2, start);
        if (end != null) {
          ps.setObject(3, end);
        }
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            out.put(rs.getString(1), rs.getBigDecimal(2).longValueExact());
          }
        }
      }
    });
    return out;
  }

  /** A wallet's lines, newest first (by id), filtered like the statement. */
  public List<UsageLine> statement(DSLContext tx, String wallet, OffsetDateTime start, OffsetDateTime end,
      String member, String apiKey, String beforeId, int limit) {
    StringBuilder sql = new StringBuilder("select " + COLUMNS + " from usage_lines where wallet = ? "
        + "and (granted_amount <> 0 or paid_amount <> 0)");
    List<Object> args = new ArrayList<>(List.of(wallet));
    if (start != null) {
      sql.append(" and occur_time >= ?");
      args.add(start);
    }
    if (end != null) {
      sql.append(" and occur_time < ?");
      args.add(end);
    }
    if (!member.isEmpty()) {
      sql.append(" and member = ?");
      args.add(member);
    }
    if (!apiKey.isEmpty()) {
      sql.append(" and api_key = ?");
      args.add(apiKey);
    }
    if (beforeId != null) {
      sql.append(" and id < ?");
      args.add(beforeId);
    }
    sql.append(" order by id desc limit ?");
    args.add(limit);
    List<UsageLine> out = new ArrayList<>();
    tx.connection(c -> {
      try (PreparedStatement ps = c.prepareStatement(sql.toString())) {
        for (int i = 0; i < args.size(); i++) {
          ps.setObject(i + 1, args.get(i));
        }
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            out.add(line(rs));
          }
        }
      }
    });
    return out;
  }

  private static UsageLine line(ResultSet rs) throws SQLException {
    return new UsageLine(rs.getString(1), rs.getString(2), rs.getBytes(3), rs.getString(4), rs.getLong(5),
        rs.getLong(6), rs.getLong(7), rs.getLong(8), rs.getString(9), rs.getString(10), rs.getString(11),
        rs.getString(12), rs.getObject(13, OffsetDateTime.class), rs.getString(14), rs.getString(15));
  }

  /**
   * What {@code event} costs {@code wallet} now: its line plus every correction's lines, summed, with the
   * original line's member, key, time and currency; empty when the wallet never charged it.
   */
  public java.util.Optional<UsageLine> chain(DSLContext tx, String wallet, String event) {
    UsageLine[] out = new UsageLine[1];
    tx.connection(c -> {
      try (PreparedStatement ps = c.prepareStatement("select " + COLUMNS + " from usage_lines where wallet = ? "
          + "and (usage_event_id = ? or corrects = ?)")) {
        ps.setString(1, wallet);
        ps.setString(2, event);
        ps.setString(3, event);
        try (ResultSet rs = ps.executeQuery()) {
          UsageLine original = null;
          long[] sums = new long[4];
          while (rs.next()) {
            UsageLine l = line(rs);
            if (l.eventId().equals(event)) {
              original = l;
            }
            sums[0] = Math.addExact(sums[0], l.granted());
            sums[1] = Math.addExact(sums[1], l.paid());
            sums[2] = Math.addExact(sums[2], l.listAmount());
            sums[3] = Math.addExact(sums[3], l.discount());
          }
          if (original != null) {
            out[0] = new UsageLine(wallet, event, original.payloadHash(), original.id(), sums[0], sums[1], sums[2],
                sums[3], original.currency(), original.member(), original.apiKey(), original.description(),
                original.occurTime(), original.posting(), original.corrects());
          }
        }
      }
    });
    return java.util.Optional.ofNullable(out[0]);
  }
}
