package dev.tally.identity;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.tally.identity.IdentityFixture.TestUser;
import dev.tally.identity.config.IdentityPolicy;
import dev.tally.proto.identity.v1.*;
import io.grpc.StatusRuntimeException;
import java.sql.Connection;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** No API key secret or invitation token is ever at rest in clear: not in a table, the audit log or the logs. */
class SecretsAtRestTest {
  private static IdentityFixture f;

  @BeforeAll
  static void start() throws Exception {
    f = new IdentityFixture(SecretsAtRestTest.class, IdentityPolicy.defaults());
  }

  @AfterAll
  static void stop() {
    f.close();
  }

  @Test
  void secretsAppearNowhereInTheDatabaseTheAuditLogOrTheLogs() throws Exception {
    LoggerContext logs = (LoggerContext) LoggerFactory.getILoggerFactory();
    Logger root = logs.getLogger(Logger.ROOT_LOGGER_NAME);
    Level rootLevel = root.getLevel();
    root.setLevel(Level.DEBUG);
    logs.getLogger("tally.access").setLevel(Level.DEBUG);
    ListAppender<ILoggingEvent> captured = new ListAppender<>();
    captured.start();
    root.addAppender(captured);
    List<String> secrets = new ArrayList<>();
    try {
      TestUser owner = f.newUser("sec-owner");
      TestUser invitee = f.newUser("sec-invitee");
      Team team = f.newTeam(owner, "Secrets");
      CreateApiKeyResponse personal = f.as(owner).createApiKey(CreateApiKeyRequest.newBuilder()
          .setKind(ApiKeyKind.API_KEY_KIND_PERSONAL).setDisplayName("p").setRequestId("secret-req-1").build());
      secrets.add(personal.getSecret());
      secrets.add(f.teamKey(owner, team, "t").getSecret());
      RotateApiKeyResponse rotated = f.as(owner).rotateApiKey(RotateApiKeyRequest.newBuilder()
          .setName(personal.getApiKey().getName()).setRequestId("secret-req-2")
          .setGracePeriod(com.google.protobuf.Duration.newBuilder().setSeconds(60)).build());
      secrets.add(rotated.getSecret());
      CreateInvitationResponse inv = f.as(owner).createInvitation(CreateInvitationRequest.newBuilder()
          .setParent(team.getName()).setEmail(invitee.email()).setRequestId("secret-req-3").build());
      secrets.add(inv.getToken());
      ResendInvitationResponse resent = f.as(owner).resendInvitation(ResendInvitationRequest.newBuilder()
          .setName(inv.getInvitation().getName()).build());
      secrets.add(resent.getToken());
      f.as(invitee).acceptInvitation(AcceptInvitationRequest.newBuilder().setToken(resent.getToken()).build());
      // Failure paths that carry a secret in the request must not log it either.
      f.as(owner).revokeApiKey(RevokeApiKeyRequest.newBuilder().setName(personal.getApiKey().getName()).build());
      for (String s : secrets) {
        try {
          f.verify(s);
        } catch (StatusRuntimeException expected) {
          // revoked or rotated-out keys, invitation tokens: all refused
        }
      }
      try {
        f.as(invitee).acceptInvitation(AcceptInvitationRequest.newBuilder().setToken(inv.getToken()).build());
      } catch (StatusRuntimeException expected) {
        // the old token is dead
      }
      ListAuditEventsResponse audit = f.as(owner).listAuditEvents(ListAuditEventsRequest.newBuilder()
          .setParent(team.getName()).build());
      assertTrue(audit.getAuditEventsCount() >= 5);
      for (String s : secrets) {
        assertFalse(audit.toString().contains(s), "audit log holds a secret");
        assertFalse(audit.toString().contains(s.substring(4, 20)), "audit log holds part of a secret");
      }
    } finally {
      root.detachAppender(captured);
      root.setLevel(rootLevel);
      logs.getLogger("tally.access").setLevel(Level.WARN);
    }

    String dump = dumpDatabase();
    assertTrue(dump.contains("tly_"), "the dump should show key prefixes; is it reading the right schema?");
    StringBuilder logText = new StringBuilder();
    for (ILoggingEvent e : captured.list) {
      logText.append(e.getFormattedMessage()).append('\n');
      if (e.getThrowableProxy() != null) {
        logText.append(e.getThrowableProxy().getMessage()).append('\n');
      }
    }
    assertTrue(logText.toString().contains("CreateApiKey"), "the access log should have been captured");
    for (String s : secrets) {
      String body = s.substring(4); // the random part, without tly_ or inv_
      assertFalse(dump.contains(body), "the database holds a secret in clear");
      assertFalse(logText.toString().contains(body), "the logs hold a secret");
    }
  }

  /** Every row of every table of the service's schemas, as text. */
  private static String dumpDatabase() throws Exception {
    StringBuilder sb = new StringBuilder();
    try (Connection c = f.sql()) {
      List<String> tables = new ArrayList<>();
      try (ResultSet rs = c.createStatement().executeQuery(
          "select table_schema || '.' || table_name from information_schema.tables "
              + "where table_schema not in ('pg_catalog', 'information_schema') and table_type = 'BASE TABLE'")) {
        while (rs.next()) {
          tables.add(rs.getString(1));
        }
      }
      assertTrue(tables.contains("identity.api_keys") && tables.contains("identity.request_log"), tables.toString());
      for (String table : tables) {
        try (ResultSet rs = c.createStatement().executeQuery("select t::text from " + table + " t")) {
          while (rs.next()) {
            sb.append(table).append(' ').append(rs.getString(1)).append('\n');
          }
        }
        // bytea columns print as hex: also search the raw bytes as text.
        try (ResultSet rs = c.createStatement().executeQuery("select * from " + table)) {
          int n = rs.getMetaData().getColumnCount();
          while (rs.next()) {
            for (int i = 1; i <= n; i++) {
              byte[] raw = rs.getBytes(i);
              if (raw != null) {
                sb.append(new String(raw, java.nio.charset.StandardCharsets.ISO_8859_1)).append('\n');
              }
            }
          }
        }
      }
    }
    return sb.toString();
  }
}
