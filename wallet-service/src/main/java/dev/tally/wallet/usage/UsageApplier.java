package dev.tally.wallet.usage;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.tally.common.db.Idempotency;
import dev.tally.common.grpc.InputGuard;
import dev.tally.common.grpc.ProtoTime;
import dev.tally.common.kafka.TransactionalConsumer;
import dev.tally.proto.events.v1.UsageParked;
import dev.tally.proto.events.v1.UsageEvent;
import dev.tally.wallet.db.AppliedEventDao;
import dev.tally.wallet.db.WalletDao;
import dev.tally.wallet.db.jooq.tables.records.HoldsRecord;
import dev.tally.wallet.db.jooq.tables.records.WalletsRecord;
import dev.tally.wallet.events.WalletEvents;
import dev.tally.wallet.ledger.Ledger;
import dev.tally.wallet.ledger.NewTransfer;
import dev.tally.wallet.wallets.WalletBook;
import java.util.ArrayList;
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
  private final Ledger ledger;
  private final Charges charges;
  private final AppliedEventDao applied;
  private final WalletEvents events;
  private final AtomicLong appliedEvents = new AtomicLong();
  private final AtomicLong duplicates = new AtomicLong();

  public UsageApplier(WalletBook book, WalletDao wallets, Ledger ledger, Charges charges, AppliedEventDao applied,
      WalletEvents events) {
    this.book = book;
    this.wallets = wallets;
    this.ledger = ledger;
    this.charges = charges;
    this.applied = applied;
    this.events = events;
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
    Map<String, byte[]> hashes = new LinkedHashMap<>();
    for (ConsumerRecord<String, byte[]> r : records) {
      UsageEvent e = TransactionalConsumer.parse(r, UsageEvent.parser(), "usage");
      String key = e.getBillingAccount() + "|" + e.getEventId();
      byte[] hash = Idempotency.sha256(Idempotency.deterministicBytes(e.toBuilder().clearRecordedAt().build()));
      if (hashes.containsKey(key)) {
        // the same event twice in one batch: the first one counts
        duplicates.incrementAndGet();
        continue;
      }
      batch.put(key, e);
      hashes.put(key, hash);
    }
    Map<String, UsageEvent> fresh = new LinkedHashMap<>();
    applied.claimAll(tx, "usage", hashes).forEach((key, claim) -> {
      switch (claim) {
        case NEW -> fresh.put(key, batch.get(key));
        case DUPLICATE -> duplicates.incrementAndGet();
        case CONFLICT -> log.warn("usage event {} reused with another payload; not charged", key);
      }
    });
    if (fresh.isEmpty()) {
      return;
    }
    TreeSet<String> names = new TreeSet<>();
    fresh.values().forEach(e -> names.add(e.getBillingAccount()));
    book.ensureAll(tx, names);
    Map<String, WalletsRecord> locked = new LinkedHashMap<>();
    List<WalletsRecord> rows = wallets.lockAll(tx, names);
    book.housekeepAll(tx, rows);
    rows.forEach(w -> locked.put(w.getName(), w));
    ChargeBatch spend = new ChargeBatch();
    spend.preloadGrants(names, wallets.liveGrantsOf(tx, names, book.now().atOffset(java.time.ZoneOffset.UTC)));
    List<NewTransfer> transfers = new ArrayList<>();
    for (UsageEvent e : fresh.values()) {
      WalletsRecord w = locked.get(e.getBillingAccount());
      String member = Charges.memberSubject(w.getName(), e.getUser());
      Charges.Charged charged = charges.charge(tx, w, new Charges.Usage(e.getEventId(), e.getCostNanos(),
          member.isEmpty() ? e.getUser() : member, e.getApiKey(), ProtoTime.instant(e.getOccurredAt()),
          e.getMeter() + (e.getModel().isEmpty() ? "" : " " + e.getModel()) + " × " + e.getQuantity()),
          spend, book.now());
      transfers.addAll(charged.transfers());
      settleHold(tx, w, e.getHold(), charged.charged());
    }
    ledger.post(tx, transfers);
    spend.flush(tx, wallets, events);
    book.afterChangeAll(tx, List.copyOf(locked.values()));
    appliedEvents.addAndGet(fresh.size());
  }

  private void settleHold(DSLContext tx, WalletsRecord w, String holdName, long charged) {
    String prefix = w.getName() + "/holds/";
    if (holdName.isEmpty() || !holdName.startsWith(prefix)) {
      return;
    }
    HoldsRecord hold = wallets.hold(tx, w.getName(), holdName.substring(prefix.length())).orElse(null);
    if (hold != null && "pending".equals(hold.getState())) {
      wallets.closeHold(tx, hold.getId(), "settled", charged);
      w.setHeld(w.getHeld() - hold.getAmount());
    }
  }
}
