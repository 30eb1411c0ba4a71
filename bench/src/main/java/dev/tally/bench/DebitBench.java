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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
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
 * <p>For each wallet count: one floor database and one Tally database, created (and, with {@code prefill},
 * filled with that many past usage events) once; then warm-up and measured rounds alternate floor and
 * Tally on them, each round with {@code events} new events spread over the wallets.
 *
 * <p>Tally: the events are put on {@code usage.v1} first, then the wallet service is started on its
 * database and debits them (the rate counts from its first debit to its last; the JVM stays warm across
 * rounds, the service is restarted). Floor: the least PostgreSQL work that records the same ledger effect on
 * the same schema: two threads, each transaction COPYs 1,000 transfers, one UPDATE per touched account and
 * one offsets upsert.
 *
 * <p>Prints debited events/s, CPU ms per 1,000 events (this JVM + every PostgreSQL process, from /proc and
 * the JVM's own counter) and the ratio to the floor, per round and as medians. Arguments: events per round
 * (20000), rounds (3), wallet counts (1,1000,10000), events already stored (0; a list like 0,10000000 measures
 * each, and prints the prefilled rates relative to the empty ones).
 */
public final class DebitBench {
  private static final long COST = 1_000;

  public static void main(String[] args) throws Exception {
    int events = args.length > 0 ? Integer.parseInt(args[0]) : 20_000;
    int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
    int[] walletCounts = Arrays.stream((args.length > 2 ? args[2] : "1,1000,10000").split(","))
        .mapToInt(Integer::parseInt).toArray();
    long[] prefills = Arrays.stream((args.length > 3 ? args[3] : "0").split(",")).mapToLong(Long::parseLong).toArray();
    List<String> summary = new ArrayList<>();
    System.out.printf("debit bench: %,d events per round, %d rounds (+1 warm-up)%n", events, rounds);
    try (EmbeddedPostgresServer pg = EmbeddedPostgresServer.startEphemeral();
        EmbeddedKafkaBroker kafka = EmbeddedKafkaBroker.startLoopback(Files.createTempDirectory("bench-kafka"), true)) {
      KafkaConfig kafkaConfig = KafkaConfig.plaintext(kafka.bootstrapServers());
      new KafkaClients(kafkaConfig, null).ensureTopics(Topics.ALL);
      for (int wallets : walletCounts) {
        // Every configuration of this wallet count is prepared first and their rounds interleave, so an
        // empty and a prefilled database are compared under the same machine load.
        List<Config> configs = new ArrayList<>();
        for (long prefill : prefills) {
          configs.add(prepareConfig(pg, kafkaConfig, wallets, prefill));
        }
        for (int r = 0; r <= rounds; r++) {
          for (Config c : configs) {
            double[] f = floorRound(pg, c.floorDb, c.prefix, "p" + c.prefill + "r" + r, events, wallets);
            double[] t = tallyRound(pg, kafkaConfig, c.tallyDb, c.prefix, "p" + c.prefill + "r" + r, events, wallets);
            System.out.printf("%-8s w=%d stored=%,d: floor %,8.0f ev/s %6.1f cpu-ms/1k | tally %,8.0f ev/s %6.1f "
                + "cpu-ms/1k (jvm %.1f, postgresql %.1f) | ratio %.3f%n", r == 0 ? "warm-up" : "round " + r, wallets,
                c.prefill, f[0], f[1], t[0], t[1], t[2], t[3], t[0] / f[0]);
            if (r > 0) {
              c.floor.add(f);
              c.tally.add(t);
            }
          }
        }
        Config empty = configs.getFirst();
        for (Config c : configs) {
          double fr = median(c.floor, 0);
          double tr = median(c.tally, 0);
          String line = String.format("wallets %,6d, stored %,10d: floor %,8.0f ev/s %6.1f cpu-ms/1k | tally %,8.0f "
              + "ev/s %6.1f cpu-ms/1k | ratio %.3f, cpu %.1f× the floor's", wallets, c.prefill, fr,
              median(c.floor, 1), tr, median(c.tally, 1), tr / fr, median(c.tally, 1) / median(c.floor, 1));
          if (c != empty) {
            line += String.format(" | vs stored %,d: tally %.2f, floor %.2f", empty.prefill,
                tr / median(empty.tally, 0), fr / median(empty.floor, 0));
          }
          System.out.println("median   " + line);
          summary.add(line);
          drop(pg, c.floorDb);
          drop(pg, c.tallyDb);
        }
      }
    }
    System.out.println("summary (medians), load " + Files.readString(Path.of("/proc/loadavg")).trim());
    summary.forEach(l -> System.out.println("  " + l));
  }

  /** One measured configuration: a floor and a Tally database with the same wallets and history. */
  private record Config(long prefill, String prefix, String floorDb, String tallyDb, List<double[]> floor,
      List<double[]> tally) {}

  private static Config prepareConfig(EmbeddedPostgresServer pg, KafkaConfig kafkaConfig, int wallets, long prefill)
      throws Exception {
    Config c = new Config(prefill, "wallets/team-bench" + wallets + "x", "floor" + wallets + "p" + prefill,
        "tally" + wallets + "p" + prefill, new ArrayList<>(), new ArrayList<>());
    prepare(pg, c.floorDb, c.prefix, wallets, prefill, true);
    prepare(pg, c.tallyDb, c.prefix, wallets, prefill, false);
    System.out.printf("prepared: %,d wallets, %,d events stored before, load %s%n", wallets, prefill,
        Files.readString(Path.of("/proc/loadavg")).trim());
    return c;
  }

  /** Frees the disk of a measured configuration (10M rows are gigabytes). */
  private static void drop(EmbeddedPostgresServer pg, String db) throws Exception {
    try (Connection c = DriverManager.getConnection(pg.jdbcUrl("postgres"), pg.user(), pg.password());
        Statement s = c.createStatement()) {
      s.execute("drop database " + db + " with (force)");
    }
  }

  /** A migrated database with the wallets, their accounts and {@code prefill} past usage events. */
  private static void prepare(EmbeddedPostgresServer pg, String db, String prefix, int wallets, long prefill,
      boolean floor) throws Exception {
    pg.createDatabase(db);
    String url = pg.jdbcUrl(db);
    try (Database schema = Database.open(DatabaseConfig.of(url, pg.user(), pg.password(), "wallet"), "wallet", null);
        Connection c = DriverManager.getConnection(url, pg.user(), pg.password());
        Statement s = c.createStatement()) {
      s.execute("set search_path to wallet");
      s.execute("insert into wallets (name, owner, currency_code, suspend_threshold) select '" + prefix + "' || g, "
          + "'teams/bench" + wallets + "x' || g, 'USD', 50000000 from generate_series(0, " + (wallets - 1) + ") g");
      s.execute("insert into accounts (id, currency_code) select '" + prefix + "' || g || k, 'USD' from "
          + "generate_series(0, " + (wallets - 1) + ") g, unnest(array['', '/granted']) k");
      s.execute("insert into accounts (id, currency_code) values ('system/revenue/USD', 'USD')");
      if (prefill > 0) {
        long t0 = System.nanoTime();
        s.execute("set session_replication_role = replica"); // bulk history: no foreign-key triggers
        if (floor) {
          s.execute("insert into transfers (id, debit_account, credit_account, amount, currency_code, code, "
              + "usage_event_id, occur_time, create_time) select 'old-' || lpad(g::text, 12, '0'), '" + prefix
              + "' || (g % " + wallets + "), 'system/revenue/USD', " + COST + ", 'USD', 'usage', 'old' || g, "
              + "now() - interval '30 days', now() - interval '30 days' from generate_series(1, " + prefill + ") g");
        } else {
          s.execute("insert into usage_lines (wallet, usage_event_id, payload_hash, id, granted_amount, paid_amount, "
              + "list_amount, discount, currency_code, api_key, description, occur_time, posting, create_time) "
              + "select '" + prefix + "' || (g % " + wallets + "), 'old' || g, sha256(g::text::bytea), "
              + "'0000' || lpad(g::text, 12, '0'), 0, " + COST + ", " + COST + ", 0, 'USD', 'apiKeys/bench', "
              + "'requests × 1', now() - interval '30 days', 'old-posting-' || (g % " + wallets + "), "
              + "now() - interval '30 days' from generate_series(1, " + prefill + ") g");
          s.execute("insert into transfers (id, debit_account, credit_account, amount, currency_code, code, "
              + "description, occur_time) select posting || '-paid', wallet, 'system/revenue/USD', sum(paid_amount), "
              + "'USD', 'usage', 'usage: history', now() - interval '30 days' from usage_lines group by wallet, posting");
        }
        s.execute("update accounts a set debits = t.s from (select debit_account, sum(amount) s from transfers "
            + "group by 1) t where a.id = t.debit_account");
        s.execute("update accounts set credits = (select sum(amount) from transfers) where id = 'system/revenue/USD'");
        s.execute("vacuum analyze");
        System.out.printf("prepared %s: %,d past events in %.0f s%n", db, prefill, (System.nanoTime() - t0) / 1e9);
      }
    }
  }

  /** The wallet's consumer offsets at the topic's current end: each round debits only its own events. */
  private static void startAtTopicEnd(EmbeddedPostgresServer pg, String db, KafkaConfig kafka) throws Exception {
    try (var consumer = new KafkaClients(kafka, null).consumer("bench-offsets", null);
        Connection c = DriverManager.getConnection(pg.jdbcUrl(db), pg.user(), pg.password());
        PreparedStatement o = c.prepareStatement("insert into wallet.consumer_offsets values (?, ?, ?, ?) "
            + "on conflict (consumer_group, topic, partition_id) do update set next_offset = excluded.next_offset")) {
      var partitions = consumer.partitionsFor(Topics.USAGE).stream()
          .map(p -> new org.apache.kafka.common.TopicPartition(Topics.USAGE, p.partition())).toList();
      for (var e : consumer.endOffsets(partitions).entrySet()) {
        o.setString(1, WalletGrpcService.USAGE_CONSUMER);
        o.setString(2, Topics.USAGE);
        o.setInt(3, e.getKey().partition());
        o.setLong(4, e.getValue());
        o.executeUpdate();
      }
    }
  }

  private static void produce(KafkaConfig config, String prefix, String round, int events, int wallets)
      throws Exception {
    try (KafkaProducer<String, byte[]> producer = new KafkaClients(config, null).producer("debit-bench")) {
      List<Future<?>> sends = new ArrayList<>(events);
      Instant now = Instant.now();
      for (int i = 0; i < events; i++) {
        String account = prefix + (i % wallets);
        UsageEvent e = UsageEvent.newBuilder().setEventId(round + "e" + i).setBillingAccount(account)
            .setApiKey("apiKeys/bench").setMeter("requests").setQuantity(1).setCostNanos(COST)
            .setCurrencyCode("USD").setOccurredAt(ProtoTime.ts(now)).setRecordedAt(ProtoTime.ts(now)).build();
        sends.add(producer.send(new ProducerRecord<>(Topics.USAGE, account, e.toByteArray())));
      }
      for (Future<?> s : sends) {
        s.get(60, TimeUnit.SECONDS);
      }
    }
  }

  /** {events/s, CPU ms per 1,000 events} of the wallet's consumer on this round's events. */
  private static double[] tallyRound(EmbeddedPostgresServer pg, KafkaConfig kafka, String db, String prefix,
      String round, int events, int wallets) throws Exception {
    DatabaseConfig config = DatabaseConfig.of(pg.jdbcUrl(db), pg.user(), pg.password(), "wallet");
    startAtTopicEnd(pg, db, kafka); // other configurations' rounds put their events on the same topic
    long before = applied(config);
    produce(kafka, prefix, round, events, wallets);
    ServiceRunner runner = new ServiceRunner();
    try {
      WalletServiceMain.start(new WalletConfig(ServerConfig.ephemeral(), config, kafka, WalletPolicy.defaults(),
          "localhost:1", WalletConfig.DEV_INTERNAL_AUTH_KEY), runner, Clock.systemUTC());
      long started = waitFor(config, before + 1, 120);
      Cpu cpu0 = Cpu.now();
      long t0 = System.nanoTime();
      waitFor(config, before + events, 600);
      long t1 = System.nanoTime();
      Cpu cpu1 = Cpu.now();
      double done = before + events - started;
      return new double[] {done / ((t1 - t0) / 1e9), cpu1.since(cpu0) / 1e6 / (done / 1000),
          cpu1.jvmSince(cpu0) / 1e6 / (done / 1000), cpu1.postgresSince(cpu0) / 1e6 / (done / 1000)};
    } finally {
      runner.closeAll();
    }
  }

  private static long applied(DatabaseConfig config) throws Exception {
    return waitFor(config, 0, 10);
  }

  /**
   * Waits until the consumer's committed offsets (a row per partition: polling them costs PostgreSQL nothing)
   * add up to {@code target}; returns what they added up to when it returned.
   */
  private static long waitFor(DatabaseConfig config, long target, int seconds) throws Exception {
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
        }
        if (System.nanoTime() > until) {
          throw new IllegalStateException("not " + target + " events applied after " + seconds + " s");
        }
        Thread.sleep(5);
      }
    }
  }

  /** {events/s, CPU ms per 1,000 events} of the floor program. */
  private static double[] floorRound(EmbeddedPostgresServer pg, String db, String prefix, String round, int events,
      int wallets) throws Exception {
    String url = pg.jdbcUrl(db);
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
    Cpu cpu0 = Cpu.now();
    long t0 = System.nanoTime();
    List<Future<?>> work = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int partition = t;
      Connection c = connections.get(t);
      work.add(pool.submit(() -> {
        int from;
        while ((from = next.getAndAdd(perTx)) < events) {
          int to = Math.min(events, from + perTx);
          floorTransaction(c, prefix, round, from, to, wallets, partition);
        }
        return null;
      }));
    }
    for (Future<?> f : work) {
      f.get();
    }
    long t1 = System.nanoTime();
    Cpu cpu1 = Cpu.now();
    pool.shutdown();
    for (Connection c : connections) {
      c.close();
    }
    return new double[] {events / ((t1 - t0) / 1e9), cpu1.since(cpu0) / 1e6 / (events / 1000.0)};
  }

  private static void floorTransaction(Connection c, String prefix, String round, int from, int to, int wallets,
      int partition) throws Exception {
    StringBuilder rows = new StringBuilder((to - from) * 120);
    long[] debits = new long[wallets];
    String now = Instant.now().toString();
    for (int i = from; i < to; i++) {
      int w = i % wallets;
      debits[w] += COST;
      rows.append("floor-").append(round).append('-').append(i).append('\t').append(prefix).append(w)
          .append("\tsystem/revenue/USD\t").append(COST).append("\tUSD\tusage\te").append(i).append('\t')
          .append(now).append('\n');
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

  /**
   * CPU of this JVM and of PostgreSQL between two snapshots: per process, so a backend that exits between
   * them (another database's pool closing) does not subtract its whole life; one started in between counts
   * whole.
   */
  record Cpu(long jvm, Map<Long, Long> postgres) {
    static Cpu now() {
      Map<Long, Long> pg = new HashMap<>();
      ProcessHandle.allProcesses().filter(DebitBench::isPostgres).forEach(p -> pg.put(p.pid(), ticks(p)));
      return new Cpu(jvmCpuNanos(), pg);
    }

    long jvmSince(Cpu start) {
      return jvm - start.jvm;
    }

    long postgresSince(Cpu start) {
      long ticks = 0;
      for (var e : postgres.entrySet()) {
        ticks += e.getValue() - start.postgres.getOrDefault(e.getKey(), 0L);
      }
      return ticks * 10_000_000L; // USER_HZ = 100 on Linux
    }

    long since(Cpu start) {
      return jvmSince(start) + postgresSince(start);
    }
  }

  private static long jvmCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
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
