package dev.tally.identity.mail;

import dev.tally.identity.crypto.SecretBox;
import static dev.tally.identity.db.jooq.Tables.MAIL_OUTBOX;

import dev.tally.common.app.WakeableWorker;
import dev.tally.common.db.Database;
import dev.tally.identity.db.jooq.tables.records.MailOutboxRecord;
import jakarta.mail.Message;
import jakarta.mail.MessagingException;
import jakarta.mail.Session;
import jakarta.mail.Transport;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.Properties;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends queued invitation mails over SMTP and deletes each once the server accepted it. Failures are
 * retried with exponential backoff (up to {@value #MAX_ATTEMPTS} attempts); rows are claimed with
 * {@code SKIP LOCKED} so replicas can share the work. At-least-once: a crash right after the send may
 * send a mail twice, which is harmless (the link is the same).
 */
public final class MailRelay implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(MailRelay.class);
  static final int MAX_ATTEMPTS = 8;

  private final Database db;
  private final SmtpConfig smtp;
  private final SecretBox crypto;
  private final Session session;
  private final WakeableWorker worker;

  public MailRelay(Database db, SmtpConfig smtp, OutboxInvitationMailer mailer) {
    this.db = db;
    this.smtp = smtp;
    this.crypto = mailer.crypto();
    Properties p = new Properties();
    p.put("mail.smtp.host", smtp.host());
    p.put("mail.smtp.port", Integer.toString(smtp.port()));
    p.put("mail.smtp.connectiontimeout", "10000");
    p.put("mail.smtp.timeout", "10000");
    p.put("mail.smtp.writetimeout", "10000");
    p.put("mail.smtp.auth", Boolean.toString(!smtp.user().isEmpty()));
    p.put("mail.smtp.starttls.enable", Boolean.toString(smtp.startTls()));
    p.put("mail.smtp.starttls.required", Boolean.toString(smtp.startTls()));
    this.session = Session.getInstance(p);
    this.worker = new WakeableWorker("mail-relay", Duration.ofSeconds(5), this::sendOne);
  }

  public MailRelay start() {
    worker.start();
    return this;
  }

  public void wake() {
    worker.wake();
  }

  /** Sends the next due mail; false when none is due. */
  boolean sendOne() {
    return db.transactionWithoutHooks(tx -> {
      MailOutboxRecord row = tx.dsl().selectFrom(MAIL_OUTBOX)
          .where(MAIL_OUTBOX.NEXT_ATTEMPT_TIME.le(OffsetDateTime.now()), MAIL_OUTBOX.ATTEMPTS.lt(MAX_ATTEMPTS))
          .orderBy(MAIL_OUTBOX.ID).limit(1).forUpdate().skipLocked().fetchOne();
      if (row == null) {
        return false;
      }
      try {
        send(row);
        tx.dsl().deleteFrom(MAIL_OUTBOX).where(MAIL_OUTBOX.ID.eq(row.getId())).execute();
      } catch (MessagingException e) {
        int attempts = row.getAttempts() + 1;
        Duration backoff = Duration.ofSeconds(Math.min(3600, 5L << Math.min(attempts, 10)));
        log.warn("invitation mail {} to {} failed (attempt {}): {}", row.getId(), row.getRecipient(), attempts,
            e.getMessage());
        tx.dsl().update(MAIL_OUTBOX).set(MAIL_OUTBOX.ATTEMPTS, attempts)
            .set(MAIL_OUTBOX.NEXT_ATTEMPT_TIME, OffsetDateTime.now().plus(backoff))
            .set(MAIL_OUTBOX.LAST_ERROR, String.valueOf(e.getMessage()))
            .where(MAIL_OUTBOX.ID.eq(row.getId())).execute();
      }
      return true;
    });
  }

  private void send(MailOutboxRecord row) throws MessagingException {
    MimeMessage message = new MimeMessage(session);
    message.setFrom(new InternetAddress(smtp.from()));
    message.setRecipient(Message.RecipientType.TO, new InternetAddress(row.getRecipient()));
    message.setSubject(row.getSubject(), "UTF-8");
    message.setText(crypto.open(row.getBodyNonce(), row.getBodyCiphertext()), "UTF-8");
    if (smtp.user().isEmpty()) {
      Transport.send(message);
    } else {
      Transport.send(message, smtp.user(), smtp.password());
    }
  }

  @Override
  public void close() {
    worker.close();
  }
}
