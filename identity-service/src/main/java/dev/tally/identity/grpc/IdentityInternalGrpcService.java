package dev.tally.identity.grpc;

import static dev.tally.common.grpc.Unary.reply;
import dev.tally.common.admission.KeyScope;
import dev.tally.common.auth.Caller;
import dev.tally.common.db.Database;
import dev.tally.identity.access.Access;
import dev.tally.identity.access.Names;
import dev.tally.identity.keys.ApiKeyManager;
import dev.tally.identity.keys.KeyRestrictions;
import dev.tally.proto.identity.v1.*;
import io.grpc.stub.StreamObserver;

/** The IdentityInternalService edge: key verification for the gateway, never exposed by it. */
public final class IdentityInternalGrpcService extends IdentityInternalServiceGrpc.IdentityInternalServiceImplBase {
  private final Database db;
  private final ApiKeyManager keys;
  private final KeyRestrictions restrictions;

  IdentityInternalGrpcService(Database db, ApiKeyManager keys, KeyRestrictions restrictions) {
    this.db = db;
    this.keys = keys;
    this.restrictions = restrictions;
  }

  @Override
  public void verifyApiKey(VerifyApiKeyRequest req, StreamObserver<VerifyApiKeyResponse> out) {
    Caller caller = Caller.current();
    if (!caller.platform()) {
      throw Access.forbidden("VerifyApiKey is internal");
    }
    reply(out, () -> db.transaction(tx -> {
      var v = keys.verify(tx.dsl(), req.getSecret());
      var b = VerifyApiKeyResponse.newBuilder();
      if (v.validUntil() != null) {
        b.setValidUntil(dev.tally.common.grpc.ProtoTime.ts(v.validUntil()));
      }
      KeyScope scope = restrictions.scopeOf(tx.dsl(), v.key());
      if (scope.meters() != null) {
        b.setUsableMeters(IdentityProtos.allowed(scope.meters()));
      }
      if (scope.models() != null) {
        b.setUsableModels(IdentityProtos.allowed(scope.models()));
      }
      return b.setApiKey(IdentityProtos.apiKey(v.key()))
          .setPrincipal(Principal.newBuilder().setUser(v.user()).setTeam(v.team())
              .setApiKey(Names.apiKey(v.key().getId())))
          .setBillingAccount(v.billingAccount()).setRole(v.role())
          .addAllPermissions(v.permissions().stream().sorted().toList()).build();
    }));
  }
}
