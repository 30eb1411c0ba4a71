package dev.tally.identity.mail;

import dev.tally.identity.crypto.SecretBox;
import static dev.tally.identity.db.jooq.Tables.MAIL_OUTBOX;

import dev.tally.identity.db.jooq.tables.records.InvitationsRecord;
import dev.tally.identity.invitations.InvitationMailer;
import java.time.format.DateTimeFormatter;
import org.jooq.DSLContext;

/** Queues the invitation mail, encrypted, in the invitation's transaction; {@link MailRelay} sends it. */
public final class OutboxInvitationMailer implements InvitationMailer {
  private final SecretBox crypto;

  public OutboxInvitationMailer(String pepper) {
    this.crypto = new SecretBox("tally-mail-outbox", pepper);
  }

  @Override
  public void enqueue(DSLContext tx, InvitationsRecord invitation, String teamName, String acceptUrl) {
    String body = "You have been invited to join the team \"" + teamName + "\".\n\n"
        + "Accept the invitation: " + acceptUrl + "\n\n"
        + "The link works once and expires on "
        + invitation.getExpireTime().format(DateTimeFormatter.RFC_1123_DATE_TIME) + ".\n"
        + "If you did not expect this invitation, ignore this mail.\n";
    SecretBox.Sealed sealed = crypto.seal(body);
    tx.insertInto(MAIL_OUTBOX)
        .set(MAIL_OUTBOX.RECIPIENT, invitation.getEmailLower())
        .set(MAIL_OUTBOX.SUBJECT, "Invitation to join " + teamName)
        .set(MAIL_OUTBOX.BODY_NONCE, sealed.nonce())
        .set(MAIL_OUTBOX.BODY_CIPHERTEXT, sealed.ciphertext())
        .execute();
  }

  SecretBox crypto() {
    return crypto;
  }
}
