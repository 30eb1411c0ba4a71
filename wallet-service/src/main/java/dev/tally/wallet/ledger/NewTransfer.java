package dev.tally.wallet.ledger;

import java.time.OffsetDateTime;

/**
 * A transfer to post. {@code amount} moves from {@code debitAccount} to {@code creditAccount}.
 *
 * @param id time-ordered id, or an id derived from the fact it records (usage events), which makes it unique
 */
public record NewTransfer(
    String id,
    String debitAccount,
    String creditAccount,
    long amount,
    String currency,
    String code,
    String member,
    String apiKey,
    String usageEventId,
    String externalReference,
    Long listAmount,
    Long discount,
    String description,
    OffsetDateTime occurTime) {

  public NewTransfer {
    if (amount <= 0) {
      throw new IllegalArgumentException("a transfer moves a positive amount, got " + amount);
    }
    if (debitAccount.equals(creditAccount)) {
      throw new IllegalArgumentException("a transfer needs two different accounts");
    }
  }

  public static NewTransfer simple(String id, String debit, String credit, long amount, String currency, String code,
      String description, OffsetDateTime occurTime) {
    return new NewTransfer(id, debit, credit, amount, currency, code, null, null, null, null, null, null,
        description, occurTime);
  }
}
