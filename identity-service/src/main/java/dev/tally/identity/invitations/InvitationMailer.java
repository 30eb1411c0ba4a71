package dev.tally.identity.invitations;

import dev.tally.identity.db.jooq.tables.records.InvitationsRecord;
import org.jooq.DSLContext;

/** Queues the invitation mail in the invitation's transaction (a no-op when SMTP is not configured). */
public interface InvitationMailer {
  InvitationMailer NONE = (tx, invitation, teamName, acceptUrl) -> {};

  void enqueue(DSLContext tx, InvitationsRecord invitation, String teamName, String acceptUrl);
}
