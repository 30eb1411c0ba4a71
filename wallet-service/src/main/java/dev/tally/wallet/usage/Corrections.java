package dev.tally.wallet.usage;

import dev.tally.common.db.Idempotency;
import dev.tally.common.ids.Ids;
import dev.tally.proto.events.v1.UsageEvent;
import dev.tally.wallet.db.UsageLineDao;
import dev.tally.wallet.db.GrantDao;
import dev.tally.wallet.db.jooq.tables.records.GrantsRecord;
import dev.tally.wallet.db.jooq.tables.records.WalletsRecord;
import dev.tally.wallet.wallets.WalletBook;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.jooq.DSLContext;

/**
 * A usage correction as lines, never an edit: the reversal of what the corrected event costs the wallet now
 * (its line plus earlier corrections, summed: a void after a void reverses nothing) and, for an amendment,
 * the new cost charged in its place. Both count in the original's windows (its occurred_at); the reversal
 * gives granted credit back as a lot of its own and paid money to the paid account.
 */
final class Corrections {
  private final Charges charges;
  private final UsageLineDao lines;
  private final GrantDao grantRows = new GrantDao();

  Corrections(Charges charges, UsageLineDao lines) {
    this.charges = charges;
    this.lines = lines;
  }

  /** The lines of correction {@code e}; {@code earlier} are this batch's lines not stored yet. */
  List<UsageLine> apply(DSLContext tx, WalletsRecord w, UsageEvent e, byte[] hash, List<UsageLine> earlier,
      ChargeBatch spend, Instant now) {
    String original = e.getCorrects();
    UsageLine chain = lines.chain(tx, w.getName(), original).orElse(null);
    long[] sums = chain == null ? new long[4]
        : new long[] {chain.granted(), chain.paid(), chain.listAmount(), chain.discount()};
    for (UsageLine l : earlier) {
      if (l.wallet().equals(w.getName()) && (l.eventId().equals(original) || original.equals(l.corrects()))) {
        chain = chain == null && l.eventId().equals(original) ? l : chain;
        sums[0] += l.granted();
        sums[1] += l.paid();
        sums[2] += l.listAmount();
        sums[3] += l.discount();
      }
    }
    if (chain == null) {
      // bad data: failing isolates the record and parks it; nobody else's usage waits
      throw new IllegalArgumentException("usage event " + e.getEventId() + " corrects " + original
          + ", which " + w.getName() + " never charged");
    }
    String why = "correction of " + original + " (" + e.getCorrectionReason() + ")";
    List<UsageLine> out = new ArrayList<>(2);
    out.add(new UsageLine(w.getName(), e.getEventId(), hash, Ids.derived(now, w.getName() + "|" + e.getEventId()),
        -sums[0], -sums[1], -sums[2], -sums[3], chain.currency(), chain.member(), chain.apiKey(), why + ": reversal",
        chain.occurTime(), null, original));
    if (sums[0] > 0) {
      GrantsRecord lot = new GrantsRecord();
      lot.setId(Ids.newId());
      lot.setWallet(w.getName());
      lot.setAmount(sums[0]);
      lot.setRemaining(sums[0]);
      lot.setPriority(0);
      lot.setSource("correction");
      grantRows.insertGrant(tx, lot);
    }
    spend.add(w.getName(), WalletBook.periods(w), Charges.subjects(w.getName(), chain.member(), chain.apiKey()),
        chain.occurTime().toInstant(), -(sums[0] + sums[1]));
    if (e.getCostNanos() > 0) {
      String id = e.getEventId() + ":replacement";
      out.add(charges.charge(tx, w, new Charges.Usage(id, Idempotency.sha256(id.getBytes(StandardCharsets.UTF_8)),
          e.getCostNanos(), chain.member() == null ? "" : chain.member(), chain.apiKey() == null ? "" : chain.apiKey(),
          chain.occurTime().toInstant(), why + ": " + e.getMeter() + (e.getModel().isEmpty() ? "" : " "
              + e.getModel()) + " × " + e.getQuantity(), e.hasDiscountNanos() ? e.getDiscountNanos() : null),
          spend, now).correcting(original));
    }
    return out;
  }
}
