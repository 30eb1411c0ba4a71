package dev.tally.identity;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.icegreen.greenmail.configuration.GreenMailConfiguration;
import com.icegreen.greenmail.junit5.GreenMailExtension;
import com.icegreen.greenmail.util.GreenMailUtil;
import com.icegreen.greenmail.util.ServerSetup;
import dev.tally.identity.IdentityFixture.TestUser;
import dev.tally.identity.config.IdentityPolicy;
import dev.tally.identity.mail.SmtpConfig;
import dev.tally.proto.identity.v1.AcceptInvitationRequest;
import dev.tally.proto.identity.v1.CreateInvitationRequest;
import dev.tally.proto.identity.v1.CreateInvitationResponse;
import dev.tally.proto.identity.v1.Team;
import jakarta.mail.internet.MimeMessage;
import java.sql.ResultSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** With SMTP configured, the service mails the accept link through its transactional outbox. */
class InvitationMailTest {
  @RegisterExtension
  static GreenMailExtension smtp = new GreenMailExtension(new ServerSetup(0, "127.0.0.1", ServerSetup.PROTOCOL_SMTP)
      .dynamicPort()).withConfiguration(GreenMailConfiguration.aConfig().withDisabledAuthentication());

  private IdentityFixture f;

  @BeforeEach
  void start() throws Exception {
    f = new IdentityFixture(InvitationMailTest.class, IdentityPolicy.defaults(), new SmtpConfig("127.0.0.1",
        smtp.getSmtp().getPort(), "", "", "teams@tally.test", false));
  }

  @AfterEach
  void stop() {
    f.close();
  }

  @Test
  void invitationMailCarriesAWorkingAcceptLinkAndLeavesNoCopyBehind() throws Exception {
    TestUser owner = f.newUser("mail-owner");
    TestUser invitee = f.newUser("mail-invitee");
    Team team = f.newTeam(owner, "Mailers");
    CreateInvitationResponse inv = f.as(owner).createInvitation(CreateInvitationRequest.newBuilder()
        .setParent(team.getName()).setEmail(invitee.email()).build());

    assertTrue(smtp.waitForIncomingEmail(30_000, 1), "no mail arrived");
    MimeMessage mail = smtp.getReceivedMessages()[0];
    assertEquals(invitee.email(), mail.getAllRecipients()[0].toString());
    assertEquals("Invitation to join Mailers", mail.getSubject());
    String body = GreenMailUtil.getBody(mail);
    Matcher link = Pattern.compile("token=(inv_[A-Za-z0-9_-]+)").matcher(body);
    assertTrue(link.find(), body);
    assertEquals(inv.getToken(), link.group(1));

    f.as(invitee).acceptInvitation(AcceptInvitationRequest.newBuilder().setToken(link.group(1)).build());
    try (var c = f.sql(); ResultSet rs = c.createStatement().executeQuery("select count(*) from mail_outbox")) {
      rs.next();
      assertEquals(0, rs.getInt(1), "a sent mail must not stay queued");
    }
    assertFalse(body.isBlank());
  }

  @Test
  void queuedMailIsEncryptedAndRetriedWhileSmtpIsDown() throws Exception {
    int closedPort;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
      closedPort = s.getLocalPort();
    }
    try (IdentityFixture down = new IdentityFixture(InvitationMailTest.class, IdentityPolicy.defaults(),
        new SmtpConfig("127.0.0.1", closedPort, "", "", "teams@tally.test", false))) {
      TestUser owner = down.newUser("down-owner");
      Team team = down.newTeam(owner, "Offline");
      CreateInvitationResponse inv = down.as(owner).createInvitation(CreateInvitationRequest.newBuilder()
          .setParent(team.getName()).setEmail("later@example.com").build());
      String secretPart = inv.getToken().substring(4);
      long deadline = System.nanoTime() + 30_000_000_000L;
      int attempts = 0;
      while (attempts == 0 && System.nanoTime() < deadline) {
        try (var c = down.sql(); ResultSet rs = c.createStatement().executeQuery(
            "select attempts, body_ciphertext from mail_outbox")) {
          assertTrue(rs.next(), "the mail must stay queued while SMTP is down");
          attempts = rs.getInt(1);
          String raw = new String(rs.getBytes(2), java.nio.charset.StandardCharsets.ISO_8859_1);
          assertFalse(raw.contains(secretPart), "the queued body must be encrypted");
        }
        Thread.sleep(50); // polling the queue: the relay retries on its own schedule
      }
      assertTrue(attempts >= 1, "the relay should have tried and scheduled a retry");
    }
  }
}
