package dev.tally.stack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.FieldMask;
import dev.tally.proto.admission.v1.AdmissionServiceGrpc;
import dev.tally.proto.admission.v1.AdmitRequest;
import dev.tally.proto.identity.v1.*;
import dev.tally.proto.metering.v1.GetUsageSummaryRequest;
import dev.tally.proto.metering.v1.MeteringServiceGrpc;
import dev.tally.proto.wallet.v1.DepositRequest;
import dev.tally.proto.wallet.v1.GetWalletRequest;
import dev.tally.proto.wallet.v1.Period;
import dev.tally.proto.wallet.v1.SetSpendingLimitRequest;
import dev.tally.proto.wallet.v1.WalletServiceGrpc;
import io.grpc.CallCredentials;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every permission of the enum against the RPC the contract says it opens, through the gateway: for the
 * built-in roles (Owner, Admin, Member, Billing) and for custom roles holding exactly that permission (allowed) or not
 * (PERMISSION_DENIED). A broader permission opens what the narrower one does (KEYS_MANAGE_ALL → own keys,
 * USAGE_VIEW_TEAM → own usage, BILLING_MANAGE → billing view).
 */
class PermissionMatrixTest {
  private static final AtomicInteger N = new AtomicInteger();
  private static TallyStack stack;
  private static GatewayClient gw;

  @BeforeAll
  static void start() throws Exception {
    gw = GatewayClient.startStack(PermissionMatrixTest.class, s -> stack = s);
  }

  @AfterAll
  static void stop() {
    gw.close();
    stack.close();
  }

  private static IdentityServiceGrpc.IdentityServiceBlockingStub identity(CallCredentials c) {
    return gw.identity(c);
  }

  private static WalletServiceGrpc.WalletServiceBlockingStub wallet(CallCredentials c) {
    return gw.wallet(c);
  }

  private static User user(String label) {
    int n = N.incrementAndGet();
    return identity(gw.platform()).upsertUser(UpsertUserRequest.newBuilder().setExternalId("perm|" + label + n)
        .setEmail(label + n + "@perm.test").build()).getUser();
  }

  /** A team whose owner can add members with any role. */
  private record Team_(Team team, User owner) {
    CallCredentials asOwner() {
      return gw.asUser(owner.getName());
    }

    User join(String role) {
      User u = user("m");
      String token = identity(asOwner()).createInvitation(CreateInvitationRequest.newBuilder()
          .setParent(team.getName()).setEmail(u.getEmail()).setRole(role).build()).getToken();
      identity(gw.asUser(u.getName())).acceptInvitation(AcceptInvitationRequest.newBuilder().setToken(token).build());
      return u;
    }

    String member(User u) {
      return team.getName() + "/members/" + u.getName().substring("users/".length());
    }

    String customRole(Set<Permission> permissions) {
      String id = "r" + N.incrementAndGet();
      return identity(asOwner()).createRole(CreateRoleRequest.newBuilder().setParent(team.getName()).setRoleId(id)
          .setDisplayName(id).addAllPermissions(permissions).build()).getRole().getName();
    }
  }

  private static Team_ newTeam() {
    User owner = user("owner");
    Team team = identity(gw.asUser(owner.getName())).createTeam(CreateTeamRequest.newBuilder()
        .setDisplayName("Perm " + N.incrementAndGet()).build()).getTeam();
    wallet(gw.platform()).deposit(DepositRequest.newBuilder().setWallet(team.getWallet()).setAmountNanos(10_000_000_000L)
        .setCurrencyCode("USD").setExternalReference("perm-" + team.getName()).build());
    return new Team_(team, owner);
  }

  /** The RPC a permission opens, run as {@code who} (holding {@code role}) in team {@code t}. */
  @FunctionalInterface
  private interface Action {
    void run(Team_ t, User who, String role);
  }

  private record Row(Permission permission, boolean owner, boolean admin, boolean member, boolean billing,
      Set<Permission> companions, boolean destroysTeam, Action action) {}

  private static List<Row> rows() {
    List<Row> rows = new ArrayList<>();
    rows.add(new Row(Permission.PERMISSION_TEAM_DELETE, true, false, false, false, Set.of(), true,
        (t, who, role) -> identity(gw.asUser(who.getName())).deleteTeam(DeleteTeamRequest.newBuilder()
            .setName(t.team().getName()).build())));
    rows.add(new Row(Permission.PERMISSION_TEAM_TRANSFER_OWNERSHIP, true, false, false, false, Set.of(), true,
        (t, who, role) -> identity(gw.asUser(who.getName())).transferOwnership(TransferOwnershipRequest.newBuilder()
            .setTeam(t.team().getName()).setNewOwner(t.join("roles/member").getName()).build())));
    rows.add(new Row(Permission.PERMISSION_TEAM_UPDATE, true, true, false, false, Set.of(), false,
        (t, who, role) -> identity(gw.asUser(who.getName())).updateTeam(UpdateTeamRequest.newBuilder()
            .setTeam(Team.newBuilder().setName(t.team().getName()).setDisplayName("Renamed"))
            .setUpdateMask(FieldMask.newBuilder().addPaths("display_name")).build())));
    rows.add(new Row(Permission.PERMISSION_BILLING_MANAGE, true, false, false, false, Set.of(), false,
        (t, who, role) -> wallet(gw.asUser(who.getName())).setSpendingLimit(SetSpendingLimitRequest.newBuilder()
            .setWallet(t.team().getName()).setPeriod(Period.PERIOD_MONTH).setLimitNanos(5_000_000_000L).build())));
    rows.add(new Row(Permission.PERMISSION_BILLING_VIEW, true, true, false, true, Set.of(), false,
        (t, who, role) -> wallet(gw.asUser(who.getName())).getWallet(GetWalletRequest.newBuilder()
            .setName(t.team().getName()).build())));
    rows.add(new Row(Permission.PERMISSION_MEMBERS_INVITE, true, true, false, false, Set.of(), false,
        (t, who, role) -> identity(gw.asUser(who.getName())).createInvitation(CreateInvitationRequest.newBuilder()
            .setParent(t.team().getName()).setEmail("invitee" + N.incrementAndGet() + "@perm.test")
            // nobody grants more than they hold: a custom-role inviter invites into their own role
            .setRole(role.startsWith("roles/") ? "" : role).build())));
    rows.add(new Row(Permission.PERMISSION_MEMBERS_REMOVE, true, true, false, false, Set.of(), false,
        (t, who, role) -> identity(gw.asUser(who.getName())).removeMember(RemoveMemberRequest.newBuilder()
            .setName(t.member(t.join("roles/member"))).build())));
    rows.add(new Row(Permission.PERMISSION_MEMBERS_UPDATE_ROLE, true, true, false, false, Set.of(), false,
        (t, who, role) -> identity(gw.asUser(who.getName())).updateMemberRole(UpdateMemberRoleRequest.newBuilder()
            .setName(t.member(t.join("roles/member")))
            .setRole(role.startsWith("roles/") ? "roles/member" : role).build())));
    rows.add(new Row(Permission.PERMISSION_KEYS_MANAGE_ALL, true, true, false, false, Set.of(), false, (t, who, role) -> {
      var as = identity(gw.asUser(who.getName()));
      as.createApiKey(CreateApiKeyRequest.newBuilder().setKind(ApiKeyKind.API_KEY_KIND_SERVICE)
          .setTeam(t.team().getName()).setDisplayName("svc").build());
      as.createApiKey(CreateApiKeyRequest.newBuilder().setKind(ApiKeyKind.API_KEY_KIND_TEAM)
          .setTeam(t.team().getName()).setDisplayName("own").build());
      String others = identity(t.asOwner()).createApiKey(CreateApiKeyRequest.newBuilder()
          .setKind(ApiKeyKind.API_KEY_KIND_TEAM).setTeam(t.team().getName()).setDisplayName("owner's").build())
          .getApiKey().getName();
      as.revokeApiKey(RevokeApiKeyRequest.newBuilder().setName(others).build());
    }));
    rows.add(new Row(Permission.PERMISSION_KEYS_MANAGE_OWN, true, true, true, false, Set.of(), false,
        (t, who, role) -> identity(gw.asUser(who.getName())).createApiKey(CreateApiKeyRequest.newBuilder()
            .setKind(ApiKeyKind.API_KEY_KIND_TEAM).setTeam(t.team().getName()).setDisplayName("own").build())));
    rows.add(new Row(Permission.PERMISSION_KEYS_USE, true, true, true, false, Set.of(Permission.PERMISSION_KEYS_MANAGE_OWN),
        false, (t, who, role) -> {
          String secret = identity(gw.asUser(who.getName())).createApiKey(CreateApiKeyRequest.newBuilder()
              .setKind(ApiKeyKind.API_KEY_KIND_TEAM).setTeam(t.team().getName()).setDisplayName("use").build())
              .getSecret();
          AdmissionServiceGrpc.newBlockingStub(gw.channel).withCallCredentials(gw.platform())
              .withDeadlineAfter(20, TimeUnit.SECONDS).admit(AdmitRequest.newBuilder().setApiKeySecret(secret)
                  .setMeter("requests").setEstimatedQuantity(1).build());
        }));
    rows.add(new Row(Permission.PERMISSION_USAGE_VIEW_OWN, true, true, true, true, Set.of(), false,
        (t, who, role) -> usage(who, t.member(who))));
    rows.add(new Row(Permission.PERMISSION_USAGE_VIEW_TEAM, true, true, false, true, Set.of(), false,
        (t, who, role) -> usage(who, t.team().getName())));
    rows.add(new Row(Permission.PERMISSION_AUDIT_VIEW, true, true, false, false, Set.of(), false,
        (t, who, role) -> identity(gw.asUser(who.getName())).listAuditEvents(ListAuditEventsRequest.newBuilder()
            .setParent(t.team().getName()).build())));
    rows.add(new Row(Permission.PERMISSION_ROLES_MANAGE, true, true, false, false, Set.of(), false,
        (t, who, role) -> identity(gw.asUser(who.getName())).createRole(CreateRoleRequest.newBuilder()
            .setParent(t.team().getName()).setRoleId("made" + N.incrementAndGet()).setDisplayName("made")
            .addPermissions(Permission.PERMISSION_ROLES_MANAGE).build())));
    return rows;
  }

  private static void usage(User who, String subject) {
    MeteringServiceGrpc.newBlockingStub(gw.channel).withCallCredentials(gw.asUser(who.getName()))
        .withDeadlineAfter(20, TimeUnit.SECONDS).getUsageSummary(GetUsageSummaryRequest.newBuilder()
            .setSubject(subject).build());
  }

  /** Runs the action and says whether it was allowed; anything but PERMISSION_DENIED is a test failure. */
  private static boolean allowed(Row row, Team_ t, User who, String role) {
    try {
      row.action().run(t, who, role);
      return true;
    } catch (StatusRuntimeException e) {
      assertEquals(Status.Code.PERMISSION_DENIED, e.getStatus().getCode(),
          row.permission() + " as " + role + ": " + e.getStatus());
      return false;
    }
  }

  @Test
  void everyPermissionOpensItsRpcsForBuiltInAndCustomRoles() {
    List<String> wrong = new ArrayList<>();
    List<Row> rows = rows();
    assertEquals(EnumSet.complementOf(EnumSet.of(Permission.PERMISSION_UNSPECIFIED, Permission.UNRECOGNIZED)),
        EnumSet.copyOf(rows.stream().map(Row::permission).toList()), "a row for every permission of the enum");
    for (Row row : rows) {
      Team_ t = newTeam();
      for (String builtin : List.of("roles/member", "roles/billing", "roles/admin", "roles/owner")) {
        Team_ scope = row.destroysTeam() ? newTeam() : t;
        User who = builtin.equals("roles/owner") ? scope.owner() : scope.join(builtin);
        boolean expected = switch (builtin) {
          case "roles/owner" -> row.owner();
          case "roles/admin" -> row.admin();
          case "roles/billing" -> row.billing();
          default -> row.member();
        };
        if (allowed(row, scope, who, builtin) != expected) {
          wrong.add(row.permission() + " for " + builtin + ": expected " + (expected ? "allowed" : "denied"));
        }
      }
      if (row.destroysTeam()) {
        continue; // owner-only: custom roles cannot hold it
      }
      EnumSet<Permission> with = EnumSet.of(row.permission());
      with.addAll(row.companions());
      String holding = t.customRole(with);
      if (!allowed(row, t, t.join(holding), holding)) {
        wrong.add(row.permission() + " for a custom role holding it: denied");
      }
      EnumSet<Permission> without = row.companions().isEmpty()
          ? EnumSet.of(row.permission() == Permission.PERMISSION_KEYS_USE ? Permission.PERMISSION_AUDIT_VIEW
              : Permission.PERMISSION_KEYS_USE)
          : EnumSet.copyOf(row.companions());
      String lacking = t.customRole(without);
      if (allowed(row, t, t.join(lacking), lacking)) {
        wrong.add(row.permission() + " for a custom role without it: allowed");
      }
    }
    assertEquals(List.of(), wrong);
  }

  @Test
  void broaderPermissionsOpenWhatTheNarrowerOnesDo() {
    Team_ t = newTeam();
    List<Row> rows = rows();
    Row manageOwn = rows.stream().filter(r -> r.permission() == Permission.PERMISSION_KEYS_MANAGE_OWN).findFirst()
        .orElseThrow();
    Row viewOwn = rows.stream().filter(r -> r.permission() == Permission.PERMISSION_USAGE_VIEW_OWN).findFirst()
        .orElseThrow();
    Row billingView = rows.stream().filter(r -> r.permission() == Permission.PERMISSION_BILLING_VIEW).findFirst()
        .orElseThrow();
    String all = t.customRole(EnumSet.of(Permission.PERMISSION_KEYS_MANAGE_ALL));
    assertTrue(allowed(manageOwn, t, t.join(all), all), "KEYS_MANAGE_ALL creates a team key");
    String team = t.customRole(EnumSet.of(Permission.PERMISSION_USAGE_VIEW_TEAM));
    assertTrue(allowed(viewOwn, t, t.join(team), team), "USAGE_VIEW_TEAM reads one's own usage");
    String manage = t.customRole(EnumSet.of(Permission.PERMISSION_BILLING_MANAGE));
    assertTrue(allowed(billingView, t, t.join(manage), manage), "BILLING_MANAGE reads the wallet");
    User holder = t.join(all);
    CheckPermissionResponse check = identity(gw.platform()).checkPermission(CheckPermissionRequest.newBuilder()
        .setPrincipal(holder.getName()).setTeam(t.team().getName())
        .setPermission(Permission.PERMISSION_KEYS_MANAGE_OWN).build());
    assertTrue(check.getAllowed());
    assertFalse(identity(gw.platform()).checkPermission(CheckPermissionRequest.newBuilder()
        .setPrincipal(holder.getName()).setTeam(t.team().getName())
        .setPermission(Permission.PERMISSION_AUDIT_VIEW).build()).getAllowed());
  }

  @Test
  void checkPermissionAnswersForServiceAndTeamKeys() {
    Team_ t = newTeam();
    var owner = identity(t.asOwner());
    String service = owner.createApiKey(CreateApiKeyRequest.newBuilder().setKind(ApiKeyKind.API_KEY_KIND_SERVICE)
        .setTeam(t.team().getName()).setDisplayName("svc").build()).getApiKey().getName();
    String teamKey = owner.createApiKey(CreateApiKeyRequest.newBuilder().setKind(ApiKeyKind.API_KEY_KIND_TEAM)
        .setTeam(t.team().getName()).setDisplayName("mine").build()).getApiKey().getName();
    CheckPermissionResponse use = identity(gw.platform()).checkPermission(CheckPermissionRequest.newBuilder()
        .setPrincipal(service).setTeam(t.team().getName()).setPermission(Permission.PERMISSION_KEYS_USE).build());
    assertTrue(use.getAllowed());
    assertEquals("service", use.getRole());
    assertFalse(identity(gw.platform()).checkPermission(CheckPermissionRequest.newBuilder().setPrincipal(service)
        .setTeam(t.team().getName()).setPermission(Permission.PERMISSION_MEMBERS_INVITE).build()).getAllowed());
    CheckPermissionResponse ownersKey = identity(gw.platform()).checkPermission(CheckPermissionRequest.newBuilder()
        .setPrincipal(teamKey).setTeam(t.team().getName()).setPermission(Permission.PERMISSION_AUDIT_VIEW).build());
    assertTrue(ownersKey.getAllowed(), "a team key acts with its owner's role");
    assertEquals("roles/owner", ownersKey.getRole());
    Team_ other = newTeam();
    assertFalse(identity(gw.platform()).checkPermission(CheckPermissionRequest.newBuilder().setPrincipal(service)
        .setTeam(other.team().getName()).setPermission(Permission.PERMISSION_KEYS_USE).build()).getAllowed(),
        "a key of another team holds nothing here");
    owner.revokeApiKey(RevokeApiKeyRequest.newBuilder().setName(service).build());
    assertFalse(identity(gw.platform()).checkPermission(CheckPermissionRequest.newBuilder().setPrincipal(service)
        .setTeam(t.team().getName()).setPermission(Permission.PERMISSION_KEYS_USE).build()).getAllowed(),
        "a revoked key holds nothing");
  }

  /** Finance reads the money and everyone's usage, and touches neither keys nor members nor limits. */
  @Test
  void theBillingRoleSeesMoneyLimitsAndUsageButNoKeysOrMembers() {
    Team_ t = newTeam();
    User finance = t.join("roles/billing");
    CallCredentials as = gw.asUser(finance.getName());
    String team = t.team().getName();
    assertEquals(10_000_000_000L, wallet(as).getWallet(GetWalletRequest.newBuilder().setName(team).build())
        .getWallet().getBalanceNanos());
    assertEquals(1, wallet(as).listTransfers(dev.tally.proto.wallet.v1.ListTransfersRequest.newBuilder()
        .setWallet(team).build()).getTransfersCount(), "the statement: the deposit");
    assertFalse(wallet(as).getEffectiveLimits(dev.tally.proto.wallet.v1.GetEffectiveLimitsRequest.newBuilder()
        .setWallet(team).setSubject(t.member(t.owner())).build()).getLimitsList().isEmpty());
    usage(finance, team);
    List<Runnable> refused = List.of(
        () -> identity(as).createApiKey(CreateApiKeyRequest.newBuilder().setKind(ApiKeyKind.API_KEY_KIND_TEAM)
            .setTeam(team).setDisplayName("no").build()),
        () -> identity(as).createInvitation(CreateInvitationRequest.newBuilder().setParent(team)
            .setEmail("nobody@perm.test").build()),
        () -> identity(as).removeMember(RemoveMemberRequest.newBuilder().setName(t.member(t.join("roles/member")))
            .build()),
        () -> wallet(as).setSpendingLimit(SetSpendingLimitRequest.newBuilder().setWallet(team)
            .setPeriod(Period.PERIOD_DAY).setLimitNanos(1).build()),
        () -> identity(as).listAuditEvents(ListAuditEventsRequest.newBuilder().setParent(team).build()));
    for (Runnable call : refused) {
      StatusRuntimeException e = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
          call::run);
      assertEquals(Status.Code.PERMISSION_DENIED, e.getStatus().getCode(), e.getStatus().toString());
    }
    Role billing = identity(as).listRoles(ListRolesRequest.newBuilder().setParent(team).build()).getRolesList()
        .stream().filter(r -> r.getName().equals("roles/billing")).findFirst().orElseThrow();
    assertEquals(Set.of(Permission.PERMISSION_BILLING_VIEW, Permission.PERMISSION_USAGE_VIEW_TEAM,
        Permission.PERMISSION_USAGE_VIEW_OWN), Set.copyOf(billing.getPermissionsList()));
  }
}
