package dev.tally.identity.db;

import static dev.tally.identity.db.jooq.Tables.API_KEYS;
import static dev.tally.identity.db.jooq.Tables.API_KEY_SECRETS;

import dev.tally.identity.db.jooq.tables.records.ApiKeysRecord;
import java.time.OffsetDateTime;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import org.jooq.Condition;
import org.jooq.DSLContext;
import org.jooq.impl.DSL;

/** API keys and their accepted secrets (keyed hashes only). */
public final class ApiKeyDao {

  /** A key found by one of its secrets, with that secret's expiry (null while current). */
  public record SecretMatch(ApiKeysRecord key, byte[] secretHash, OffsetDateTime secretExpireTime) {}

  public ApiKeysRecord insert(DSLContext tx, ApiKeysRecord key, byte[] secretHash) {
    ApiKeysRecord stored = tx.insertInto(API_KEYS).set(key).returning().fetchOne();
    tx.insertInto(API_KEY_SECRETS).set(API_KEY_SECRETS.SECRET_HASH, secretHash)
        .set(API_KEY_SECRETS.KEY_ID, stored.getId()).execute();
    return stored;
  }

  public Optional<ApiKeysRecord> byId(DSLContext tx, String id, boolean lock) {
    var q = tx.selectFrom(API_KEYS).where(API_KEYS.ID.eq(id));
    return lock ? q.forUpdate().fetchOptional() : q.fetchOptional();
  }

  /** The hot-path lookup: one primary-key probe of the secrets table joined to its key. */
  public Optional<SecretMatch> bySecretHash(DSLContext tx, byte[] secretHash) {
    return tx.select(API_KEYS.fields()).select(API_KEY_SECRETS.SECRET_HASH, API_KEY_SECRETS.EXPIRE_TIME)
        .from(API_KEY_SECRETS).join(API_KEYS).on(API_KEYS.ID.eq(API_KEY_SECRETS.KEY_ID))
        .where(API_KEY_SECRETS.SECRET_HASH.eq(secretHash))
        .fetchOptional(r -> new SecretMatch(r.into(API_KEYS), r.get(API_KEY_SECRETS.SECRET_HASH),
            r.get(API_KEY_SECRETS.EXPIRE_TIME)));
  }

  /**
   * Replaces the key's secrets: the current one expires at {@code previousExpire} (or goes now); the new one
   * is shown by {@code newPrefix}.
   */
  public ApiKeysRecord rotate(DSLContext tx, String keyId, byte[] newSecretHash, String newPrefix,
      OffsetDateTime previousExpire) {
    OffsetDateTime now = OffsetDateTime.now();
    tx.deleteFrom(API_KEY_SECRETS)
        .where(API_KEY_SECRETS.KEY_ID.eq(keyId), API_KEY_SECRETS.EXPIRE_TIME.isNotNull()).execute();
    if (previousExpire == null || !previousExpire.isAfter(now)) {
      tx.deleteFrom(API_KEY_SECRETS).where(API_KEY_SECRETS.KEY_ID.eq(keyId)).execute();
    } else {
      tx.update(API_KEY_SECRETS).set(API_KEY_SECRETS.EXPIRE_TIME, previousExpire)
          .where(API_KEY_SECRETS.KEY_ID.eq(keyId)).execute();
    }
    tx.insertInto(API_KEY_SECRETS).set(API_KEY_SECRETS.SECRET_HASH, newSecretHash)
        .set(API_KEY_SECRETS.KEY_ID, keyId).execute();
    return tx.update(API_KEYS).set(API_KEYS.ROTATE_TIME, now).set(API_KEYS.SECRET_PREFIX, newPrefix)
        .set(API_KEYS.PREVIOUS_SECRET_EXPIRE_TIME, previousExpire == null ? now : previousExpire)
        .where(API_KEYS.ID.eq(keyId)).returning().fetchOne();
  }

  public ApiKeysRecord setRestrictions(DSLContext tx, String keyId, String[] meters, String[] models) {
    return tx.update(API_KEYS).set(API_KEYS.ALLOWED_METERS, meters).set(API_KEYS.ALLOWED_MODELS, models)
        .where(API_KEYS.ID.eq(keyId)).returning().fetchOne();
  }

  public ApiKeysRecord setState(DSLContext tx, String keyId, String state, boolean archivedByMembership) {
    var update = tx.update(API_KEYS).set(API_KEYS.STATE, state)
        .set(API_KEYS.ARCHIVED_BY_MEMBERSHIP, archivedByMembership);
    if ("revoked".equals(state)) {
      update = update.set(API_KEYS.REVOKE_TIME, OffsetDateTime.now());
    }
    return update.where(API_KEYS.ID.eq(keyId)).returning().fetchOne();
  }

  /** Records a use, at most about once a minute per key (it is on the verification hot path). */
  public void touch(DSLContext tx, String keyId) {
    OffsetDateTime now = OffsetDateTime.now();
    tx.update(API_KEYS).set(API_KEYS.LAST_USE_TIME, now)
        .where(API_KEYS.ID.eq(keyId),
            API_KEYS.LAST_USE_TIME.isNull().or(API_KEYS.LAST_USE_TIME.lt(now.minusMinutes(1))))
        .execute();
  }

  public List<ApiKeysRecord> personalKeys(DSLContext tx, String ownerId, String state) {
    return tx.selectFrom(API_KEYS).where(API_KEYS.OWNER_ID.eq(ownerId), API_KEYS.KIND.eq("personal"),
        API_KEYS.STATE.eq(state)).fetch();
  }

  public List<ApiKeysRecord> teamKeysOf(DSLContext tx, String teamId, String ownerId) {
    return tx.selectFrom(API_KEYS).where(API_KEYS.TEAM_ID.eq(teamId), API_KEYS.OWNER_ID.eq(ownerId),
        API_KEYS.STATE.ne("revoked")).fetch();
  }

  public List<ApiKeysRecord> liveTeamKeys(DSLContext tx, String teamId) {
    return tx.selectFrom(API_KEYS).where(API_KEYS.TEAM_ID.eq(teamId), API_KEYS.STATE.ne("revoked")).fetch();
  }

  public int countLiveKeys(DSLContext tx, String ownerId, String teamId) {
    Condition team = teamId == null ? API_KEYS.TEAM_ID.isNull() : API_KEYS.TEAM_ID.eq(teamId);
    Condition owner = ownerId == null ? API_KEYS.OWNER_ID.isNull() : API_KEYS.OWNER_ID.eq(ownerId);
    return tx.fetchCount(API_KEYS, owner, team, API_KEYS.STATE.ne("revoked"));
  }

  /**
   * Which keys to list: a user's personal keys, or a team's keys (optionally only one owner's or one key),
   * in the given effective states (all when empty; an active key past its expiry counts as expired).
   */
  public record Filter(String ownerId, String teamId, String keyId, Collection<String> states) {
    public static Filter personalKeysOf(String ownerId, Collection<String> states) {
      return new Filter(ownerId, null, null, states);
    }

    public static Filter teamKeys(String teamId, String ownerId, String keyId, Collection<String> states) {
      return new Filter(ownerId, teamId, keyId, states);
    }

    Condition condition() {
      Condition c = teamId == null ? API_KEYS.KIND.eq("personal") : API_KEYS.TEAM_ID.eq(teamId);
      if (ownerId != null) {
        c = c.and(API_KEYS.OWNER_ID.eq(ownerId));
      }
      if (keyId != null) {
        c = c.and(API_KEYS.ID.eq(keyId));
      }
      if (!states.isEmpty()) {
        OffsetDateTime now = OffsetDateTime.now();
        Condition any = DSL.falseCondition();
        for (String s : states) {
          any = any.or(switch (s) {
            case "active" -> API_KEYS.STATE.eq("active")
                .and(API_KEYS.EXPIRE_TIME.isNull().or(API_KEYS.EXPIRE_TIME.gt(now)));
            case "expired" -> API_KEYS.STATE.eq("active").and(API_KEYS.EXPIRE_TIME.le(now));
            default -> API_KEYS.STATE.eq(s);
          });
        }
        c = c.and(any);
      }
      return c;
    }
  }

  /** Keys matching {@code filter}, newest first, before {@code beforeId}. */
  public List<ApiKeysRecord> list(DSLContext tx, Filter filter, String beforeId, int limit) {
    Condition before = beforeId == null ? DSL.noCondition() : API_KEYS.ID.lt(beforeId);
    return tx.selectFrom(API_KEYS).where(filter.condition(), before).orderBy(API_KEYS.ID.desc()).limit(limit).fetch();
  }
}
