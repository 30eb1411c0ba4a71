package dev.tally.identity.grpc;

import static dev.tally.common.grpc.ProtoTime.ts;

import dev.tally.identity.access.Access;
import dev.tally.identity.access.Names;
import dev.tally.identity.access.Roles;
import dev.tally.identity.db.TeamDao;
import dev.tally.identity.db.jooq.tables.records.ApiKeysRecord;
import dev.tally.identity.db.jooq.tables.records.AuditEventsRecord;
import dev.tally.identity.db.jooq.tables.records.CustomRolesRecord;
import dev.tally.identity.db.jooq.tables.records.InvitationsRecord;
import dev.tally.identity.db.jooq.tables.records.MembersRecord;
import dev.tally.identity.db.jooq.tables.records.UsersRecord;
import dev.tally.identity.invitations.InvitationManager;
import dev.tally.identity.keys.ApiKeyManager;
import dev.tally.common.ids.Wallets;
import dev.tally.proto.identity.v1.AllowedValues;
import dev.tally.proto.identity.v1.ApiKey;
import dev.tally.proto.identity.v1.ApiKeyKind;
import dev.tally.proto.identity.v1.ApiKeyState;
import dev.tally.proto.identity.v1.AuditEvent;
import dev.tally.proto.identity.v1.Invitation;
import dev.tally.proto.identity.v1.InvitationState;
import dev.tally.proto.identity.v1.Member;
import dev.tally.proto.identity.v1.Permission;
import dev.tally.proto.identity.v1.Principal;
import dev.tally.proto.identity.v1.Role;
import dev.tally.proto.identity.v1.Team;
import dev.tally.proto.identity.v1.User;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Struct;
import com.google.protobuf.util.JsonFormat;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/** Maps identity rows to their v1 protobuf resources. */
final class IdentityProtos {
  private IdentityProtos() {}

  static User user(UsersRecord u) {
    return User.newBuilder().setName(Names.user(u.getId())).setExternalId(u.getExternalId()).setEmail(u.getEmail())
        .setDisplayName(u.getDisplayName()).setCreateTime(ts(u.getCreateTime())).setUpdateTime(ts(u.getUpdateTime()))
        .build();
  }

  static Team team(TeamDao.TeamView v) {
    return Team.newBuilder().setName(Names.team(v.team().getId())).setDisplayName(v.team().getDisplayName())
        .setOwner(Names.user(v.team().getOwnerId())).setWallet(Wallets.ofTeam(v.team().getId()))
        .setMemberCount(v.memberCount()).setCreateTime(ts(v.team().getCreateTime()))
        .setUpdateTime(ts(v.team().getUpdateTime()))
        .addAllKeyAllowedMeters(java.util.List.of(v.team().getKeyAllowedMeters()))
        .addAllKeyAllowedModels(java.util.List.of(v.team().getKeyAllowedModels())).build();
  }

  static dev.tally.proto.identity.v1.WebhookEndpoint webhookEndpoint(
      dev.tally.identity.db.jooq.tables.records.WebhookEndpointsRecord e) {
    var b = dev.tally.proto.identity.v1.WebhookEndpoint.newBuilder()
        .setName(dev.tally.identity.webhooks.WebhookEndpoints.name(e)).setUrl(e.getUrl())
        .setTeam(e.getTeamId() == null ? "" : Names.team(e.getTeamId()))
        .addAllEventTypes(java.util.List.of(e.getEventTypes())).setCreateTime(ts(e.getCreateTime()));
    ifSet(e.getPreviousSecretExpireTime(), b::setPreviousSecretExpireTime);
    return b.build();
  }

  static dev.tally.proto.identity.v1.WebhookDelivery webhookDelivery(
      dev.tally.identity.db.jooq.tables.records.WebhookDeliveriesRecord d) {
    var b = dev.tally.proto.identity.v1.WebhookDelivery.newBuilder()
        .setName("webhookEndpoints/" + d.getEndpointId() + "/deliveries/" + d.getId()).setEventId(d.getEventId())
        .setEventType(d.getEventType()).setState(dev.tally.proto.identity.v1.WebhookDeliveryState.valueOf(
            "WEBHOOK_DELIVERY_STATE_" + d.getState().toUpperCase(Locale.ROOT))).setAttempts(d.getAttempts())
        .setNextAttemptTime(ts(d.getNextAttemptTime()))
        .setLastStatus(d.getLastStatus() == null ? 0 : d.getLastStatus())
        .setLastError(d.getLastError() == null ? "" : d.getLastError());
    ifSet(d.getCreateTime(), b::setCreateTime);
    ifSet(d.getDeliverTime(), b::setDeliverTime);
    return b.build();
  }

  static AllowedValues allowed(java.util.Set<String> values) {
    return AllowedValues.newBuilder().addAllValues(values.stream().sorted().toList()).build();
  }

  static Member membership(MembersRecord m) {
    if (m == null) {
      return Member.getDefaultInstance();
    }
    return Member.newBuilder().setName(Names.member(m.getTeamId(), m.getUserId())).setUser(Names.user(m.getUserId()))
        .setRole(m.getRole()).setJoinTime(ts(m.getJoinTime())).build();
  }

  static Member member(TeamDao.MemberView m) {
    return Member.newBuilder().setName(Names.member(m.teamId(), m.userId())).setUser(Names.user(m.userId()))
        .setEmail(m.email()).setDisplayName(m.displayName()).setRole(m.role()).setJoinTime(ts(m.joinTime())).build();
  }

  static Role builtinRole(String name, Set<Permission> permissions) {
    return Role.newBuilder().setName(name).setDisplayName(Roles.DISPLAY_NAMES.get(name))
        .addAllPermissions(permissions.stream().sorted().toList()).setBuiltin(true).build();
  }

  static Role customRole(CustomRolesRecord r) {
    return Role.newBuilder().setName(Names.customRole(r.getTeamId(), r.getRoleId())).setDisplayName(r.getDisplayName())
        .addAllPermissions(Access.permissions(r).stream().sorted().toList()).setCreateTime(ts(r.getCreateTime()))
        .build();
  }

  static Invitation invitation(InvitationsRecord i) {
    Invitation.Builder b = Invitation.newBuilder().setName(Names.invitation(i.getTeamId(), i.getId()))
        .setEmail(i.getEmailLower()).setRole(i.getRole())
        .setState(InvitationState.valueOf("INVITATION_STATE_"
            + InvitationManager.effectiveState(i).toUpperCase(Locale.ROOT)))
        .setInviter(Names.user(i.getInviterId())).setCreateTime(ts(i.getCreateTime()))
        .setExpireTime(ts(i.getExpireTime())).setSendCount(i.getSendCount());
    ifSet(i.getCloseTime(), b::setCloseTime); // a pending invitation has none (not 1970-01-01)
    return b.build();
  }

  /** Sets an optional time only when there is one, so an absent time stays absent on the wire. */
  private static void ifSet(java.time.OffsetDateTime t, java.util.function.Consumer<com.google.protobuf.Timestamp> set) {
    if (t != null) {
      set.accept(ts(t));
    }
  }

  static String invitationState(InvitationState s) {
    return s.name().substring("INVITATION_STATE_".length()).toLowerCase(Locale.ROOT);
  }

  static ApiKey apiKey(ApiKeysRecord k) {
    ApiKey.Builder b = ApiKey.newBuilder().setName(Names.apiKey(k.getId())).setDisplayName(k.getDisplayName())
        .setKind(ApiKeyKind.valueOf("API_KEY_KIND_" + k.getKind().toUpperCase(Locale.ROOT)))
        .setState(ApiKeyState.valueOf("API_KEY_STATE_"
            + ApiKeyManager.effectiveState(k).toUpperCase(Locale.ROOT)))
        .setOwner(k.getOwnerId() == null ? "" : Names.user(k.getOwnerId()))
        .setTeam(k.getTeamId() == null ? "" : Names.team(k.getTeamId()))
        .setBillingAccount(ApiKeyManager.billingAccount(k)).setCreator(Names.user(k.getCreatorId()))
        .setSecretPrefix(k.getSecretPrefix()).setCreateTime(ts(k.getCreateTime()))
        .addAllAllowedMeters(java.util.List.of(k.getAllowedMeters()))
        .addAllAllowedModels(java.util.List.of(k.getAllowedModels()));
    ifSet(k.getLastUseTime(), b::setLastUseTime);
    ifSet(k.getExpireTime(), b::setExpireTime);
    ifSet(k.getRevokeTime(), b::setRevokeTime);
    ifSet(k.getRotateTime(), b::setRotateTime);
    ifSet(k.getPreviousSecretExpireTime(), b::setPreviousSecretExpireTime);
    return b.build();
  }

  static String keyState(ApiKeyState s) {
    return s.name().substring("API_KEY_STATE_".length()).toLowerCase(Locale.ROOT);
  }

  static AuditEvent auditEvent(AuditEventsRecord e) {
    return AuditEvent.newBuilder().setName(e.getScope() + "/auditEvents/" + e.getId())
        .setActor(Principal.newBuilder().setUser(e.getActorUser()).setTeam(e.getActorTeam())
            .setApiKey(e.getActorKey()))
        .setAction(e.getAction()).setTarget(e.getTarget()).setRequestId(e.getRequestId())
        .setCreateTime(ts(e.getCreateTime())).putAllDetails(details(e.getDetails().data())).build();
  }

  /** The audit details column (a JSON object of strings) as a map. */
  private static Map<String, String> details(String json) {
    Struct.Builder s = Struct.newBuilder();
    try {
      JsonFormat.parser().merge(json, s);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("audit details are not JSON", e);
    }
    Map<String, String> out = new LinkedHashMap<>();
    s.getFieldsMap().forEach((k, v) -> out.put(k, v.getStringValue()));
    return out;
  }
}
