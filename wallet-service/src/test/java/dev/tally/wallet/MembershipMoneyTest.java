package dev.tally.wallet;

import static dev.tally.wallet.WalletFixture.DOLLAR;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.common.kafka.KafkaClients;
import dev.tally.common.kafka.Topics;
import dev.tally.common.testing.Await;
import dev.tally.common.testing.TestInfra;
import dev.tally.identity.config.IdentityPolicy;
import dev.tally.proto.events.v1.IdentityEvent;
import dev.tally.proto.events.v1.MemberJoined;
import dev.tally.proto.identity.v1.DeleteTeamRequest;
import dev.tally.proto.identity.v1.Team;
import dev.tally.proto.wallet.v1.*;
import dev.tally.wallet.WalletFixture.TestUser;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The Tensorix policy: paid balance moves to the team on create/join; deletion refunds the Owner. */
class MembershipMoneyTest {
  private static WalletFixture f;

  @BeforeAll
  static void start() throws Exception {
    IdentityPolicy moving = new IdentityPolicy(0, false, true, Duration.ofDays(7),
        IdentityPolicy.defaults().acceptUrlTemplate(), 100, false);
    f = new WalletFixture(MembershipMoneyTest.class, moving, Instant.parse("2026-11-10T12:00:00Z"));
  }

  @AfterEach
  void reconciled() {
    f.assertReconciled();
  }

  @AfterAll
  static void stop() {
    f.close();
  }

  @Test
  void balancesMoveWithMembershipOnceEvenWhenEventsAreDeliveredTwice() throws Exception {
    TestUser owner = f.newUser("mv-owner");
    TestUser joiner = f.newUser("mv-joiner");
    f.deposit(owner.wallet(), 5 * DOLLAR, "pay_mv_owner");
    f.deposit(joiner.wallet(), 3 * DOLLAR, "pay_mv_joiner");
    Team team = f.newTeam(owner, "Moving");
    f.awaitBalance(team.getWallet(), 5 * DOLLAR);
    assertEquals(0, f.get(owner.wallet()).getBalanceNanos());
    f.join(owner, team, joiner, "roles/member");
    f.awaitBalance(team.getWallet(), 8 * DOLLAR);
    assertEquals(0, f.get(joiner.wallet()).getBalanceNanos());

    // Deliver every identity event about this team again: nothing may move twice.
    List<ConsumerRecord<String, byte[]>> mine = identityEventsOf(team.getWallet());
    assertTrue(mine.size() >= 2, "expected TeamCreated and MemberJoined");
    for (ConsumerRecord<String, byte[]> r : mine) {
      f.producer.send(new ProducerRecord<>(Topics.IDENTITY, r.key(), r.value())).get(30, TimeUnit.SECONDS);
    }
    // A later event on the same key (so the same partition, after the duplicates) is the barrier: once
    // its effect shows, the duplicates before it have been consumed.
    TestUser late = f.newUser("mv-late");
    f.deposit(late.wallet(), DOLLAR, "pay_mv_late");
    f.join(owner, team, late, "roles/member");
    f.awaitBalance(team.getWallet(), 9 * DOLLAR);
    assertEquals(0, f.get(owner.wallet()).getBalanceNanos());
    assertEquals(0, f.get(joiner.wallet()).getBalanceNanos());
    assertEquals(3, f.platform().listTransfers(ListTransfersRequest.newBuilder().setWallet(team.getWallet())
        .addCodes(TransferCode.TRANSFER_CODE_MEMBERSHIP_TRANSFER).build()).getTransfersCount());

    // Spend some, then delete the team: the remainder goes to the Owner's personal wallet.
    f.usage("mv-use", team.getWallet(), joiner.name(), "", 3 * DOLLAR, f.clock.instant(), "");
    f.awaitBalance(team.getWallet(), 6 * DOLLAR);
    f.identity(owner.caller()).deleteTeam(DeleteTeamRequest.newBuilder().setName(team.getName()).build());
    f.awaitBalance(owner.wallet(), 6 * DOLLAR);
    Wallet closed = f.get(team.getWallet());
    assertEquals(0, closed.getBalanceNanos());
    assertEquals(WalletStatus.WALLET_STATUS_SUSPENDED, closed.getStatus());
    assertEquals(0, f.get(joiner.wallet()).getBalanceNanos(), "members get nothing of the team's balance");
  }

  /**
   * A membership event can be the first thing to touch a wallet after one of its holds expired (under load
   * the team's own events arrive late): its housekeeping closes the hold, and the wallet's stored held total
   * must lose the amount with it — that stored total is what every later decision starts from.
   */
  @Test
  void aMembershipEventThatReleasesAnExpiredHoldStoresTheWalletsHeldTotal() throws Exception {
    TestUser owner = f.newUser("exp-owner");
    Team team = f.newTeam(owner, "Expired hold");
    f.deposit(team.getWallet(), DOLLAR, "pay_exp_hold");
    f.internal().reserve(ReserveRequest.newBuilder().setWallet(team.getWallet()).setAmountNanos(DOLLAR / 2)
        .setTtl(com.google.protobuf.Duration.newBuilder().setSeconds(60)).build());
    assertEquals(DOLLAR / 2, storedHeld(team.getWallet()));
    TestUser joiner = f.newUser("exp-joiner");
    f.clock.advance(Duration.ofSeconds(61));
    try {
      String eventId = "late-join-" + System.nanoTime();
      IdentityEvent late = IdentityEvent.newBuilder().setEventId(eventId).setMemberJoined(MemberJoined.newBuilder()
          .setTeam(team.getName()).setUser(joiner.name()).setRole("roles/member").setTeamWallet(team.getWallet())
          .setUserWallet(joiner.wallet()).setMovePaidBalance(false)).build();
      f.producer.send(new ProducerRecord<>(Topics.IDENTITY, team.getWallet(), late.toByteArray()))
          .get(30, TimeUnit.SECONDS);
      Await.value("identity event " + eventId + " applied", Duration.ofSeconds(30), () -> applied(eventId), a -> a);
      assertEquals(0, storedHeld(team.getWallet()), "the expired hold's amount stays in the stored held total");
      assertEquals(0, f.get(team.getWallet()).getHeldNanos());
      assertEquals(DOLLAR, f.get(team.getWallet()).getAvailableNanos());
    } finally {
      f.clock.advance(Duration.ofSeconds(-61));
    }
  }

  private static long storedHeld(String wallet) throws Exception {
    try (var c = f.walletSql(); var q = c.prepareStatement("select held from wallets where name = ?")) {
      q.setString(1, wallet);
      try (var rs = q.executeQuery()) {
        assertTrue(rs.next(), wallet);
        return rs.getLong(1);
      }
    }
  }

  private static boolean applied(String eventId) {
    try (var c = f.walletSql();
        var q = c.prepareStatement("select 1 from applied_events where source = 'identity' and event_key = ?")) {
      q.setString(1, eventId);
      try (var rs = q.executeQuery()) {
        return rs.next();
      }
    } catch (java.sql.SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  private static List<ConsumerRecord<String, byte[]>> identityEventsOf(String teamWallet) throws Exception {
    List<ConsumerRecord<String, byte[]>> out = new ArrayList<>();
    try (KafkaConsumer<String, byte[]> c = new KafkaClients(TestInfra.kafka(), null)
        .consumer("dup-reader", TestInfra.unique("dup"))) {
      c.subscribe(List.of(Topics.IDENTITY));
      long until = System.nanoTime() + Duration.ofSeconds(20).toNanos();
      boolean sawJoin = false;
      while (!sawJoin && System.nanoTime() < until) {
        for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(200))) {
          if (teamWallet.equals(r.key())) {
            out.add(r);
            sawJoin |= IdentityEvent.parseFrom(r.value()).hasMemberJoined();
          }
        }
      }
    }
    return out;
  }
}
