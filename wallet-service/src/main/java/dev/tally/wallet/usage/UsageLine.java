package dev.tally.wallet.usage;

import dev.tally.wallet.db.jooq.tables.records.TransfersRecord;
import dev.tally.wallet.ledger.Accounts;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;

/**
 * What one usage event cost a wallet: the statement's item for it and its exactly-once claim. Its money
 * reaches the ledger in the batch's postings ({@code posting} names them), never as a transfer of its own.
 *
 * @param id time-ordered id (from the event's occurred_at) that places the line in the statement
 * @param granted the part paid from granted credit
 * @param paid the part paid from paid money (may take the balance below zero)
 * @param corrects for a correction's lines, the event corrected (amounts of a reversal are negative)
 */
public record UsageLine(String wallet, String eventId, byte[] payloadHash, String id, long granted, long paid,
    long listAmount, long discount, String currency, String member, String apiKey, String description,
    OffsetDateTime occurTime, String posting, String corrects) {

  /** The net amount charged (after discount). */
  public long charged() {
    return granted + paid;
  }

  public String key() {
    return key(wallet, eventId);
  }

  public static String key(String wallet, String eventId) {
    return wallet + "|" + eventId;
  }

  /**
   * The line as the statement shows it: one item per part (paid money, granted credit), like a transfer of
   * its own; the granted part's id sorts just after the paid part's.
   */
  public List<TransfersRecord> statementItems() {
    List<TransfersRecord> out = new ArrayList<>(2);
    if (granted != 0) {
      out.add(item(id + "-granted", Accounts.granted(wallet), granted, "granted credit: " + description,
          paid == 0 ? listAmount : null, paid == 0 ? discount : null));
    }
    if (paid != 0) {
      out.add(item(id, Accounts.paid(wallet), paid, description, listAmount, discount));
    }
    return out;
  }

  /** A part as a statement item; a reversal's (negative) part is money going back to the wallet's account. */
  private TransfersRecord item(String itemId, String account, long amount, String text, Long list, Long off) {
    TransfersRecord r = new TransfersRecord();
    r.setId(itemId);
    r.setDebitAccount(amount > 0 ? account : Accounts.revenue(currency));
    r.setCreditAccount(amount > 0 ? Accounts.revenue(currency) : account);
    r.setAmount(Math.abs(amount));
    r.setCurrencyCode(currency);
    r.setCode("usage");
    r.setMember(member);
    r.setApiKey(apiKey);
    r.setUsageEventId(eventId);
    r.setListAmount(list);
    r.setDiscount(off);
    r.setDescription(text);
    r.setOccurTime(occurTime);
    return r;
  }

  UsageLine withPosting(String posting) {
    return new UsageLine(wallet, eventId, payloadHash, id, granted, paid, listAmount, discount, currency, member,
        apiKey, description, occurTime, posting, corrects);
  }

  /** The same line as part of a correction of {@code event}. */
  public UsageLine correcting(String event) {
    return new UsageLine(wallet, eventId, payloadHash, id, granted, paid, listAmount, discount, currency, member,
        apiKey, description, occurTime, posting, event);
  }
}
