package dev.tally.identity.access;

import dev.tally.common.error.TallyException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Resource names of the identity API and their parsing (bad names are INVALID_ARGUMENT naming the field). */
public final class Names {
  private static final String ID = "([A-Za-z0-9_-]{1,64})";
  private static final Pattern USER = Pattern.compile("users/" + ID);
  private static final Pattern TEAM = Pattern.compile("teams/" + ID);
  private static final Pattern MEMBER = Pattern.compile("teams/" + ID + "/members/" + ID);
  private static final Pattern INVITATION = Pattern.compile("teams/" + ID + "/invitations/" + ID);
  private static final Pattern CUSTOM_ROLE = Pattern.compile("teams/" + ID + "/roles/([a-z][a-z0-9-]{0,39})");
  private static final Pattern API_KEY = Pattern.compile("apiKeys/" + ID);

  private Names() {}

  public static String user(String id) {
    return "users/" + id;
  }

  public static String team(String id) {
    return "teams/" + id;
  }

  public static String member(String teamId, String userId) {
    return "teams/" + teamId + "/members/" + userId;
  }

  public static String invitation(String teamId, String id) {
    return "teams/" + teamId + "/invitations/" + id;
  }

  public static String customRole(String teamId, String roleId) {
    return "teams/" + teamId + "/roles/" + roleId;
  }

  public static String apiKey(String id) {
    return "apiKeys/" + id;
  }

  public static String userId(String field, String name) {
    return match(USER, field, name, "users/{user}")[0];
  }

  public static String teamId(String field, String name) {
    return match(TEAM, field, name, "teams/{team}")[0];
  }

  /** {teamId, userId}. */
  public static String[] parseMember(String field, String name) {
    return match(MEMBER, field, name, "teams/{team}/members/{user}");
  }

  /** {teamId, invitationId}. */
  public static String[] parseInvitation(String field, String name) {
    return match(INVITATION, field, name, "teams/{team}/invitations/{invitation}");
  }

  /** {teamId, roleId} of a custom role name, or null when {@code name} is not one. */
  public static String[] customRoleOrNull(String name) {
    Matcher m = CUSTOM_ROLE.matcher(name);
    return m.matches() ? new String[] {m.group(1), m.group(2)} : null;
  }

  public static String apiKeyId(String field, String name) {
    return match(API_KEY, field, name, "apiKeys/{key}")[0];
  }

  private static String[] match(Pattern p, String field, String name, String shape) {
    Matcher m = p.matcher(name == null ? "" : name);
    if (!m.matches()) {
      throw TallyException.invalidArgument(field, "must look like " + shape);
    }
    String[] groups = new String[m.groupCount()];
    for (int i = 0; i < groups.length; i++) {
      groups[i] = m.group(i + 1);
    }
    return groups;
  }
}
