package dev.tally.identity.users;

import dev.tally.common.auth.Caller;
import dev.tally.common.error.Reasons;
import dev.tally.common.error.TallyException;
import dev.tally.common.ids.Ids;
import dev.tally.common.ids.Wallets;
import dev.tally.identity.access.Names;
import dev.tally.identity.db.UserDao;
import dev.tally.identity.db.jooq.tables.records.UsersRecord;
import dev.tally.identity.events.IdentityEvents;
import dev.tally.proto.events.v1.IdentityEvent;
import dev.tally.proto.events.v1.UserUpserted;
import org.jooq.DSLContext;

/** Users as the platform's login knows them. */
public final class UserManager {
  private final UserDao users;
  private final IdentityEvents events;

  public UserManager(UserDao users, IdentityEvents events) {
    this.users = users;
    this.events = events;
  }

  public record Upserted(UsersRecord user, boolean created) {}

  /** Creates or updates the user of a platform login; only the platform's backend may call it. */
  public Upserted upsert(DSLContext tx, Caller caller, String externalId, String email, String displayName) {
    if (!caller.platform()) {
      throw TallyException.permissionDenied(Reasons.ROLE_FORBIDDEN, "only the platform registers users");
    }
    var byEmail = users.byEmail(tx, email);
    var existing = users.byExternalId(tx, externalId);
    if (byEmail.isPresent() && (existing.isEmpty() || !byEmail.get().getId().equals(existing.get().getId()))) {
      throw TallyException.alreadyExists(Reasons.EMAIL_TAKEN, "another user already has this email");
    }
    if (existing.isPresent()) {
      UsersRecord u = existing.get();
      if (u.getEmail().equals(email) && u.getDisplayName().equals(displayName)) {
        return new Upserted(u, false);
      }
      return new Upserted(users.update(tx, u.getId(), email, displayName), false);
    }
    UsersRecord created = users.insert(tx, Ids.newId(), externalId, email, displayName);
    events.publish(tx, Wallets.ofUser(created.getId()), caller, IdentityEvent.newBuilder()
        .setUserUpserted(UserUpserted.newBuilder().setUser(Names.user(created.getId()))
            .setWallet(Wallets.ofUser(created.getId()))));
    return new Upserted(created, true);
  }

  /** {@code users/me} is the caller. Users are visible to themselves and to the platform. */
  public UsersRecord get(DSLContext tx, Caller caller, String name) {
    String id = "users/me".equals(name) ? caller.userId() : Names.userId("name", name);
    if (!caller.platform() && !(caller.isUser() && caller.userId().equals(id))) {
      throw notFound(name);
    }
    return users.byId(tx, id).orElseThrow(() -> notFound(name));
  }

  private static TallyException notFound(String name) {
    return TallyException.notFound(Reasons.NOT_FOUND, "user " + name + " not found");
  }
}
