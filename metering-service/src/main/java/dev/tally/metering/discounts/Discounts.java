package dev.tally.metering.discounts;

import static dev.tally.metering.db.jooq.Tables.DISCOUNTS;

import dev.tally.common.kafka.TransactionalConsumer;
import dev.tally.proto.events.v1.WalletEvent;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.jooq.DSLContext;

/**
 * Team discounts as the wallet publishes them (its state events on wallet.v1 carry the discount and a
 * version per wallet), so usage is priced net once, when it is recorded: the event carries the discount,
 * the wallet debits exactly that and the rollups count exactly that. A change applies to usage recorded
 * after it reaches metering (the consumer's lag, typically well under a second).
 */
public final class Discounts {

  /** Keeps the newest discount of each wallet in a batch of wallet.v1 events (older versions lose). */
  public void apply(DSLContext tx, List<ConsumerRecord<String, byte[]>> records) {
    Map<String, WalletEvent> newest = new TreeMap<>();
    for (ConsumerRecord<String, byte[]> r : records) {
      WalletEvent e = TransactionalConsumer.parse(r, WalletEvent.parser(), "wallet");
      if (!e.hasStateChanged()) {
        continue;
      }
      WalletEvent held = newest.get(e.getWallet());
      if (held == null || held.getStateChanged().getVersion() < e.getStateChanged().getVersion()) {
        newest.put(e.getWallet(), e);
      }
    }
    for (WalletEvent e : newest.values()) {
      tx.insertInto(DISCOUNTS).set(DISCOUNTS.BILLING_ACCOUNT, e.getWallet())
          .set(DISCOUNTS.BASIS_POINTS, e.getStateChanged().getDiscountBasisPoints())
          .set(DISCOUNTS.VERSION, e.getStateChanged().getVersion())
          .onConflict(DISCOUNTS.BILLING_ACCOUNT).doUpdate()
          .set(DISCOUNTS.BASIS_POINTS, e.getStateChanged().getDiscountBasisPoints())
          .set(DISCOUNTS.VERSION, e.getStateChanged().getVersion())
          .where(DISCOUNTS.VERSION.lt(e.getStateChanged().getVersion()))
          .execute();
    }
  }

  /** The discounts (basis points) of {@code accounts} that have one, in one read. */
  public Map<String, Integer> of(DSLContext tx, Collection<String> accounts) {
    Map<String, Integer> out = new HashMap<>();
    tx.select(DISCOUNTS.BILLING_ACCOUNT, DISCOUNTS.BASIS_POINTS).from(DISCOUNTS)
        .where(DISCOUNTS.BILLING_ACCOUNT.in(accounts)).forEach(r -> out.put(r.value1(), r.value2()));
    return out;
  }
}
