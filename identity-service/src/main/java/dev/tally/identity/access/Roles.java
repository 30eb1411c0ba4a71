package dev.tally.identity.access;

import static dev.tally.proto.identity.v1.Permission.*;

import dev.tally.proto.identity.v1.Permission;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

/** The built-in roles (Owner, Admin, Member, Billing) and their permissions. */
public final class Roles {
  public static final String OWNER = "roles/owner";
  public static final String ADMIN = "roles/admin";
  public static final String MEMBER = "roles/member";
  /** Finance: the balance, statements, limits and everyone's usage; no keys, no members. */
  public static final String BILLING = "roles/billing";
  /** The built-in roles, in the order they are listed. */
  public static final java.util.List<String> BUILTIN_ORDER = java.util.List.of(OWNER, ADMIN, MEMBER, BILLING);

  /** Permissions only an Owner may ever hold; custom roles cannot contain them. */
  public static final Set<Permission> OWNER_ONLY =
      EnumSet.of(PERMISSION_TEAM_DELETE, PERMISSION_TEAM_TRANSFER_OWNERSHIP);

  private static final Set<Permission> MEMBER_PERMISSIONS =
      EnumSet.of(PERMISSION_KEYS_MANAGE_OWN, PERMISSION_KEYS_USE, PERMISSION_USAGE_VIEW_OWN);

  private static final Set<Permission> BILLING_PERMISSIONS =
      EnumSet.of(PERMISSION_BILLING_VIEW, PERMISSION_USAGE_VIEW_TEAM, PERMISSION_USAGE_VIEW_OWN);

  private static final Set<Permission> ADMIN_PERMISSIONS = union(MEMBER_PERMISSIONS, EnumSet.of(
      PERMISSION_TEAM_UPDATE, PERMISSION_BILLING_VIEW, PERMISSION_USAGE_VIEW_TEAM, PERMISSION_MEMBERS_INVITE,
      PERMISSION_MEMBERS_REMOVE, PERMISSION_MEMBERS_UPDATE_ROLE, PERMISSION_KEYS_MANAGE_ALL,
      PERMISSION_AUDIT_VIEW, PERMISSION_ROLES_MANAGE));

  private static final Set<Permission> OWNER_PERMISSIONS =
      union(ADMIN_PERMISSIONS, EnumSet.of(PERMISSION_TEAM_DELETE, PERMISSION_TEAM_TRANSFER_OWNERSHIP,
          PERMISSION_BILLING_MANAGE));

  public static final Map<String, Set<Permission>> BUILTIN = Map.of(
      OWNER, OWNER_PERMISSIONS, ADMIN, ADMIN_PERMISSIONS, MEMBER, MEMBER_PERMISSIONS, BILLING, BILLING_PERMISSIONS);

  public static final Map<String, String> DISPLAY_NAMES = Map.of(OWNER, "Owner", ADMIN, "Admin", MEMBER, "Member",
      BILLING, "Billing");

  /** What a permission includes, as the contract words it ("any team key" includes one's own). */
  private static final Map<Permission, Set<Permission>> IMPLIES = Map.of(
      PERMISSION_KEYS_MANAGE_ALL, EnumSet.of(PERMISSION_KEYS_MANAGE_OWN),
      PERMISSION_USAGE_VIEW_TEAM, EnumSet.of(PERMISSION_USAGE_VIEW_OWN),
      PERMISSION_BILLING_MANAGE, EnumSet.of(PERMISSION_BILLING_VIEW));

  private Roles() {}

  /** {@code held} with every permission it implies: what a role actually allows. */
  public static Set<Permission> effective(Set<Permission> held) {
    EnumSet<Permission> all = held.isEmpty() ? EnumSet.noneOf(Permission.class) : EnumSet.copyOf(held);
    for (Permission p : held) {
      all.addAll(IMPLIES.getOrDefault(p, Set.of()));
    }
    return Set.copyOf(all);
  }

  public static boolean isBuiltin(String role) {
    return BUILTIN.containsKey(role);
  }

  private static Set<Permission> union(Set<Permission> a, Set<Permission> b) {
    EnumSet<Permission> s = EnumSet.copyOf(a);
    s.addAll(b);
    return Set.copyOf(s);
  }
}
