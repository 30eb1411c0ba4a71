package dev.tally.identity.invitations;

import dev.tally.common.auth.Caller;
import dev.tally.common.error.Reasons;
import dev.tally.common.error.TallyException;
import dev.tally.common.ids.Ids;
import dev.tally.common.ids.PageTokens;
import dev.tally.identity.access.Access;
import dev.tally.identity.access.Names;
import dev.tally.identity.access.Roles;
import dev.tally.identity.audit.AuditLog;
import dev.tally.identity.config.IdentityPolicy;
import dev.tally.identity.db.InvitationDao;
import dev.tally.identity.db.TeamDao;
import dev.tally.identity.db.UserDao;
import dev.tally.identity.db.jooq.tables.records.InvitationsRecord;
import dev.tally.identity.db.jooq.tables.records.UsersRecord;
import dev.tally.identity.keys.Secrets;
import dev.tally.identity.teams.TeamManager;
import dev.tally.proto.identity.v1.Permission;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jooq.DSLContext;

/**
 * Email invitations with a role chosen up front. Tokens are single use, 256 random bits, stored only as a
 * keyed hash, returned once to the inviter (and mailed when SMTP is configured).
 */
public final class InvitationManager {
  private final InvitationDao invitations;
  private final TeamDao teams;
  private final UserDao users;
  private final Access access;
  private final TeamManager teamManager;
  private final Secrets secrets;
  private final AuditLog audit;
  private final IdentityPolicy policy;
  private final InvitationMailer mailer;
  private final TokenGuesses guesses = new TokenGuesses();

  public InvitationManager(InvitationDao invitations, TeamDao teams, UserDao users, Access access,
      TeamManager teamManager, Secrets secrets, AuditLog audit, IdentityPolicy policy, InvitationMailer mailer) {
    this.invitations = invitations;
    this.teams = teams;
    this.users = users;
    this.access = access;
    this.teamManager = teamManager;
    this.secrets = secrets;
    this.audit = audit;
    this.policy = policy;
    this.mailer = mailer;
  }

  /** An invitation with its token, which exists only in this response (and the mail). */
  public record Issued(InvitationsRecord invitation, String token, String acceptUrl) {}

  public record Page(List<InvitationsRecord> invitations, String nextPageToken) {}

  /** The outcome of accepting: the invitation and the membership created. */
  public record Accepted(InvitationsRecord invitation, String teamId, String userId,
      java.util.Optional<dev.tally.identity.keys.ApiKeyManager.Created> assignedKey) {}

  public Issued create(DSLContext tx, Caller caller, String teamName, String email, String role, Duration ttl) {
    String teamId = Names.teamId("parent", teamName);
    Access.Membership me = access.require(tx, caller, teamId, Permission.PERMISSION_MEMBERS_INVITE);
    String grantedRole = role.isEmpty() ? Roles.MEMBER : role;
    if (Roles.OWNER.equals(grantedRole)) {
      throw TallyException.invalidArgument("role", "nobody is invited as Owner; use TransferOwnership");
    }
    teamManager.grantable(tx, me, grantedRole);
    String emailLower = email.toLowerCase(Locale.ROOT);
    UsersRecord existing = users.byEmail(tx, emailLower).orElse(null);
    if (existing != null && teams.membership(tx, teamId, existing.getId()).isPresent()) {
      throw TallyException.alreadyExists(Reasons.ALREADY_A_MEMBER, email + " is already a member");
    }
    invitations.expireStale(tx, teamId, emailLower);
    if (invitations.pendingExists(tx, teamId, emailLower)) {
      throw TallyException.alreadyExists(Reasons.INVITATION_PENDING,
          "a pending invitation for " + email + " exists; resend or revoke it");
    }
    String token = secrets.newInvitationToken();
    OffsetDateTime expire = OffsetDateTime.now().plus(ttl == null ? policy.invitationTtl() : ttl);
    InvitationsRecord inv = invitations.insert(tx, Ids.newId(), teamId, emailLower, grantedRole,
        secrets.hash(token), me.userId().isEmpty() ? caller.userId() : me.userId(), expire);
    String name = Names.invitation(teamId, inv.getId());
    audit.record(tx, teamName, caller, "invitation.create", name, Map.of("email", emailLower, "role", grantedRole));
    String url = acceptUrl(token);
    mailer.enqueue(tx, inv, teams.activeTeam(tx, teamId, false).orElseThrow().getDisplayName(), url);
    return new Issued(inv, token, url);
  }

  public Page list(DSLContext tx, Caller caller, String teamName, Collection<String> states, String pageToken,
      int pageSize) {
    String teamId = Names.teamId("parent", teamName);
    access.require(tx, caller, teamId, Permission.PERMISSION_MEMBERS_INVITE);
    int size = PageTokens.pageSize(pageSize);
    String list = "invitations:" + teamId;
    List<InvitationsRecord> rows = invitations.list(tx, teamId, states, PageTokens.decode(list, pageToken), size + 1);
    String next = rows.size() > size ? PageTokens.encode(list, rows.get(size - 1).getId()) : "";
    return new Page(rows.size() > size ? rows.subList(0, size) : rows, next);
  }

  /** New token (the old one dies), expiry restarted. */
  public Issued resend(DSLContext tx, Caller caller, String name) {
    InvitationsRecord inv = manageable(tx, caller, name);
    requirePending(inv, false);
    String token = secrets.newInvitationToken();
    InvitationsRecord updated = invitations.resend(tx, inv.getId(), secrets.hash(token),
        OffsetDateTime.now().plus(policy.invitationTtl()));
    audit.record(tx, Names.team(inv.getTeamId()), caller, "invitation.resend", name, Map.of());
    String url = acceptUrl(token);
    mailer.enqueue(tx, updated, teams.activeTeam(tx, inv.getTeamId(), false).orElseThrow().getDisplayName(), url);
    return new Issued(updated, token, url);
  }

  public InvitationsRecord revoke(DSLContext tx, Caller caller, String name) {
    InvitationsRecord inv = manageable(tx, caller, name);
    requirePending(inv, false);
    InvitationsRecord closed = invitations.close(tx, inv.getId(), "revoked");
    audit.record(tx, Names.team(inv.getTeamId()), caller, "invitation.revoke", name, Map.of());
    return closed;
  }

  public Accepted accept(DSLContext tx, Caller caller, String token) {
    InvitationsRecord inv = byToken(tx, caller, token);
    if (teams.membership(tx, inv.getTeamId(), caller.userId()).isPresent()) {
      throw TallyException.alreadyExists(Reasons.ALREADY_A_MEMBER, "you are already a member of this team");
    }
    InvitationsRecord closed = invitations.close(tx, inv.getId(), "accepted");
    var assigned = teamManager.join(tx, caller, inv.getTeamId(), caller.userId(), inv.getRole());
    audit.record(tx, Names.team(inv.getTeamId()), caller, "invitation.accept",
        Names.invitation(inv.getTeamId(), inv.getId()), Map.of("role", inv.getRole()));
    return new Accepted(closed, inv.getTeamId(), caller.userId(), assigned);
  }

  public InvitationsRecord decline(DSLContext tx, Caller caller, String token) {
    InvitationsRecord inv = byToken(tx, caller, token);
    InvitationsRecord closed = invitations.close(tx, inv.getId(), "declined");
    audit.record(tx, Names.team(inv.getTeamId()), caller, "invitation.decline",
        Names.invitation(inv.getTeamId(), inv.getId()), Map.of());
    return closed;
  }

  /** The pending invitation of a token, checked against the caller's email. */
  private InvitationsRecord byToken(DSLContext tx, Caller caller, String token) {
    UsersRecord me = users.byId(tx, caller.userId()).orElseThrow(
        () -> TallyException.notFound(Reasons.NOT_FOUND, "unknown user " + caller.user()));
    guesses.check(caller.user());
    InvitationsRecord inv = invitations.byTokenHash(tx, secrets.hash(token)).orElse(null);
    if (inv == null || teams.activeTeam(tx, inv.getTeamId(), false).isEmpty()) {
      guesses.failed(caller.user());
      throw TallyException.notFound(Reasons.INVITATION_INVALID, "no invitation has this token");
    }
    requirePending(inv, true);
    if (!inv.getEmailLower().equals(me.getEmailLower())) {
      throw TallyException.permissionDenied(Reasons.EMAIL_MISMATCH, "this invitation was sent to another address");
    }
    return inv;
  }

  private InvitationsRecord manageable(DSLContext tx, Caller caller, String name) {
    String[] parts = Names.parseInvitation("name", name);
    access.require(tx, caller, parts[0], Permission.PERMISSION_MEMBERS_INVITE);
    return invitations.byId(tx, parts[0], parts[1]).orElseThrow(
        () -> TallyException.notFound(Reasons.NOT_FOUND, "invitation " + name + " not found"));
  }

  private static void requirePending(InvitationsRecord inv, boolean forInvitee) {
    if (!"pending".equals(inv.getState())) {
      if (forInvitee && !"expired".equals(inv.getState())) {
        // A used token is as good as unknown to whoever holds it.
        throw TallyException.failedPrecondition(Reasons.INVITATION_NOT_PENDING, "the invitation was already "
            + inv.getState());
      }
      throw "expired".equals(inv.getState())
          ? TallyException.failedPrecondition(Reasons.INVITATION_EXPIRED, "the invitation has expired")
          : TallyException.failedPrecondition(Reasons.INVITATION_NOT_PENDING, "the invitation was " + inv.getState());
    }
    if (!inv.getExpireTime().isAfter(OffsetDateTime.now())) {
      throw TallyException.failedPrecondition(Reasons.INVITATION_EXPIRED, "the invitation has expired");
    }
  }

  private String acceptUrl(String token) {
    return policy.acceptUrlTemplate().replace("{token}", token);
  }

  /** The state a client sees: pending invitations past their expiry are expired. */
  public static String effectiveState(InvitationsRecord inv) {
    return "pending".equals(inv.getState()) && !inv.getExpireTime().isAfter(OffsetDateTime.now())
        ? "expired" : inv.getState();
  }
}
