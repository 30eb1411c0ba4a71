package dev.tally.identity.keys;

import dev.tally.common.auth.Caller;
import dev.tally.common.error.Reasons;
import dev.tally.common.error.TallyException;
import dev.tally.common.ids.Ids;
import dev.tally.common.ids.PageTokens;
import dev.tally.common.ids.Wallets;
import dev.tally.identity.access.Access;
import dev.tally.identity.access.Names;
import dev.tally.identity.audit.AuditLog;
import dev.tally.identity.config.IdentityPolicy;
import dev.tally.identity.db.ApiKeyDao;
import dev.tally.identity.db.TeamDao;
import dev.tally.identity.db.jooq.tables.records.ApiKeysRecord;
import dev.tally.identity.events.IdentityEvents;
import dev.tally.proto.events.v1.ApiKeyCreated;
import dev.tally.proto.events.v1.ApiKeyRotated;
import dev.tally.proto.events.v1.ApiKeyStateChanged;
import dev.tally.proto.events.v1.IdentityEvent;
import dev.tally.proto.identity.v1.ApiKeyKind;
import dev.tally.proto.identity.v1.Permission;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.jooq.DSLContext;

/** API keys: creation (secret shown once), listing, revocation, rotation with grace, verification. */
public final class ApiKeyManager {
  private final ApiKeyDao keys;
  private final TeamDao teams;
  private final Access access;
  private final Secrets secrets;
  private final AuditLog audit;
  private final IdentityEvents events;
  private final IdentityPolicy policy;

  public ApiKeyManager(ApiKeyDao keys, TeamDao teams, Access access, Secrets secrets, AuditLog audit,
      IdentityEvents events, IdentityPolicy policy) {
    this.keys = keys;
    this.teams = teams;
    this.access = access;
    this.secrets = secrets;
    this.audit = audit;
    this.events = events;
    this.policy = policy;
  }

  public record Created(ApiKeysRecord key, String secret) {}

  public record Page(List<ApiKeysRecord> keys, String nextPageToken) {}

  /** What a verified secret stands for. */
  /**
   * What a verified secret stands for; {@code validUntil} is when this answer stops being true by itself
   * (the key's expiry, or a rotated-out secret's grace end), {@code null} when never.
   */
  public record Verified(ApiKeysRecord key, String user, String team, String billingAccount, String role,
      Set<Permission> permissions, OffsetDateTime validUntil) {}

  public Created create(DSLContext tx, Caller caller, ApiKeyKind kind, String teamName, String displayName,
      OffsetDateTime expireTime) {
    String userId = caller.userId();
    ApiKeysRecord key = new ApiKeysRecord();
    key.setId(Ids.newId());
    key.setCreatorId(userId);
    key.setDisplayName(displayName.strip());
    key.setExpireTime(expireTime);
    key.setState("active");
    switch (kind) {
      case API_KEY_KIND_PERSONAL -> {
        if (!teamName.isEmpty()) {
          throw TallyException.invalidArgument("team", "must be empty for a personal key");
        }
        if (policy.archivePersonalKeysOnJoin() && teams.membershipCount(tx, userId) > 0) {
          throw TallyException.failedPrecondition(Reasons.PERSONAL_KEYS_ARCHIVED,
              "personal keys are archived while you belong to a team");
        }
        key.setKind("personal");
        key.setOwnerId(userId);
      }
      case API_KEY_KIND_TEAM, API_KEY_KIND_SERVICE -> {
        if (teamName.isEmpty()) {
          throw TallyException.invalidArgument("team", "is required for team and service keys");
        }
        String teamId = Names.teamId("team", teamName);
        boolean service = kind == ApiKeyKind.API_KEY_KIND_SERVICE;
        access.require(tx, caller, teamId,
            service ? Permission.PERMISSION_KEYS_MANAGE_ALL : Permission.PERMISSION_KEYS_MANAGE_OWN);
        key.setKind(service ? "service" : "team");
        key.setTeamId(teamId);
        key.setOwnerId(service ? null : userId);
      }
      default -> throw TallyException.invalidArgument("kind", "must be personal, team or service");
    }
    return issue(tx, caller, key, Map.of());
  }

  /**
   * The team key a member gets on joining when the deployment assigns one (the Algorithmia policy): owned by
   * the member, labelled so, revoked with the member's other team keys when they leave or are removed.
   */
  public Created assignOnJoin(DSLContext tx, Caller caller, String teamId, String userId) {
    ApiKeysRecord key = new ApiKeysRecord();
    key.setId(Ids.newId());
    key.setCreatorId(userId);
    key.setOwnerId(userId);
    key.setTeamId(teamId);
    key.setKind("team");
    key.setDisplayName(ASSIGNED_ON_JOIN_LABEL);
    key.setState("active");
    return issue(tx, caller, key, Map.of("assigned_on_join", "true"));
  }

  /** The label of a key assigned on joining. */
  public static final String ASSIGNED_ON_JOIN_LABEL = "Assigned on joining";

  private Created issue(DSLContext tx, Caller caller, ApiKeysRecord key, Map<String, String> extraAudit) {
    if (keys.countLiveKeys(tx, key.getOwnerId(), key.getTeamId()) >= policy.maxKeysPerOwner()) {
      throw TallyException.failedPrecondition(Reasons.KEY_LIMIT_REACHED,
          "at most " + policy.maxKeysPerOwner() + " live keys per owner");
    }
    String secret = secrets.newApiKeySecret();
    key.setSecretPrefix(Secrets.shownPrefix(secret));
    ApiKeysRecord stored = keys.insert(tx, key, secrets.hash(secret));
    Map<String, String> details = new java.util.HashMap<>(extraAudit);
    details.putAll(Map.of("kind", stored.getKind(), "label", stored.getDisplayName(), "prefix",
        stored.getSecretPrefix()));
    audit.record(tx, scope(stored), caller, "api_key.create", Names.apiKey(stored.getId()), details);
    events.publish(tx, billingAccount(stored), caller, IdentityEvent.newBuilder().setApiKeyCreated(
        ApiKeyCreated.newBuilder().setApiKey(Names.apiKey(stored.getId())).setKind(stored.getKind())
            .setOwner(stored.getOwnerId() == null ? "" : Names.user(stored.getOwnerId()))
            .setTeam(stored.getTeamId() == null ? "" : Names.team(stored.getTeamId()))
            .setBillingAccount(billingAccount(stored))));
    return new Created(stored, secret);
  }

  public ApiKeysRecord get(DSLContext tx, Caller caller, String name) {
    ApiKeysRecord key = keys.byId(tx, Names.apiKeyId("name", name), false).orElseThrow(() -> notFound(name));
    if (!canSee(tx, caller, key)) {
      throw notFound(name);
    }
    return key;
  }

  public Page list(DSLContext tx, Caller caller, String teamName, Collection<String> states, String pageToken,
      int pageSize) {
    ApiKeyDao.Filter filter;
    String list;
    if (teamName.isEmpty()) {
      filter = ApiKeyDao.Filter.personalKeysOf(caller.userId(), states);
      list = "keys:" + caller.userId();
    } else {
      String teamId = Names.teamId("team", teamName);
      Access.Membership m = access.of(tx, caller, teamId);
      if (m.has(Permission.PERMISSION_KEYS_MANAGE_ALL)) {
        filter = ApiKeyDao.Filter.teamKeys(teamId, null, null, states);
      } else if (m.userId().isEmpty()) {
        filter = ApiKeyDao.Filter.teamKeys(teamId, null, Names.apiKeyId("api_key", caller.apiKey()), states);
      } else {
        filter = ApiKeyDao.Filter.teamKeys(teamId, m.userId(), null, states);
      }
      list = "keys:" + teamName;
    }
    int size = PageTokens.pageSize(pageSize);
    List<ApiKeysRecord> rows = keys.list(tx, filter, PageTokens.decode(list, pageToken), size + 1);
    String next = rows.size() > size ? PageTokens.encode(list, rows.get(size - 1).getId()) : "";
    return new Page(rows.size() > size ? rows.subList(0, size) : rows, next);
  }

  public ApiKeysRecord revoke(DSLContext tx, Caller caller, String name) {
    ApiKeysRecord key = manageable(tx, caller, name);
    if ("revoked".equals(key.getState())) {
      return key;
    }
    ApiKeysRecord revoked = keys.setState(tx, key.getId(), "revoked", false);
    audit.record(tx, scope(key), caller, "api_key.revoke", name, Map.of("prefix", key.getSecretPrefix()));
    publishState(tx, caller, revoked);
    return revoked;
  }

  public Created rotate(DSLContext tx, Caller caller, String name, Duration grace) {
    ApiKeysRecord key = manageable(tx, caller, name);
    if ("revoked".equals(key.getState())) {
      throw TallyException.failedPrecondition(Reasons.KEY_REVOKED, "a revoked key cannot be rotated");
    }
    if (expired(key)) {
      throw TallyException.failedPrecondition(Reasons.KEY_EXPIRED, "an expired key cannot be rotated");
    }
    String secret = secrets.newApiKeySecret();
    OffsetDateTime previousExpire = grace.isZero() ? null : OffsetDateTime.now().plus(grace);
    ApiKeysRecord rotated = keys.rotate(tx, key.getId(), secrets.hash(secret), Secrets.shownPrefix(secret),
        previousExpire);
    audit.record(tx, scope(key), caller, "api_key.rotate", name,
        Map.of("grace_seconds", Long.toString(grace.toSeconds()), "prefix", rotated.getSecretPrefix()));
    events.publish(tx, billingAccount(key), caller, IdentityEvent.newBuilder().setApiKeyRotated(
        ApiKeyRotated.newBuilder().setApiKey(name)));
    return new Created(rotated, secret);
  }

  /**
   * Resolves a secret: one keyed hash and one primary-key lookup, then a constant-time comparison of the
   * stored hash. Distinguishes revoked, archived and expired keys; unknown secrets are KEY_INVALID.
   */
  public Verified verify(DSLContext tx, String secret) {
    byte[] hash = secrets.hash(secret);
    ApiKeyDao.SecretMatch match = keys.bySecretHash(tx, hash).orElseThrow(ApiKeyManager::invalid);
    if (!MessageDigest.isEqual(match.secretHash(), hash)) {
      throw invalid();
    }
    if (match.secretExpireTime() != null && !match.secretExpireTime().isAfter(OffsetDateTime.now())) {
      throw invalid(); // a rotated-out secret past its grace period
    }
    ApiKeysRecord key = match.key();
    switch (key.getState()) {
      case "revoked" -> throw TallyException.permissionDenied(Reasons.KEY_REVOKED, "the key was revoked");
      case "archived" -> throw TallyException.permissionDenied(Reasons.KEY_ARCHIVED,
          "the key is archived while its owner belongs to a team");
      default -> {}
    }
    if (expired(key)) {
      throw TallyException.permissionDenied(Reasons.KEY_EXPIRED, "the key has expired");
    }
    Standing standing = key.getTeamId() == null ? new Standing("", Set.of())
        : teamStanding(tx, key).orElseThrow(() -> TallyException.permissionDenied(Reasons.KEY_REVOKED,
            "the key's owner left the team"));
    keys.touch(tx, key.getId());
    OffsetDateTime validUntil = earliest(key.getExpireTime(), match.secretExpireTime());
    return new Verified(key, key.getOwnerId() == null ? "" : Names.user(key.getOwnerId()),
        key.getTeamId() == null ? "" : Names.team(key.getTeamId()), billingAccount(key), standing.role(),
        standing.permissions(), validUntil);
  }

  private static OffsetDateTime earliest(OffsetDateTime a, OffsetDateTime b) {
    return a == null ? b : b == null ? a : a.isBefore(b) ? a : b;
  }

  /** What a key may do in its team: a team key what its owner's role allows, a service key spend and read. */
  public record Standing(String role, Set<Permission> permissions) {}

  private Optional<Standing> teamStanding(DSLContext tx, ApiKeysRecord key) {
    if ("service".equals(key.getKind())) {
      return Optional.of(new Standing("service", Access.SERVICE_KEY));
    }
    return teams.membership(tx, key.getTeamId(), key.getOwnerId())
        .map(m -> new Standing(m.getRole(), access.permissionsOf(tx, key.getTeamId(), m.getRole())));
  }

  /**
   * The standing of key {@code keyId} in team {@code teamId} for CheckPermission: empty when the key is
   * unknown, of another team, personal, or not usable (revoked, archived, expired).
   */
  public Optional<Standing> standing(DSLContext tx, String keyId, String teamId) {
    return keys.byId(tx, keyId, false)
        .filter(k -> teamId.equals(k.getTeamId()) && "active".equals(k.getState()) && !expired(k))
        .flatMap(k -> teamStanding(tx, k));
  }

  /** Joining a team: under the archive policy, the user's active personal keys are set aside. */
  public void onJoin(DSLContext tx, Caller caller, String userId) {
    if (!policy.archivePersonalKeysOnJoin()) {
      return;
    }
    for (ApiKeysRecord key : keys.personalKeys(tx, userId, "active")) {
      publishState(tx, caller, keys.setState(tx, key.getId(), "archived", true));
    }
  }

  /** Leaving or removal: the member's team keys are revoked; their last team gone, personal keys return. */
  public void onLeave(DSLContext tx, Caller caller, String teamId, String userId) {
    for (ApiKeysRecord key : keys.teamKeysOf(tx, teamId, userId)) {
      publishState(tx, caller, keys.setState(tx, key.getId(), "revoked", false));
    }
    restorePersonalKeysIfTeamless(tx, caller, userId);
  }

  /** Team deletion: every team and service key is revoked. */
  public void onTeamDeleted(DSLContext tx, Caller caller, String teamId) {
    for (ApiKeysRecord key : keys.liveTeamKeys(tx, teamId)) {
      publishState(tx, caller, keys.setState(tx, key.getId(), "revoked", false));
    }
  }

  public void restorePersonalKeysIfTeamless(DSLContext tx, Caller caller, String userId) {
    if (teams.membershipCount(tx, userId) > 0) {
      return;
    }
    for (ApiKeysRecord key : keys.personalKeys(tx, userId, "archived")) {
      if (Boolean.TRUE.equals(key.getArchivedByMembership())) {
        publishState(tx, caller, keys.setState(tx, key.getId(), "active", false));
      }
    }
  }

  public static boolean expired(ApiKeysRecord key) {
    return key.getExpireTime() != null && !key.getExpireTime().isAfter(OffsetDateTime.now());
  }

  /** The state a client sees: active keys past their expiry are expired. */
  public static String effectiveState(ApiKeysRecord key) {
    return "active".equals(key.getState()) && expired(key) ? "expired" : key.getState();
  }

  public static String billingAccount(ApiKeysRecord key) {
    return key.getTeamId() == null ? Wallets.ofUser(key.getOwnerId()) : Wallets.ofTeam(key.getTeamId());
  }

  /** The key named {@code name} if the caller may manage it (its owner, KEYS_MANAGE_ALL, the platform). */
  ApiKeysRecord manageable(DSLContext tx, Caller caller, String name) {
    ApiKeysRecord key = keys.byId(tx, Names.apiKeyId("name", name), true).orElseThrow(() -> notFound(name));
    if (!canSee(tx, caller, key)) {
      throw notFound(name);
    }
    boolean own = caller.isUser() && caller.userId().equals(key.getOwnerId());
    if (!own && !caller.platform()) {
      access.require(tx, caller, key.getTeamId(), Permission.PERMISSION_KEYS_MANAGE_ALL);
    }
    return key;
  }

  private boolean canSee(DSLContext tx, Caller caller, ApiKeysRecord key) {
    if (caller.platform()) {
      return true;
    }
    if (caller.isUser() && caller.userId().equals(key.getOwnerId())) {
      return true;
    }
    if (key.getTeamId() == null) {
      return false;
    }
    try {
      Access.Membership m = access.of(tx, caller, key.getTeamId());
      return m.has(Permission.PERMISSION_KEYS_MANAGE_ALL)
          || (!caller.apiKey().isEmpty() && caller.apiKey().equals(Names.apiKey(key.getId())));
    } catch (TallyException notMember) {
      return false;
    }
  }

  private void publishState(DSLContext tx, Caller caller, ApiKeysRecord key) {
    events.publish(tx, billingAccount(key), caller, IdentityEvent.newBuilder().setApiKeyStateChanged(
        ApiKeyStateChanged.newBuilder().setApiKey(Names.apiKey(key.getId())).setState(key.getState())
            .setTeam(key.getTeamId() == null ? "" : Names.team(key.getTeamId()))
            .setBillingAccount(billingAccount(key))));
  }

  static String scope(ApiKeysRecord key) {
    return key.getTeamId() == null ? Names.user(key.getOwnerId()) : Names.team(key.getTeamId());
  }

  private static TallyException notFound(String name) {
    return TallyException.notFound(Reasons.NOT_FOUND, "api key " + name + " not found");
  }

  private static TallyException invalid() {
    return TallyException.unauthenticated(Reasons.KEY_INVALID, "the API key is not valid");
  }
}
