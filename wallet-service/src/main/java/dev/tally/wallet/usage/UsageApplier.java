package dev.tally.wallet.usage;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.tally.common.db.Idempotency;
import dev.tally.common.grpc.InputGuard;
import dev.tally.common.grpc.ProtoTime;
import dev.tally.common.kafka.TransactionalConsumer;
import dev.tally.proto.events.v1.UsageParked;
import dev.tally.proto.events.v1.UsageEvent;
import dev.tally.wallet.db.UsageLineDao;
import dev.tally.wallet.db.GrantDao;
import dev.tally.wallet.db.HoldDao;
import dev.tally.wallet.db.WalletDao;
import dev.tally.wallet.db.jooq.tables.records.HoldsRecord;
import dev.tally.wallet.db.jooq.tables.records.WalletsRecord;
import dev.tally.wallet.events.WalletEvents;
import dev.tally.wallet.ledger.Ledger;
import dev.tally.wallet.wallets.WalletBook;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.jooq.DSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies a batch of {@code usage.v1} events in the consumer's transaction: claims each event once,
 * locks the touched wallets in name order, charges each event (discount, grants before paid money, may go
 * negative), settles named holds, posts all transfers with one update per account, writes spend windows
 * once, and emits each wallet's new state. Offsets are stored by the caller in the same transaction.
 */
public final class UsageApplier implements TransactionalConsumer.BatchHandler {
  private static final Logger log = LoggerFactory.getLogger(UsageApplier.class);

  private final WalletBook book;
  private final WalletDao wallets;
  private final HoldDao holdRows = new HoldDao();
  private final GrantDao grantRows = new GrantDao();
  private final Ledger ledger;
  private final Charges charges;
  private final UsageLineDao lines;
  private final WalletEvents events;
  private final Corrections corrections;
  private final AtomicLong appliedEvents = new AtomicLong();
  private final AtomicLong duplicates = new AtomicLong();

  public UsageApplier(WalletBook book, WalletDao wallets, Ledger ledger, Charges charges, UsageLineDao lines,
      WalletEvents events) {
    this.book = book;
    this.wallets = wallets;
    this.ledger = ledger;
    this.charges = charges;
    this.lines = lines;
    this.events = events;
    this.corrections = new Corrections(charges, lines);
  }

  /** Usage events debited and duplicates absorbed, as counters. */
  public UsageApplier metrics(io.micrometer.core.instrument.MeterRegistry registry) {
    io.micrometer.core.instrument.FunctionCounter.builder("tally.usage.debited", appliedEvents, AtomicLong::get)
        .description("usage events debited exactly once").register(registry);
    io.micrometer.core.instrument.FunctionCounter.builder("tally.usage.duplicates", duplicates, AtomicLong::get)
        .description("redelivered usage events recognised and not charged again").register(registry);
    return this;
  }

  public long appliedEvents() {
    return appliedEvents.get();
  }

  public long duplicates() {
    return duplicates.get();
  }

  /** Tells the wallet's subscribers (and operators) that usage it is owed was parked. */
  @Override
  public void parked(DSLContext tx, ConsumerRecord<String, byte[]> r, String error) {
    UsageParked.Builder b = UsageParked.newBuilder().setError(error).setTopic(r.topic()).setPartition(r.partition())
        .setOffset(r.offset());
    try {
      UsageEvent e = UsageEvent.parseFrom(r.value());
      b.setUsageEventId(e.getEventId()).setCostNanos(e.getCostNanos());
    } catch (InvalidProtocolBufferException unreadable) {
      // the record's key still names the wallet
    }
    String wallet = r.key() == null ? "" : r.key();
    if (wallet.startsWith("wallets/") && InputGuard.stringProblem(wallet) == null
        && InputGuard.stringProblem(b.getUsageEventId()) == null) {
      events.usageParked(tx, wallet, b.build());
    }
  }

  @Override
  public void apply(DSLContext tx, List<ConsumerRecord<String, byte[]>> records) {
    Map<String, UsageEvent> batch = new LinkedHashMap<>();
    Map<String, byte[]> hashes = new HashMap<>();
    for (ConsumerRecord<String, byte[]> r : records) {
      UsageEvent e = TransactionalConsumer.parse(r, UsageEvent.parser(), "usage");
      dev.tally.common.money.Pricing.requireDiscountWithinCost(e.getEventId(), e.getDiscountNanos(), e.getCostNanos());
      String key = UsageLine.key(e.getBillingAccount(), e.getEventId());
      if (batch.putIfAbsent(key, e) != null) {
        duplicates.incrementAndGet(); // the same event twice in one batch: the first one counts
        continue;
      }
      hashes.put(key, Idempotency.sha256(Idempotency.deterministicBytes(e.toBuilder().clearRecordedAt().build())));
    }
    TreeSet<String> names = new TreeSet<>();
    batch.values().forEach(e -> names.add(e.getBillingAccount()));
    book.ensureAll(tx, names);
    Map<String, WalletsRecord> locked = new LinkedHashMap<>();
    List<WalletsRecord> rows = wallets.lockAll(tx, names);
    // Under the wallets' locks nobody else writes their lines: what exists now was charged before.
    Map<String, byte[]> seen = lines.existing(tx, batch.values().stream().map(UsageEvent::getBillingAccount).toList(),
        batch.values().stream().map(UsageEvent::getEventId).toList());
    seen.forEach((key, hash) -> {
      batch.remove(key);
      if (java.util.Arrays.equals(hash, hashes.get(key))) {
        duplicates.incrementAndGet();
      } else {
        log.warn("usage event {} reused with another payload; not charged", key);
      }
    });
    if (batch.isEmpty()) {
      return;
    }
    book.housekeepAll(tx, rows);
    rows.forEach(w -> locked.put(w.getName(), w));
    ChargeBatch spend = new ChargeBatch();
    spend.preloadGrants(names, grantRows.liveGrantsOf(tx, names, book.now().atOffset(java.time.ZoneOffset.UTC)));
    List<UsageLine> charged = new ArrayList<>(batch.size());
    Map<String, Long> holds = new LinkedHashMap<>();
    batch.forEach((key, e) -> {
      WalletsRecord w = locked.get(e.getBillingAccount());
      if (!e.getCorrects().isEmpty()) {
        charged.addAll(corrections.apply(tx, w, e, hashes.get(key), charged, spend, book.now()));
        return;
      }
      String member = Charges.memberSubject(w.getName(), e.getUser());
      UsageLine line = charges.charge(tx, w, new Charges.Usage(e.getEventId(), hashes.get(key), e.getCostNanos(),
          member.isEmpty() ? e.getUser() : member, e.getApiKey(), ProtoTime.instant(e.getOccurredAt()),
          e.getMeter() + (e.getModel().isEmpty() ? "" : " " + e.getModel()) + " × " + e.getQuantity(),
          e.hasDiscountNanos() ? e.getDiscountNanos() : null),
          spend, book.now());
      charged.add(line);
      if (!e.getHold().isEmpty()) {
        holds.put(e.getHold(), line.charged());
      }
    });
    Charges.Posted posted = Charges.postings(charged, book.now());
    lines.insertAll(tx, posted.lines());
    Ledger.Deferred revenue = ledger.postDeferringSystemAccounts(tx, posted.transfers());
    holds.forEach((hold, amount) -> settleHold(tx, locked, hold, amount));
    spend.flush(tx, events);
    book.afterChangeAll(tx, List.copyOf(locked.values()));
    revenue.finish(tx); // last: every batch of every wallet updates the revenue row, locked until commit
    appliedEvents.addAndGet(batch.size());
  }

  private void settleHold(DSLContext tx, Map<String, WalletsRecord> locked, String holdName, long charged) {
    String wallet = holdName.contains("/holds/") ? holdName.substring(0, holdName.indexOf("/holds/")) : "";
    WalletsRecord w = locked.get(wallet);
    if (w == null) {
      return; // a hold of another wallet is not this usage's to settle
    }
    String prefix = w.getName() + "/holds/";
    HoldsRecord hold = holdRows.requestHold(tx, w.getName(), holdName.substring(prefix.length())).orElse(null);
    if (hold != null && "pending".equals(hold.getState())) {
      holdRows.closeHold(tx, hold.getId(), "settled", charged);
      w.setHeld(w.getHeld() - hold.getAmount());
    }
  }
}
