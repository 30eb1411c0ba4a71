package dev.tally.bench;

import dev.tally.common.app.ServiceRunner;
import dev.tally.common.db.Database;
import dev.tally.common.db.DatabaseConfig;
import dev.tally.common.embedded.EmbeddedKafkaBroker;
import dev.tally.common.embedded.EmbeddedPostgresServer;
import dev.tally.common.grpc.ProtoTime;
import dev.tally.common.grpc.ServerConfig;
import dev.tally.common.kafka.KafkaClients;
import dev.tally.common.kafka.KafkaConfig;
import dev.tally.common.kafka.Topics;
import dev.tally.proto.events.v1.UsageEvent;
import dev.tally.wallet.WalletServiceMain;
import dev.tally.wallet.config.WalletConfig;
import dev.tally.wallet.config.WalletPolicy;
import dev.tally.wallet.grpc.WalletGrpcService;
import java.io.StringReader;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.postgresql.PGConnection;

/**
 * Usage → ledger against its PostgreSQL floor, alternated in rounds in one run.
 *
 * <p>Tally: the wallet service's usage consumer debits {@code events} priced usage events already on
 * {@code usage.v1}, spread over {@code wallets} team wallets, into a fresh database each round (so every
 * round applies the same events from the start). The rate counts from the first debit to the last.
 *
 * <p>Floor: the least PostgreSQL work that records the same ledger effect on the same schema: two threads,
 * each transaction COPYs 1,000 transfers, issues one UPDATE per touched account and one offsets upsert.
 *
 * <p>Prints debited events/s, CPU ms per 1,000 events (this JVM + every PostgreSQL process, from /proc and
 * the JVM's own counter) and the ratio to the floor, per round and as medians. Arguments: events (20000),
 * wallets (1), rounds (3).
 */
public final class DebitBench {
  private static final long COST = 1_000;

  public static void main(String[] args) throws Exception {
    int events = args.length > 0 ? Integer.parseInt(args[0]) : 20_000;
    int wallets = args.length > 1 ? Integer.parseInt(args[1]) : 1;
    int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
    Path data = Files.createTempDirectory("tally-debit-bench");
    try (EmbeddedPostgresServer pg = EmbeddedPostgresServer.startEphemeral();
        EmbeddedKafkaBroker kafka = EmbeddedKafkaBroker.startLoopback(Files.createTempDirectory("bench-kafka"), true)) {
      KafkaConfig kafkaConfig = KafkaConfig.plaintext(kafka.bootstrapServers());
      String prefix = "wallets/team-bench" + System.nanoTime() + "-";
      produce(kafkaConfig, prefix, events, wallets);
      System.out.printf("debit bench: %,d events over %,d wallets, %d rounds (+1 warm-up each), load %s%n", events,
          wallets, rounds, Files.readString(Path.of("/proc/loadavg")).trim());
      List<double[]> floor = new ArrayList<>();
      List<double[]> tally = new ArrayList<>();
      for (int r = 0; r <= rounds; r++) {
        double[] f = floorRound(pg, "floor" + r, prefix, events, wallets);
        double[] t = tallyRound(pg, kafkaConfig, "tally" + r, prefix, events);
        String tag = r == 0 ? "warm-up" : "round " + r;
        System.out.printf("%-8s floor %,8.0f ev/s %6.1f cpu-ms/1k | tally %,8.0f ev/s %6.1f cpu-ms/1k | ratio %.3f%n",
            tag, f[0], f[1], t[0], t[1], t[0] / f[0]);
        if (r > 0) {
          floor.add(f);
          tally.add(t);
        }
      }
      double fr = median(floor, 0);
      double tr = median(tally, 0);
      System.out.printf("median   floor %,8.0f ev/s %6.1f cpu-ms/1k | tally %,8.0f ev/s %6.1f cpu-ms/1k | "
          + "ratio %.3f, cpu %.1f× the floor's%n", fr, median(floor, 1), tr, median(tally, 1), tr / fr,
          median(tally, 1) / median(floor, 1));
    } finally {
      data.toFile().delete();
    }
  }

  private static void produce(KafkaConfig config, String prefix, int events, int wallets) throws Exception {
    KafkaClients clients = new KafkaClients(config, null);
    clients.ensureTopics(Topics.ALL);
    try (KafkaProducer<String, byte[]> producer = clients.producer("debit-bench")) {
      List<Future<?>> sends = new ArrayList<>(events);
      Instant now = Instant.now();
      for (int i = 0; i < events; i++) {
        String account = prefix + (i % wallets);
        UsageEvent e = UsageEvent.newBuilder().setEventId("e" + i).setBillingAccount(account)
            .setApiKey("apiKeys/bench").setMeter("requests").setQuantity(1).setCostNanos(COST)
            .setCurrencyCode("USD").setOccurredAt(ProtoTime.ts(now)).setRecordedAt(ProtoTime.ts(now)).build();
        sends.add(producer.send(new ProducerRecord<>(Topics.USAGE, account, e.toByteArray())));
      }
      for (Future<?> s : sends) {
        s.get(60, TimeUnit.SECONDS);
      }
    }
  }

  /** {events/s, CPU ms per 1,000 events} of the wallet's consumer. */
  private static double[] tallyRound(EmbeddedPostgresServer pg, KafkaConfig kafka, String db, String prefix,
      int events) throws Exception {
    pg.createDatabase(db);
    DatabaseConfig config = DatabaseConfig.of(pg.jdbcUrl(db), pg.user(), pg.password(), "wallet");
    ServiceRunner runner = new ServiceRunner();
    try {
      WalletServiceMain.start(new WalletConfig(ServerConfig.ephemeral(), config, kafka, WalletPolicy.defaults(),
          "localhost:1", WalletConfig.DEV_INTERNAL_AUTH_KEY), runner, Clock.systemUTC());
      long started = waitFor(config, prefix, 1, 120);
      long jvm0 = jvmCpuNanos();
      long pg0 = postgresCpuNanos();
      long t0 = System.nanoTime();
      waitFor(config, prefix, events, 600);
      long t1 = System.nanoTime();
      long jvm1 = jvmCpuNanos();
      long pg1 = postgresCpuNanos();
      double done = events - started;
      System.out.printf("         tally cpu-ms/1k: jvm %.1f, postgresql %.1f%n", (jvm1 - jvm0) / 1e6 / (done / 1000),
          (pg1 - pg0) / 1e6 / (done / 1000));
      return new double[] {done / ((t1 - t0) / 1e9), (jvm1 - jvm0 + pg1 - pg0) / 1e6 / (done / 1000)};
    } finally {
      runner.closeAll();
    }
  }

  /**
   * Waits until {@code target} usage events are applied (the consumer's committed offsets, a row per
   * partition: polling them costs PostgreSQL nothing); returns how many there were when it returned.
   */
  private static long waitFor(DatabaseConfig config, String prefix, long target, int seconds) throws Exception {
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    try (Connection c = DriverManager.getConnection(config.url(), config.user(), config.password());
        PreparedStatement q = c.prepareStatement(
            "select coalesce(sum(next_offset), 0) from wallet.consumer_offsets where consumer_group = ?")) {
      q.setString(1, WalletGrpcService.USAGE_CONSUMER);
      while (true) {
        try (ResultSet rs = q.executeQuery()) {
          rs.next();
          long n = rs.getLong(1);
          if (n >= target) {
            return n;
          }
        } catch (java.sql.SQLException notYet) {
          // the schema is still being migrated
        }
        if (System.nanoTime() > until) {
          throw new IllegalStateException("not " + target + " debits after " + seconds + " s");
        }
        Thread.sleep(20);
      }
    }
  }

  /** {events/s, CPU ms per 1,000 events} of the floor program. */
  private static double[] floorRound(EmbeddedPostgresServer pg, String db, String prefix, int events, int wallets)
      throws Exception {
    pg.createDatabase(db);
    String url = pg.jdbcUrl(db);
    try (Database schema = Database.open(DatabaseConfig.of(url, pg.user(), pg.password(), "wallet"), "wallet", null);
        Connection c = DriverManager.getConnection(url, pg.user(), pg.password());
        Statement s = c.createStatement()) {
      s.execute("set search_path to wallet");
      s.execute("insert into accounts (id, currency_code) select '" + prefix + "' || g, 'USD' from "
          + "generate_series(0, " + (wallets - 1) + ") g");
      s.execute("insert into accounts (id, currency_code) values ('system/revenue/USD', 'USD')");
    }
    int threads = 2;
    int perTx = 1_000;
    AtomicInteger next = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    // Connections open before and closed after the measurement: an exited backend's CPU would vanish from /proc.
    List<Connection> connections = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      Connection c = DriverManager.getConnection(url, pg.user(), pg.password());
      c.setAutoCommit(false);
      try (Statement s = c.createStatement()) {
        s.execute("set search_path to wallet");
      }
      connections.add(c);
    }
    long cpu0 = cpuNanos();
    long t0 = System.nanoTime();
    List<Future<?>> work = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int partition = t;
      Connection c = connections.get(t);
      work.add(pool.submit(() -> {
        int from;
        while ((from = next.getAndAdd(perTx)) < events) {
          int to = Math.min(events, from + perTx);
          floorTransaction(c, prefix, from, to, wallets, partition);
        }
        return null;
      }));
    }
    for (Future<?> f : work) {
      f.get();
    }
    long t1 = System.nanoTime();
    long cpu1 = cpuNanos();
    pool.shutdown();
    for (Connection c : connections) {
      c.close();
    }
    return new double[] {events / ((t1 - t0) / 1e9), (cpu1 - cpu0) / 1e6 / (events / 1000.0)};
  }

  private static void floorTransaction(Connection c, String prefix, int from, int to, int wallets, int partition)
      throws Exception {
    StringBuilder rows = new StringBuilder((to - from) * 120);
    long[] debits = new long[wallets];
    String now = Instant.now().toString();
    for (int i = from; i < to; i++) {
      int w = i % wallets;
      debits[w] += COST;
      rows.append("floor-").append(i).append('\t').append(prefix).append(w).append("\tsystem/revenue/USD\t")
          .append(COST).append("\tUSD\tusage\te").append(i).append('\t').append(now).append('\n');
    }
    ((PGConnection) c.unwrap(PGConnection.class)).getCopyAPI().copyIn("copy transfers (id, debit_account, "
        + "credit_account, amount, currency_code, code, usage_event_id, occur_time) from stdin",
        new StringReader(rows.toString()));
    try (PreparedStatement u = c.prepareStatement(
        "update accounts set debits = debits + ?, credits = credits + ? where id = ?")) {
      long total = 0;
      for (int w = 0; w < wallets; w++) {
        if (debits[w] == 0) {
          continue;
        }
        total += debits[w];
        u.setBigDecimal(1, java.math.BigDecimal.valueOf(debits[w]));
        u.setBigDecimal(2, java.math.BigDecimal.ZERO);
        u.setString(3, prefix + w);
        u.addBatch();
      }
      u.setBigDecimal(1, java.math.BigDecimal.ZERO);
      u.setBigDecimal(2, java.math.BigDecimal.valueOf(total));
      u.setString(3, "system/revenue/USD");
      u.addBatch();
      u.executeBatch();
    }
    try (PreparedStatement o = c.prepareStatement("insert into consumer_offsets values ('floor', 'usage.v1', ?, ?) "
        + "on conflict (consumer_group, topic, partition_id) do update set next_offset = excluded.next_offset")) {
      o.setInt(1, partition);
      o.setLong(2, to);
      o.executeUpdate();
    }
    c.commit();
  }

  /** CPU time of this JVM plus every PostgreSQL process on the machine. */
  private static long cpuNanos() {
    return jvmCpuNanos() + postgresCpuNanos();
  }

  private static long jvmCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }

  private static long postgresCpuNanos() {
    long ticks = ProcessHandle.allProcesses().filter(DebitBench::isPostgres).mapToLong(DebitBench::ticks).sum();
    return ticks * 10_000_000L; // USER_HZ = 100 on Linux
  }

  private static boolean isPostgres(ProcessHandle p) {
    try {
      return Files.readString(Path.of("/proc", Long.toString(p.pid()), "comm")).trim().equals("postgres");
    } catch (Exception gone) {
      return false;
    }
  }

  private static long ticks(ProcessHandle p) {
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(p.pid()), "stat"));
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime, stime
    } catch (Exception gone) {
      return 0;
    }
  }

  private static double median(List<double[]> rows, int column) {
    double[] v = rows.stream().mapToDouble(r -> r[column]).toArray();
    Arrays.sort(v);
    return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  }
}
