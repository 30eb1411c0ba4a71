package dev.tally.wallet.usage;

import dev.tally.common.db.Idempotency;
import dev.tally.wallet.db.UsageLineDao;
import dev.tally.wallet.db.jooq.tables.records.HoldsRecord;
import dev.tally.wallet.db.jooq.tables.records.WalletsRecord;
import dev.tally.wallet.events.WalletEvents;
import dev.tally.wallet.ledger.Ledger;
import dev.tally.wallet.wallets.ExpiredHolds;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import org.jooq.DSLContext;

/**
 * {@code TALLY_HOLD_EXPIRY=charge}: a hold whose usage never arrived is charged at its estimate when it
 * expires, as a usage line of its own ("hold … expired without usage") counted against the same limits —
 * for platforms that serve first and whose usage reports can be lost.
 */
public final class ChargeExpiredHolds implements ExpiredHolds {
  private final Charges charges;
  private final UsageLineDao lines;
  private final Ledger ledger;
  private final WalletEvents events;
  private final Clock clock;

  public ChargeExpiredHolds(Charges charges, UsageLineDao lines, Ledger ledger, WalletEvents events, Clock clock) {
    this.charges = charges;
    this.lines = lines;
    this.ledger = ledger;
    this.events = events;
    this.clock = clock;
  }

  @Override
  public boolean expired(DSLContext tx, WalletsRecord w, List<HoldsRecord> holds) {
    ChargeBatch spend = new ChargeBatch();
    List<UsageLine> charged = new ArrayList<>();
    for (HoldsRecord h : holds) {
      if (h.getAmount() == 0) {
        continue;
      }
      String id = "hold-expired-" + h.getId();
      charged.add(charges.charge(tx, w, new Charges.Usage(id, Idempotency.sha256(id.getBytes(StandardCharsets.UTF_8)),
          h.getAmount(), h.getMember(), h.getApiKey(), h.getExpireTime().toInstant(),
          "hold " + h.getId() + " expired without usage: its estimate is charged", 0L), spend, clock.instant()));
    }
    Charges.Posted posted = Charges.postings(charged, clock.instant());
    lines.insertAll(tx, posted.lines());
    ledger.post(tx, posted.transfers());
    spend.flush(tx, events);
    return true;
  }
}
