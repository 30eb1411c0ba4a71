package dev.tally.identity.db;

import static dev.tally.identity.db.jooq.Tables.USERS;

import dev.tally.identity.db.jooq.tables.records.UsersRecord;
import java.time.OffsetDateTime;
import java.util.Locale;
import java.util.Optional;
import org.jooq.DSLContext;

/** Users table. */
public final class UserDao {

  public Optional<UsersRecord> byId(DSLContext tx, String id) {
    return tx.selectFrom(USERS).where(USERS.ID.eq(id)).fetchOptional();
  }

  public Optional<UsersRecord> byExternalId(DSLContext tx, String externalId) {
    return tx.selectFrom(USERS).where(USERS.EXTERNAL_ID.eq(externalId)).forUpdate().fetchOptional();
  }

  public Optional<UsersRecord> byEmail(DSLContext tx, String email) {
    return tx.selectFrom(USERS).where(USERS.EMAIL_LOWER.eq(email.toLowerCase(Locale.ROOT))).fetchOptional();
  }

  public UsersRecord insert(DSLContext tx, String id, String externalId, String email, String displayName) {
    return tx.insertInto(USERS)
        .set(USERS.ID, id)
        .set(USERS.EXTERNAL_ID, externalId)
        .set(USERS.EMAIL, email)
        .set(USERS.EMAIL_LOWER, email.toLowerCase(Locale.ROOT))
        .set(USERS.DISPLAY_NAME, displayName)
        .returning()
        .fetchOne();
  }

  public UsersRecord update(DSLContext tx, String id, String email, String displayName) {
    return tx.update(USERS)
        .set(USERS.EMAIL, email)
        .set(USERS.EMAIL_LOWER, email.toLowerCase(Locale.ROOT))
        .set(USERS.DISPLAY_NAME, displayName)
        .set(USERS.UPDATE_TIME, OffsetDateTime.now())
        .where(USERS.ID.eq(id))
        .returning()
        .fetchOne();
  }
}
