package dev.tally.metering.access;

import static dev.tally.metering.db.jooq.Tables.USAGE_ROLLUPS;

import dev.tally.common.auth.Caller;
import dev.tally.common.auth.TeamPermissions;
import dev.tally.common.error.Reasons;
import dev.tally.common.error.TallyException;
import dev.tally.common.ids.Wallets;
import dev.tally.metering.keys.ApiKeyDirectory;
import dev.tally.proto.identity.v1.Permission;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jooq.Condition;

/**
 * Whose usage a caller may see: their own (personal usage, their membership, their keys) with
 * USAGE_VIEW_OWN; a whole team's, any member's or any team key's with USAGE_VIEW_TEAM (Owner, Admin).
 * Returns the rollup filter of the subject.
 */
public final class UsageAccess {
  private static final Pattern TEAM = Pattern.compile("teams/([A-Za-z0-9_-]{1,64})");
  private static final Pattern MEMBER = Pattern.compile("teams/([A-Za-z0-9_-]{1,64})/members/([A-Za-z0-9_-]{1,64})");
  private static final Pattern KEY = Pattern.compile("apiKeys/[A-Za-z0-9_-]{1,64}");

  private final TeamPermissions permissions;
  private final ApiKeyDirectory keys;

  public UsageAccess(TeamPermissions permissions, ApiKeyDirectory keys) {
    this.permissions = permissions;
    this.keys = keys;
  }

  public Condition filter(Caller caller, String subject) {
    Matcher team = TEAM.matcher(subject);
    Matcher member = MEMBER.matcher(subject);
    if ("users/me".equals(subject)) {
      return USAGE_ROLLUPS.BILLING_ACCOUNT.eq(Wallets.ofUser(caller.userId()));
    }
    if (team.matches()) {
      requireTeam(caller, subject, subject);
      return USAGE_ROLLUPS.TEAM.eq(subject);
    }
    if (member.matches()) {
      String teamName = "teams/" + member.group(1);
      String user = "users/" + member.group(2);
      if (!caller.platform() && user.equals(caller.user())) {
        permissions.require(caller.user(), teamName, Permission.PERMISSION_USAGE_VIEW_OWN, "usage of " + subject);
      } else {
        requireTeam(caller, teamName, subject);
      }
      return USAGE_ROLLUPS.TEAM.eq(teamName).and(USAGE_ROLLUPS.MEMBER.eq(user));
    }
    if (KEY.matcher(subject).matches()) {
      ApiKeyDirectory.KeyInfo k = keys.lookup(subject).orElseThrow(() -> notFound(subject));
      boolean own = caller.isUser() && caller.user().equals(k.user()) || subject.equals(caller.apiKey());
      if (!caller.platform() && !own) {
        if (k.team().isEmpty()) {
          throw notFound(subject);
        }
        requireTeam(caller, k.team(), subject);
      }
      return USAGE_ROLLUPS.API_KEY.eq(subject);
    }
    throw TallyException.invalidArgument("subject",
        "must be teams/{team}, teams/{team}/members/{user}, apiKeys/{key} or users/me");
  }

  private void requireTeam(Caller caller, String team, String subject) {
    if (caller.platform()) {
      return;
    }
    if (!caller.isUser()) {
      throw notFound(subject);
    }
    permissions.require(caller.user(), team, Permission.PERMISSION_USAGE_VIEW_TEAM, "usage of " + subject);
  }

  private static TallyException notFound(String subject) {
    return TallyException.notFound(Reasons.NOT_FOUND, "usage of " + subject + " not found");
  }
}
