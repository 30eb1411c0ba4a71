package dev.tally.identity;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.common.kafka.KafkaClients;
import dev.tally.common.kafka.Topics;
import dev.tally.common.testing.TestInfra;
import dev.tally.identity.IdentityFixture.TestUser;
import dev.tally.identity.config.IdentityPolicy;
import dev.tally.proto.events.v1.IdentityEvent;
import dev.tally.proto.identity.v1.DeleteTeamRequest;
import dev.tally.proto.identity.v1.RevokeApiKeyRequest;
import dev.tally.proto.identity.v1.Team;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Changes other services need reach identity.v1 through the outbox. */
class IdentityEventsTest {
  private static IdentityFixture f;

  @BeforeAll
  static void start() throws Exception {
    f = new IdentityFixture(IdentityEventsTest.class, IdentityPolicy.defaults());
  }

  @AfterAll
  static void stop() {
    f.close();
  }

  @Test
  void teamLifecycleAndKeyRevocationArePublished() {
    TestUser owner = f.newUser("ev-owner");
    TestUser member = f.newUser("ev-member");
    Team team = f.newTeam(owner, "Events");
    f.join(owner, team, member, "roles/member");
    String key = f.teamKey(member, team, "k").getApiKey().getName();
    f.as(member).revokeApiKey(RevokeApiKeyRequest.newBuilder().setName(key).build());
    f.as(owner).deleteTeam(DeleteTeamRequest.newBuilder().setName(team.getName()).build());

    List<IdentityEvent> events = readUntil(e -> e.hasTeamDeleted() && e.getTeamDeleted().getTeam().equals(team.getName()));
    List<IdentityEvent> mine = events.stream().filter(e -> concerns(e, team.getName())).toList();
    List<String> kinds = mine.stream().map(e -> e.getChangeCase().name()).toList();
    assertEquals(List.of("TEAM_CREATED", "MEMBER_JOINED", "API_KEY_CREATED", "API_KEY_STATE_CHANGED",
        "TEAM_DELETED"), kinds);
    IdentityEvent created = mine.get(0);
    assertEquals(owner.name(), created.getTeamCreated().getOwner());
    assertEquals(team.getWallet(), created.getTeamCreated().getWallet());
    IdentityEvent deleted = mine.get(4);
    assertEquals("wallets/user-" + owner.id(), deleted.getTeamDeleted().getOwnerWallet());
    assertEquals(owner.name(), deleted.getActor());
    assertEquals("revoked", mine.get(3).getApiKeyStateChanged().getState());
    assertTrue(mine.stream().map(IdentityEvent::getEventId).distinct().count() == mine.size());
  }

  private static boolean concerns(IdentityEvent e, String team) {
    return switch (e.getChangeCase()) {
      case TEAM_CREATED -> e.getTeamCreated().getTeam().equals(team);
      case TEAM_DELETED -> e.getTeamDeleted().getTeam().equals(team);
      case MEMBER_JOINED -> e.getMemberJoined().getTeam().equals(team);
      case API_KEY_CREATED -> e.getApiKeyCreated().getTeam().equals(team);
      case API_KEY_STATE_CHANGED -> e.getApiKeyStateChanged().getTeam().equals(team);
      default -> false;
    };
  }

  private static List<IdentityEvent> readUntil(Predicate<IdentityEvent> last) {
    List<IdentityEvent> events = new ArrayList<>();
    try (KafkaConsumer<String, byte[]> c = new KafkaClients(TestInfra.kafka(), null)
        .consumer("events-test", TestInfra.unique("events-test"))) {
      c.subscribe(List.of(Topics.IDENTITY));
      long until = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (System.nanoTime() < until) {
        for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(200))) {
          IdentityEvent e = parse(r.value());
          events.add(e);
          if (last.test(e)) {
            // Events of one team share a key, hence a partition: they arrive in order.
            return events;
          }
        }
      }
    }
    throw new AssertionError("the expected event never arrived; saw " + events.size());
  }

  private static IdentityEvent parse(byte[] bytes) {
    try {
      return IdentityEvent.parseFrom(bytes);
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new AssertionError(e);
    }
  }
}
