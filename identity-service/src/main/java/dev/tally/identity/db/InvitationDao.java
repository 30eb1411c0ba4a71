package dev.tally.identity.db;

import static dev.tally.identity.db.jooq.Tables.INVITATIONS;

import dev.tally.identity.db.jooq.tables.records.InvitationsRecord;
import java.time.OffsetDateTime;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import org.jooq.Condition;
import org.jooq.DSLContext;
import org.jooq.impl.DSL;

/** Invitations; tokens are looked up by their keyed hash only. */
public final class InvitationDao {

  public InvitationsRecord insert(DSLContext tx, String id, String teamId, String emailLower, String role,
      byte[] tokenHash, String inviterId, OffsetDateTime expireTime) {
    return tx.insertInto(INVITATIONS)
        .set(INVITATIONS.ID, id).set(INVITATIONS.TEAM_ID, teamId).set(INVITATIONS.EMAIL_LOWER, emailLower)
        .set(INVITATIONS.ROLE, role).set(INVITATIONS.STATE, "pending").set(INVITATIONS.TOKEN_HASH, tokenHash)
        .set(INVITATIONS.INVITER_ID, inviterId).set(INVITATIONS.EXPIRE_TIME, expireTime)
        .returning().fetchOne();
  }

  /** Marks pending invitations past their expiry as expired (so a new one can be sent). */
  public void expireStale(DSLContext tx, String teamId, String emailLower) {
    tx.update(INVITATIONS).set(INVITATIONS.STATE, "expired")
        .where(INVITATIONS.TEAM_ID.eq(teamId), INVITATIONS.EMAIL_LOWER.eq(emailLower),
            INVITATIONS.STATE.eq("pending"), INVITATIONS.EXPIRE_TIME.le(OffsetDateTime.now()))
        .execute();
  }

  public boolean pendingExists(DSLContext tx, String teamId, String emailLower) {
    return tx.fetchExists(INVITATIONS, INVITATIONS.TEAM_ID.eq(teamId), INVITATIONS.EMAIL_LOWER.eq(emailLower),
        INVITATIONS.STATE.eq("pending"));
  }

  public Optional<InvitationsRecord> byId(DSLContext tx, String teamId, String id) {
    return tx.selectFrom(INVITATIONS).where(INVITATIONS.TEAM_ID.eq(teamId), INVITATIONS.ID.eq(id)).forUpdate()
        .fetchOptional();
  }

  public Optional<InvitationsRecord> byTokenHash(DSLContext tx, byte[] tokenHash) {
    return tx.selectFrom(INVITATIONS).where(INVITATIONS.TOKEN_HASH.eq(tokenHash)).forUpdate().fetchOptional();
  }

  /**
   * A team's invitations, newest first. {@code states} filters on the effective state: a pending
   * invitation past its expiry counts as expired.
   */
  public List<InvitationsRecord> list(DSLContext tx, String teamId, Collection<String> states, String beforeId,
      int limit) {
    Condition before = beforeId == null ? DSL.noCondition() : INVITATIONS.ID.lt(beforeId);
    Condition state = DSL.noCondition();
    if (!states.isEmpty()) {
      OffsetDateTime now = OffsetDateTime.now();
      Condition any = DSL.falseCondition();
      for (String s : states) {
        any = any.or(switch (s) {
          case "pending" -> INVITATIONS.STATE.eq("pending").and(INVITATIONS.EXPIRE_TIME.gt(now));
          case "expired" -> INVITATIONS.STATE.eq("expired")
              .or(INVITATIONS.STATE.eq("pending").and(INVITATIONS.EXPIRE_TIME.le(now)));
          default -> INVITATIONS.STATE.eq(s);
        });
      }
      state = any;
    }
    return tx.selectFrom(INVITATIONS).where(INVITATIONS.TEAM_ID.eq(teamId), before, state)
        .orderBy(INVITATIONS.ID.desc()).limit(limit).fetch();
  }

  public InvitationsRecord close(DSLContext tx, String id, String state) {
    return tx.update(INVITATIONS).set(INVITATIONS.STATE, state).set(INVITATIONS.CLOSE_TIME, OffsetDateTime.now())
        .where(INVITATIONS.ID.eq(id)).returning().fetchOne();
  }

  public InvitationsRecord resend(DSLContext tx, String id, byte[] tokenHash, OffsetDateTime expireTime) {
    return tx.update(INVITATIONS).set(INVITATIONS.TOKEN_HASH, tokenHash).set(INVITATIONS.EXPIRE_TIME, expireTime)
        .set(INVITATIONS.SEND_COUNT, INVITATIONS.SEND_COUNT.plus(1))
        .where(INVITATIONS.ID.eq(id)).returning().fetchOne();
  }

  /** Closes every pending invitation of a deleted team. */
  public void revokeAllPending(DSLContext tx, String teamId) {
    tx.update(INVITATIONS).set(INVITATIONS.STATE, "revoked").set(INVITATIONS.CLOSE_TIME, OffsetDateTime.now())
        .where(INVITATIONS.TEAM_ID.eq(teamId), INVITATIONS.STATE.eq("pending")).execute();
  }
}
