package dev.tally.identity;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tally.identity.IdentityFixture.TestUser;
import dev.tally.identity.config.IdentityPolicy;
import dev.tally.proto.identity.v1.Team;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The default deployment: unlimited teams, personal keys untouched by membership. */
class DefaultPolicyTest {
  private static IdentityFixture f;

  @BeforeAll
  static void start() throws Exception {
    f = new IdentityFixture(DefaultPolicyTest.class, IdentityPolicy.defaults());
  }

  @AfterAll
  static void stop() {
    f.close();
  }

  @Test
  void usersOwnManyTeamsAndKeepTheirPersonalKeys() {
    TestUser owner = f.newUser("many");
    TestUser joiner = f.newUser("keeper");
    String personal = f.personalKey(joiner, "personal").getSecret();
    for (int i = 0; i < 3; i++) {
      Team t = f.newTeam(owner, "Team " + i);
      f.join(owner, t, joiner, "roles/member");
    }
    assertEquals(joiner.name(), f.verify(personal).getPrincipal().getUser());
    f.personalKey(joiner, "another");
  }
}
