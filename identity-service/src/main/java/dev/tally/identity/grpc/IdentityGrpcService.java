package dev.tally.identity.grpc;

import static dev.tally.common.grpc.Unary.reply;
import static dev.tally.common.grpc.ProtoTime.duration;
import static dev.tally.common.grpc.ProtoTime.odt;

import dev.tally.common.auth.Caller;
import dev.tally.common.db.Database;
import dev.tally.common.error.TallyException;
import dev.tally.identity.access.Names;
import dev.tally.identity.access.Roles;
import dev.tally.identity.audit.AuditQueries;
import dev.tally.identity.invitations.InvitationManager;
import dev.tally.common.admission.KeyScope;
import dev.tally.identity.keys.ApiKeyManager;
import dev.tally.identity.keys.KeyRestrictions;
import dev.tally.identity.webhooks.WebhookEndpoints;
import dev.tally.identity.teams.TeamManager;
import dev.tally.identity.users.UserManager;
import dev.tally.proto.identity.v1.*;
import io.grpc.stub.StreamObserver;
import java.time.Duration;

/**
 * The IdentityService edge: takes the verified caller, delegates to the managers inside one transaction
 * (idempotent on request_id for mutations) and maps the result to protobuf. No rules and no SQL here.
 */
public final class IdentityGrpcService extends IdentityServiceGrpc.IdentityServiceImplBase {
  private final Database db;
  private final KeyRestrictions restrictions;
  private final WebhookEndpoints webhooks;
  private final UserManager users;
  private final TeamManager teams;
  private final InvitationManager invitations;
  private final ApiKeyManager keys;
  private final AuditQueries audit;

  public IdentityGrpcService(Database db, UserManager users, TeamManager teams, InvitationManager invitations,
      ApiKeyManager keys, KeyRestrictions restrictions, AuditQueries audit, WebhookEndpoints webhooks) {
    this.db = db;
    this.webhooks = webhooks;
    this.restrictions = restrictions;
    this.users = users;
    this.teams = teams;
    this.invitations = invitations;
    this.keys = keys;
    this.audit = audit;
  }

  /** The internal service (VerifyApiKey) over the same managers. */
  public IdentityInternalGrpcService internal() {
    return new IdentityInternalGrpcService(db, keys, restrictions);
  }

  @Override
  public void upsertUser(UpsertUserRequest req, StreamObserver<UpsertUserResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.mutate(caller, IdentityServiceGrpc.getUpsertUserMethod().getFullMethodName(),
        req.getRequestId(), req, UpsertUserResponse.parser(), tx -> {
          var r = users.upsert(tx, caller, req.getExternalId(), req.getEmail(), req.getDisplayName());
          return UpsertUserResponse.newBuilder().setUser(IdentityProtos.user(r.user())).setCreated(r.created()).build();
        }));
  }

  @Override
  public void getUser(GetUserRequest req, StreamObserver<GetUserResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.transaction(tx -> GetUserResponse.newBuilder()
        .setUser(IdentityProtos.user(users.get(tx.dsl(), caller, req.getName()))).build()));
  }

  @Override
  public void createTeam(CreateTeamRequest req, StreamObserver<CreateTeamResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.mutate(caller, IdentityServiceGrpc.getCreateTeamMethod().getFullMethodName(),
        req.getRequestId(), req, CreateTeamResponse.parser(), tx -> CreateTeamResponse.newBuilder()
            .setTeam(IdentityProtos.team(teams.create(tx, caller, req.getDisplayName()))).build()));
  }

  @Override
  public void getTeam(GetTeamRequest req, StreamObserver<GetTeamResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.transaction(tx -> {
      var v = teams.get(tx.dsl(), caller, req.getName());
      return GetTeamResponse.newBuilder().setTeam(IdentityProtos.team(v))
          .setMembership(IdentityProtos.membership(v.membership())).build();
    }));
  }

  @Override
  public void listTeams(ListTeamsRequest req, StreamObserver<ListTeamsResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.transaction(tx -> {
      var page = teams.list(tx.dsl(), caller, req.getPageToken(), req.getPageSize());
      var b = ListTeamsResponse.newBuilder().setNextPageToken(page.nextPageToken());
      page.items().forEach(v -> b.addTeams(IdentityProtos.team(v)).addMemberships(IdentityProtos.membership(v.membership())));
      return b.build();
    }));
  }

  @Override
  public void updateTeam(UpdateTeamRequest req, StreamObserver<UpdateTeamResponse> out) {
    Caller caller = Caller.current();
    for (String path : req.getUpdateMask().getPathsList()) {
      if (!path.equals("display_name")) {
        throw TallyException.invalidArgument("update_mask", "only display_name can be updated, not " + path);
      }
    }
    reply(out, () -> db.mutate(caller, IdentityServiceGrpc.getUpdateTeamMethod().getFullMethodName(),
        req.getRequestId(), req, UpdateTeamResponse.parser(), tx -> {
          if (req.getUpdateMask().getPathsCount() == 0) {
            return UpdateTeamResponse.newBuilder()
                .setTeam(IdentityProtos.team(teams.get(tx, caller, req.getTeam().getName()))).build();
          }
          return UpdateTeamResponse.newBuilder().setTeam(IdentityProtos.team(
              teams.rename(tx, caller, req.getTeam().getName(), req.getTeam().getDisplayName()))).build();
        }));
  }

  @Override
  public void deleteTeam(DeleteTeamRequest req, StreamObserver<DeleteTeamResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.mutate(caller, IdentityServiceGrpc.getDeleteTeamMethod().getFullMethodName(),
        req.getRequestId(), req, DeleteTeamResponse.parser(), tx -> {
          teams.delete(tx, caller, req.getName());
          return DeleteTeamResponse.getDefaultInstance();
        }));
  }

  @Override
  public void listMembers(ListMembersRequest req, StreamObserver<ListMembersResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.transaction(tx -> {
      var page = teams.members(tx.dsl(), caller, req.getParent(), req.getPageToken(), req.getPageSize());
      var b = ListMembersResponse.newBuilder().setNextPageToken(page.nextPageToken());
      page.items().forEach(m -> b.addMembers(IdentityProtos.member(m)));
      return b.build();
    }));
  }

  @Override
  public void updateMemberRole(UpdateMemberRoleRequest req, StreamObserver<UpdateMemberRoleResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.mutate(caller, IdentityServiceGrpc.getUpdateMemberRoleMethod().getFullMethodName(),
        req.getRequestId(), req, UpdateMemberRoleResponse.parser(), tx -> UpdateMemberRoleResponse.newBuilder()
            .setMember(IdentityProtos.member(teams.updateRole(tx, caller, req.getName(), req.getRole()))).build()));
  }

  @Override
  public void removeMember(RemoveMemberRequest req, StreamObserver<RemoveMemberResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.mutate(caller, IdentityServiceGrpc.getRemoveMemberMethod().getFullMethodName(),
        req.getRequestId(), req, RemoveMemberResponse.parser(), tx -> {
          teams.removeMember(tx, caller, req.getName());
          return RemoveMemberResponse.getDefaultInstance();
        }));
  }

  @Override
  public void leaveTeam(LeaveTeamRequest req, StreamObserver<LeaveTeamResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.mutate(caller, IdentityServiceGrpc.getLeaveTeamMethod().getFullMethodName(),
        req.getRequestId(), req, LeaveTeamResponse.parser(), tx -> {
          teams.leave(tx, caller, req.getTeam());
          return LeaveTeamResponse.getDefaultInstance();
        }));
  }

  @Override
  public void transferOwnership(TransferOwnershipRequest req, StreamObserver<TransferOwnershipResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.mutate(caller, IdentityServiceGrpc.getTransferOwnershipMethod().getFullMethodName(),
        req.getRequestId(), req, TransferOwnershipResponse.parser(), tx -> TransferOwnershipResponse.newBuilder()
            .setTeam(IdentityProtos.team(teams.transferOwnership(tx, caller, req.getTeam(), req.getNewOwner())))
            .build()));
  }

  @Override
  public void createInvitation(CreateInvitationRequest req, StreamObserver<CreateInvitationResponse> out) {
    Caller caller = Caller.current();
    Duration ttl = req.hasTtl() ? duration(req.getTtl()) : null;
    // The token is never stored (not even in the idempotency log): a replay answers without it.
    String[] token = new String[2];
    CreateInvitationResponse stored = db.mutate(caller,
        IdentityServiceGrpc.getCreateInvitationMethod().getFullMethodName(), req.getRequestId(), req,
        CreateInvitationResponse.parser(), tx -> {
          var issued = invitations.create(tx, caller, req.getParent(), req.getEmail(), req.getRole(), ttl);
          token[0] = issued.token();
          token[1] = issued.acceptUrl();
          return CreateInvitationResponse.newBuilder().setInvitation(IdentityProtos.invitation(issued.invitation()))
              .build();
        });
    reply(out, () -> token[0] == null ? stored
        : stored.toBuilder().setToken(token[0]).setAcceptUrl(token[1]).build());
  }

  @Override
  public void listInvitations(ListInvitationsRequest req, StreamObserver<ListInvitationsResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.transaction(tx -> {
      var page = invitations.list(tx.dsl(), caller, req.getParent(),
          req.getStatesList().stream().map(IdentityProtos::invitationState).toList(), req.getPageToken(),
          req.getPageSize());
      var b = ListInvitationsResponse.newBuilder().setNextPageToken(page.nextPageToken());
      page.invitations().forEach(i -> b.addInvitations(IdentityProtos.invitation(i)));
      return b.build();
    }));
  }

  @Override
  public void resendInvitation(ResendInvitationRequest req, StreamObserver<ResendInvitationResponse> out) {
    Caller caller = Caller.current();
    String[] token = new String[2];
    ResendInvitationResponse stored = db.mutate(caller,
        IdentityServiceGrpc.getResendInvitationMethod().getFullMethodName(), req.getRequestId(), req,
        ResendInvitationResponse.parser(), tx -> {
          var issued = invitations.resend(tx, caller, req.getName());
          token[0] = issued.token();
          token[1] = issued.acceptUrl();
          return ResendInvitationResponse.newBuilder().setInvitation(IdentityProtos.invitation(issued.invitation()))
              .build();
        });
    reply(out, () -> token[0] == null ? stored
        : stored.toBuilder().setToken(token[0]).setAcceptUrl(token[1]).build());
  }

  @Override
  public void revokeInvitation(RevokeInvitationRequest req, StreamObserver<RevokeInvitationResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.mutate(caller, IdentityServiceGrpc.getRevokeInvitationMethod().getFullMethodName(),
        req.getRequestId(), req, RevokeInvitationResponse.parser(), tx -> RevokeInvitationResponse.newBuilder()
            .setInvitation(IdentityProtos.invitation(invitations.revoke(tx, caller, req.getName()))).build()));
  }

  @Override
  public void acceptInvitation(AcceptInvitationRequest req, StreamObserver<AcceptInvitationResponse> out) {
    Caller caller = Caller.current();
    // As for CreateApiKey: an assigned key's secret is never stored, so a replay answers without it.
    String[] secret = new String[1];
    AcceptInvitationResponse stored = db.mutate(caller,
        IdentityServiceGrpc.getAcceptInvitationMethod().getFullMethodName(), req.getRequestId(), req,
        AcceptInvitationResponse.parser(), tx -> {
          var accepted = invitations.accept(tx, caller, req.getToken());
          var team = teams.get(tx, caller, Names.team(accepted.teamId()));
          var b = AcceptInvitationResponse.newBuilder().setInvitation(IdentityProtos.invitation(accepted.invitation()))
              .setMember(IdentityProtos.membership(team.membership())).setTeam(IdentityProtos.team(team));
          accepted.assignedKey().ifPresent(k -> {
            b.setAssignedKey(IdentityProtos.apiKey(k.key()));
            secret[0] = k.secret();
          });
          return b.build();
        });
    reply(out, () -> secret[0] == null ? stored : stored.toBuilder().setAssignedKeySecret(secret[0]).build());
  }

  @Override
  public void declineInvitation(DeclineInvitationRequest req, StreamObserver<DeclineInvitationResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.mutate(caller, IdentityServiceGrpc.getDeclineInvitationMethod().getFullMethodName(),
        req.getRequestId(), req, DeclineInvitationResponse.parser(), tx -> DeclineInvitationResponse.newBuilder()
            .setInvitation(IdentityProtos.invitation(invitations.decline(tx, caller, req.getToken()))).build()));
  }

  @Override
  public void createRole(CreateRoleRequest req, StreamObserver<CreateRoleResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.mutate(caller, IdentityServiceGrpc.getCreateRoleMethod().getFullMethodName(),
        req.getRequestId(), req, CreateRoleResponse.parser(), tx -> CreateRoleResponse.newBuilder()
            .setRole(IdentityProtos.customRole(teams.createRole(tx, caller, req.getParent(), req.getRoleId(),
                req.getDisplayName(), req.getPermissionsList()))).build()));
  }

  @Override
  public void listRoles(ListRolesRequest req, StreamObserver<ListRolesResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.transaction(tx -> {
      var b = ListRolesResponse.newBuilder();
      for (String builtin : Roles.BUILTIN_ORDER) {
        b.addRoles(IdentityProtos.builtinRole(builtin, Roles.BUILTIN.get(builtin)));
      }
      teams.roles(tx.dsl(), caller, req.getParent()).forEach(r -> b.addRoles(IdentityProtos.customRole(r)));
      return b.build();
    }));
  }

  @Override
  public void deleteRole(DeleteRoleRequest req, StreamObserver<DeleteRoleResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.mutate(caller, IdentityServiceGrpc.getDeleteRoleMethod().getFullMethodName(),
        req.getRequestId(), req, DeleteRoleResponse.parser(), tx -> {
          teams.deleteRole(tx, caller, req.getName());
          return DeleteRoleResponse.getDefaultInstance();
        }));
  }

  @Override
  public void createApiKey(CreateApiKeyRequest req, StreamObserver<CreateApiKeyResponse> out) {
    Caller caller = Caller.current();
    // The secret is never stored, so a replay returns the key without it (the response kept is secret-free).
    String method = IdentityServiceGrpc.getCreateApiKeyMethod().getFullMethodName();
    String[] secret = new String[1];
    CreateApiKeyResponse stored = db.mutate(caller, method, req.getRequestId(), req,
        CreateApiKeyResponse.parser(), tx -> {
          var created = keys.create(tx, caller, req.getKind(), req.getTeam(), req.getDisplayName(),
              odt(req.getExpireTime(), req.hasExpireTime()));
          secret[0] = created.secret();
          return CreateApiKeyResponse.newBuilder().setApiKey(IdentityProtos.apiKey(created.key())).build();
        });
    reply(out, () -> secret[0] == null ? stored : stored.toBuilder().setSecret(secret[0]).build());
  }

  @Override
  public void getApiKey(GetApiKeyRequest req, StreamObserver<GetApiKeyResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.transaction(tx -> {
      var key = keys.get(tx.dsl(), caller, req.getName());
      var b = GetApiKeyResponse.newBuilder().setApiKey(IdentityProtos.apiKey(key));
      KeyScope scope = restrictions.scopeOf(tx.dsl(), key);
      if (scope.meters() != null) {
        b.setUsableMeters(IdentityProtos.allowed(scope.meters()));
      }
      if (scope.models() != null) {
        b.setUsableModels(IdentityProtos.allowed(scope.models()));
      }
      return b.build();
    }));
  }

  @Override
  public void setKeyRestrictions(SetKeyRestrictionsRequest req, StreamObserver<SetKeyRestrictionsResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.mutate(caller, IdentityServiceGrpc.getSetKeyRestrictionsMethod().getFullMethodName(),
        req.getRequestId(), req, SetKeyRestrictionsResponse.parser(), tx -> {
          var changed = restrictions.set(tx, caller, req.getParent(), req.getAllowedMetersList(),
              req.getAllowedModelsList());
          var b = SetKeyRestrictionsResponse.newBuilder();
          if (changed.key() != null) {
            b.setApiKey(IdentityProtos.apiKey(changed.key()));
          } else {
            b.setTeam(IdentityProtos.team(changed.team()));
          }
          return b.build();
        }));
  }

  @Override
  public void listApiKeys(ListApiKeysRequest req, StreamObserver<ListApiKeysResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.transaction(tx -> {
      var page = keys.list(tx.dsl(), caller, req.getTeam(),
          req.getStatesList().stream().map(IdentityProtos::keyState).toList(), req.getPageToken(), req.getPageSize());
      var b = ListApiKeysResponse.newBuilder().setNextPageToken(page.nextPageToken());
      page.keys().forEach(k -> b.addApiKeys(IdentityProtos.apiKey(k)));
      return b.build();
    }));
  }

  @Override
  public void revokeApiKey(RevokeApiKeyRequest req, StreamObserver<RevokeApiKeyResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.mutate(caller, IdentityServiceGrpc.getRevokeApiKeyMethod().getFullMethodName(),
        req.getRequestId(), req, RevokeApiKeyResponse.parser(), tx -> RevokeApiKeyResponse.newBuilder()
            .setApiKey(IdentityProtos.apiKey(keys.revoke(tx, caller, req.getName()))).build()));
  }

  @Override
  public void rotateApiKey(RotateApiKeyRequest req, StreamObserver<RotateApiKeyResponse> out) {
    Caller caller = Caller.current();
    String method = IdentityServiceGrpc.getRotateApiKeyMethod().getFullMethodName();
    String[] secret = new String[1];
    RotateApiKeyResponse stored = db.mutate(caller, method, req.getRequestId(), req,
        RotateApiKeyResponse.parser(), tx -> {
          var rotated = keys.rotate(tx, caller, req.getName(),
              req.hasGracePeriod() ? duration(req.getGracePeriod()) : Duration.ZERO);
          secret[0] = rotated.secret();
          return RotateApiKeyResponse.newBuilder().setApiKey(IdentityProtos.apiKey(rotated.key())).build();
        });
    reply(out, () -> secret[0] == null ? stored : stored.toBuilder().setSecret(secret[0]).build());
  }

  @Override
  public void checkPermission(CheckPermissionRequest req, StreamObserver<CheckPermissionResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.transaction(tx -> {
      var check = teams.check(tx.dsl(), caller, req.getPrincipal(), req.getTeam(), req.getPermission());
      return CheckPermissionResponse.newBuilder().setAllowed(check.allowed()).setRole(check.role()).build();
    }));
  }

  @Override
  public void listAuditEvents(ListAuditEventsRequest req, StreamObserver<ListAuditEventsResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.transaction(tx -> {
      var page = audit.list(tx.dsl(), caller, req.getParent(), req.getActionsList(),
          odt(req.getStartTime(), req.hasStartTime()), odt(req.getEndTime(), req.hasEndTime()),
          req.getPageToken(), req.getPageSize());
      var b = ListAuditEventsResponse.newBuilder().setNextPageToken(page.nextPageToken());
      page.events().forEach(e -> b.addAuditEvents(IdentityProtos.auditEvent(e)));
      return b.build();
    }));
  }

  @Override
  public void exportAuditEvents(ExportAuditEventsRequest req, StreamObserver<ExportAuditEventsResponse> out) {
    Caller caller = Caller.current();
    db.transaction(tx -> {
      var csv = new dev.tally.common.export.CsvStream<>(out,
          chunk -> ExportAuditEventsResponse.newBuilder().setCsv(chunk).build(),
          "time", "actor_user", "actor_api_key", "action", "target", "request_id", "details");
      audit.export(tx.dsl(), caller, req.getParent(), req.getActionsList(), odt(req.getStartTime(),
          req.hasStartTime()), odt(req.getEndTime(), req.hasEndTime()), e -> {
            AuditEvent a = IdentityProtos.auditEvent(e);
            csv.row(e.getCreateTime().toInstant().toString(), a.getActor().getUser(), a.getActor().getApiKey(),
                a.getAction(), a.getTarget(), a.getRequestId(), new java.util.TreeMap<>(a.getDetailsMap())
                    .entrySet().stream().map(d -> d.getKey() + "=" + d.getValue())
                    .collect(java.util.stream.Collectors.joining("; ")));
          });
      csv.finish();
      return null;
    });
  }


  @Override
  public void createWebhookEndpoint(CreateWebhookEndpointRequest req, StreamObserver<CreateWebhookEndpointResponse> out) {
    Caller caller = Caller.current();
    // As for keys: the secret is never stored, so a replay answers without it.
    String[] secret = new String[1];
    CreateWebhookEndpointResponse stored = db.mutate(caller,
        IdentityServiceGrpc.getCreateWebhookEndpointMethod().getFullMethodName(), req.getRequestId(), req,
        CreateWebhookEndpointResponse.parser(), tx -> {
          var c = webhooks.create(tx, caller, req.getUrl(), req.getTeam(), req.getEventTypesList());
          secret[0] = c.secret();
          return CreateWebhookEndpointResponse.newBuilder().setEndpoint(IdentityProtos.webhookEndpoint(c.endpoint()))
              .build();
        });
    reply(out, () -> secret[0] == null ? stored : stored.toBuilder().setSecret(secret[0]).build());
  }

  @Override
  public void listWebhookEndpoints(ListWebhookEndpointsRequest req, StreamObserver<ListWebhookEndpointsResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.transaction(tx -> {
      var b = ListWebhookEndpointsResponse.newBuilder();
      webhooks.list(tx.dsl(), caller).forEach(e -> b.addEndpoints(IdentityProtos.webhookEndpoint(e)));
      return b.build();
    }));
  }

  @Override
  public void deleteWebhookEndpoint(DeleteWebhookEndpointRequest req, StreamObserver<DeleteWebhookEndpointResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.transaction(tx -> {
      webhooks.delete(tx.dsl(), caller, req.getName());
      return DeleteWebhookEndpointResponse.getDefaultInstance();
    }));
  }

  @Override
  public void rotateWebhookSecret(RotateWebhookSecretRequest req, StreamObserver<RotateWebhookSecretResponse> out) {
    Caller caller = Caller.current();
    String[] secret = new String[1];
    RotateWebhookSecretResponse stored = db.mutate(caller,
        IdentityServiceGrpc.getRotateWebhookSecretMethod().getFullMethodName(), req.getRequestId(), req,
        RotateWebhookSecretResponse.parser(), tx -> {
          var c = webhooks.rotate(tx, caller, req.getName(), java.time.Duration.ofSeconds(
              req.getGracePeriod().getSeconds()));
          secret[0] = c.secret();
          return RotateWebhookSecretResponse.newBuilder().setEndpoint(IdentityProtos.webhookEndpoint(c.endpoint()))
              .build();
        });
    reply(out, () -> secret[0] == null ? stored : stored.toBuilder().setSecret(secret[0]).build());
  }

  @Override
  public void listWebhookDeliveries(ListWebhookDeliveriesRequest req,
      StreamObserver<ListWebhookDeliveriesResponse> out) {
    Caller caller = Caller.current();
    String state = req.getState() == WebhookDeliveryState.WEBHOOK_DELIVERY_STATE_UNSPECIFIED ? null
        : req.getState().name().substring("WEBHOOK_DELIVERY_STATE_".length()).toLowerCase(java.util.Locale.ROOT);
    reply(out, () -> db.transaction(tx -> {
      var page = webhooks.deliveries(tx.dsl(), caller, req.getEndpoint(), state, req.getPageToken(),
          req.getPageSize());
      var b = ListWebhookDeliveriesResponse.newBuilder().setNextPageToken(page.nextPageToken());
      page.deliveries().forEach(d -> b.addDeliveries(IdentityProtos.webhookDelivery(d)));
      return b.build();
    }));
  }

  @Override
  public void replayWebhookDelivery(ReplayWebhookDeliveryRequest req, StreamObserver<ReplayWebhookDeliveryResponse> out) {
    Caller caller = Caller.current();
    reply(out, () -> db.transaction(tx -> ReplayWebhookDeliveryResponse.newBuilder()
        .setDelivery(IdentityProtos.webhookDelivery(webhooks.replay(tx.dsl(), caller, req.getName()))).build()));
  }
}
