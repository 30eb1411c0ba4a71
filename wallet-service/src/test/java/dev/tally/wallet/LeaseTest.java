package dev.tally.wallet;

import static dev.tally.common.testing.GrpcAssertions.assertFails;
import static dev.tally.wallet.WalletFixture.DOLLAR;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tally.common.grpc.ProtoTime;
import dev.tally.identity.config.IdentityPolicy;
import dev.tally.proto.identity.v1.Team;
import dev.tally.proto.wallet.v1.ExtendRequest;
import dev.tally.proto.wallet.v1.Hold;
import dev.tally.proto.wallet.v1.LeaseExtension;
import dev.tally.proto.wallet.v1.Period;
import dev.tally.proto.wallet.v1.ReleaseRequest;
import dev.tally.proto.wallet.v1.ReserveRequest;
import dev.tally.proto.wallet.v1.SetQuotaRequest;
import dev.tally.proto.wallet.v1.SubHold;
import dev.tally.proto.wallet.v1.WriteSubHoldsRequest;
import dev.tally.proto.wallet.v1.WriteSubHoldsResponse;
import dev.tally.wallet.WalletFixture.TestUser;
import io.grpc.Status;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Leases as the wallet keeps them: granted through the chain like a hold, at most half of what is left; the
 * holds a gateway admitted from one written later, moving money out of the lease (never counted twice or
 * lost), also when their request was settled or released before the write, or the write is retried.
 */
class LeaseTest {
  private static WalletFixture f;

  @BeforeAll
  static void start() throws Exception {
    f = new WalletFixture(LeaseTest.class, IdentityPolicy.defaults(), Instant.parse("2026-11-10T12:00:00Z"));
  }

  @AfterEach
  void reconciled() {
    f.assertReconciled();
  }

  @AfterAll
  static void stop() {
    f.close();
  }

  private record Subject(TestUser owner, String team, String wallet, String member, String key) {}

  private static Subject subject(String label, long deposit) {
    TestUser owner = f.newUser(label);
    Team team = f.newTeam(owner, label);
    f.deposit(team.getWallet(), deposit, "pay_" + label);
    return new Subject(owner, team.getName(), team.getWallet(), team.getName() + "/members/" + owner.id(),
        "apiKeys/key-" + label);
  }

  private static Hold lease(Subject s, long wanted, long least) {
    return f.internal().reserve(ReserveRequest.newBuilder().setWallet(s.wallet()).setMember(s.member())
        .setApiKey(s.key()).setAmountNanos(wanted).setLease(true).setLeaseMinNanos(least)
        .setTtl(ProtoTime.duration(Duration.ofSeconds(10))).build()).getHold();
  }

  private static SubHold sub(Hold lease, int n, long amount) {
    String id = lease.getName().substring(lease.getName().lastIndexOf('/') + 1) + "_" + n;
    return SubHold.newBuilder().setLease(lease.getName()).setId(id).setAmountNanos(amount)
        .setExpireTime(ProtoTime.ts(f.clock.instant().plus(Duration.ofMinutes(10)))).build();
  }

  private static int write(WriteSubHoldsRequest.Builder r) {
    return f.internal().writeSubHolds(r.build()).getWritten();
  }

  private static String name(Hold lease, SubHold s) {
    return lease.getName().substring(0, lease.getName().lastIndexOf('/') + 1) + s.getId();
  }

  @Test
  void aLeaseTakesAtMostHalfOfWhatIsLeftAndIsRefusedWhenThatHalfIsTooLittle() {
    Subject s = subject("lease-half", 10 * DOLLAR);
    f.as(s.owner()).setQuota(SetQuotaRequest.newBuilder().setWallet(s.team())
        .setSubject(s.key()).setPeriod(Period.PERIOD_DAY).setLimitNanos(4 * DOLLAR).build());
    // Asked for $100, the key's $4 quota leaves $4: half of it.
    assertEquals(2 * DOLLAR, lease(s, 100 * DOLLAR, DOLLAR / 10).getAmountNanos());
    assertEquals(DOLLAR, lease(s, 100 * DOLLAR, DOLLAR / 10).getAmountNanos());
    assertEquals(DOLLAR / 2, lease(s, DOLLAR / 2, DOLLAR / 10).getAmountNanos(), "what it asked, when that fits");
    // $0.50 left: half of it does not cover $0.30 — the gateway reserves each request on its own now.
    assertFails(Status.Code.FAILED_PRECONDITION, "LEASE_NOT_GRANTED", () -> lease(s, DOLLAR, 3 * DOLLAR / 10));
    // A least amount the chain refuses is refused as its Reserve would be.
    assertFails(Status.Code.RESOURCE_EXHAUSTED, "QUOTA_EXCEEDED", () -> lease(s, DOLLAR, DOLLAR));
    assertEquals(3 * DOLLAR + DOLLAR / 2, f.get(s.wallet()).getHeldNanos());
  }

  @Test
  void writtenSubHoldsMoveMoneyOutOfTheLeaseOnceAndClosingGivesTheRestBack() {
    Subject s = subject("lease-write", 10 * DOLLAR);
    Hold lease = lease(s, 2 * DOLLAR, DOLLAR / 10);
    assertEquals(2 * DOLLAR, f.get(s.wallet()).getHeldNanos());
    WriteSubHoldsRequest.Builder three = WriteSubHoldsRequest.newBuilder().addSubHolds(sub(lease, 1, DOLLAR / 10))
        .addSubHolds(sub(lease, 2, DOLLAR / 5)).addSubHolds(sub(lease, 3, DOLLAR / 4));
    assertEquals(3, write(three));
    assertEquals(2 * DOLLAR, f.get(s.wallet()).getHeldNanos(), "moved from the lease: the total is unchanged");
    assertEquals(0, write(three), "a retried write changes nothing");
    assertEquals(2 * DOLLAR, f.get(s.wallet()).getHeldNanos());
    // Sub-holds are ordinary holds: released like any.
    f.internal().release(ReleaseRequest.newBuilder().setHold(name(lease, sub(lease, 2, 0))).build());
    assertEquals(2 * DOLLAR - DOLLAR / 5, f.get(s.wallet()).getHeldNanos());
    // Closing gives back what the lease still holds; the written holds stay.
    assertEquals(0, write(WriteSubHoldsRequest.newBuilder().addCloseLeases(lease.getName())));
    assertEquals(DOLLAR / 10 + DOLLAR / 4, f.get(s.wallet()).getHeldNanos());
    // A write arriving after its lease closed is held anew: never less held than admitted.
    assertEquals(1, write(WriteSubHoldsRequest.newBuilder().addSubHolds(sub(lease, 4, DOLLAR))));
    assertEquals(DOLLAR + DOLLAR / 10 + DOLLAR / 4, f.get(s.wallet()).getHeldNanos());
    // A lease is not a request's hold: not released, extended or settled by name.
    assertFails(Status.Code.NOT_FOUND, "NOT_FOUND", () -> f.internal().release(ReleaseRequest.newBuilder()
        .setHold(lease.getName()).build()));
  }

  @Test
  void aRequestEndedBeforeItsHoldIsWrittenFreesTheAmountWhenTheWriteArrives() {
    Subject s = subject("lease-early", 10 * DOLLAR);
    Hold lease = lease(s, 2 * DOLLAR, DOLLAR / 10);
    SubHold released = sub(lease, 1, DOLLAR / 2);
    SubHold used = sub(lease, 2, DOLLAR / 4);
    SubHold growing = sub(lease, 3, DOLLAR / 4);
    // Released through another gateway, and used (its usage debited), before this gateway wrote them.
    f.internal().release(ReleaseRequest.newBuilder().setHold(name(lease, released)).build());
    f.usage("lease-early-1", s.wallet(), "", s.key(), DOLLAR / 5, f.clock.instant(), name(lease, used));
    f.awaitBalance(s.wallet(), 10 * DOLLAR - DOLLAR / 5);
    // Not written yet, so it cannot grow: retry shortly.
    assertFails(Status.Code.UNAVAILABLE, "HOLD_NOT_WRITTEN", () -> f.internal().extend(ExtendRequest.newBuilder()
        .setHold(name(lease, growing)).setAmountNanos(DOLLAR / 10).build()));
    assertEquals(2 * DOLLAR, f.get(s.wallet()).getHeldNanos(), "the lease still holds their money");
    assertEquals(3, write(WriteSubHoldsRequest.newBuilder().addSubHolds(released).addSubHolds(used)
        .addSubHolds(growing)));
    assertEquals(2 * DOLLAR - DOLLAR / 2 - DOLLAR / 4, f.get(s.wallet()).getHeldNanos(),
        "the ended requests' amounts freed, the open one held");
    assertEquals(0, write(WriteSubHoldsRequest.newBuilder().addSubHolds(released).addSubHolds(used)));
    assertEquals(2 * DOLLAR - DOLLAR / 2 - DOLLAR / 4, f.get(s.wallet()).getHeldNanos());
    f.internal().extend(ExtendRequest.newBuilder().setHold(name(lease, growing)).setAmountNanos(DOLLAR / 10).build());
    write(WriteSubHoldsRequest.newBuilder().addCloseLeases(lease.getName()));
    assertEquals(DOLLAR / 4 + DOLLAR / 10, f.get(s.wallet()).getHeldNanos());
  }

  /** What a closed lease gave back is admitted again at once, exactly: the admission memory follows it. */
  @Test
  void aClosedLeaseCountsNothingInTheNextDecisions() {
    Subject s = subject("lease-memory", 10 * DOLLAR);
    f.as(s.owner()).setQuota(SetQuotaRequest.newBuilder().setWallet(s.team()).setSubject(s.key())
        .setPeriod(Period.PERIOD_DAY).setLimitNanos(4 * DOLLAR).build());
    Hold lease = lease(s, 2 * DOLLAR, DOLLAR / 10);
    write(WriteSubHoldsRequest.newBuilder().addSubHolds(sub(lease, 1, DOLLAR / 2)).addCloseLeases(lease.getName()));
    f.internal().reserve(WalletFixture.reserve(s.wallet(), 3 * DOLLAR + DOLLAR / 2, s.member(), s.key()));
    assertFails(Status.Code.RESOURCE_EXHAUSTED, "QUOTA_EXCEEDED",
        () -> f.internal().reserve(WalletFixture.reserve(s.wallet(), 1, s.member(), s.key())));
    assertEquals(4 * DOLLAR, f.get(s.wallet()).getHeldNanos());
  }

  @Test
  void anExpiredLeaseIsReleasedAndItsLateWritesHeldAnew() {
    Subject s = subject("lease-expiry", 10 * DOLLAR);
    Hold lease = lease(s, 2 * DOLLAR, DOLLAR / 10);
    write(WriteSubHoldsRequest.newBuilder().addSubHolds(sub(lease, 1, DOLLAR / 2)));
    f.clock.advance(Duration.ofSeconds(11));
    // Housekeeping runs before the next decision on the wallet: the lease's rest is released, not charged.
    f.internal().reserve(WalletFixture.reserve(s.wallet(), DOLLAR / 10, s.member(), s.key()));
    assertEquals(DOLLAR / 2 + DOLLAR / 10, f.get(s.wallet()).getHeldNanos());
    assertEquals(10 * DOLLAR, f.get(s.wallet()).getBalanceNanos(), "nothing charged for the lease");
    assertEquals(1, write(WriteSubHoldsRequest.newBuilder().addSubHolds(sub(lease, 2, DOLLAR / 4))));
    assertEquals(DOLLAR / 2 + DOLLAR / 10 + DOLLAR / 4, f.get(s.wallet()).getHeldNanos());
  }

  /**
   * The usual write (every hold a plain move out of a pending lease) takes no wallet lock, so it never waits
   * behind a wallet's other work; a close, which changes the wallet's held total, does.
   */
  @Test
  void plainWritesDoNotWaitForTheWalletsLockAndClosesDo() throws Exception {
    Subject s = subject("lease-unlocked", 10 * DOLLAR);
    Hold lease = lease(s, 2 * DOLLAR, DOLLAR / 10);
    try (java.sql.Connection other = f.walletSql()) {
      other.setAutoCommit(false);
      lockWalletOf(other, lease);
      assertEquals(2, f.internal().withDeadlineAfter(5, java.util.concurrent.TimeUnit.SECONDS).writeSubHolds(
          WriteSubHoldsRequest.newBuilder().addSubHolds(sub(lease, 1, DOLLAR / 2)).addSubHolds(sub(lease, 2, DOLLAR / 4))
              .build()).getWritten(), "written while another transaction holds the wallet's row");
      var closing = java.util.concurrent.CompletableFuture.supplyAsync(() -> write(WriteSubHoldsRequest.newBuilder()
          .addCloseLeases(lease.getName())));
      Thread.sleep(500);
      assertEquals(false, closing.isDone(), "a close waits for the wallet's row");
      other.rollback();
      assertEquals(0, closing.get(20, java.util.concurrent.TimeUnit.SECONDS));
    }
    assertEquals(DOLLAR / 2 + DOLLAR / 4, f.get(s.wallet()).getHeldNanos(), "the holds stay, the lease's rest is back");
    assertEquals(0, write(WriteSubHoldsRequest.newBuilder().addSubHolds(sub(lease, 1, DOLLAR / 2))), "written once");
    assertEquals(DOLLAR / 2 + DOLLAR / 4, f.get(s.wallet()).getHeldNanos());
  }

  /**
   * A request released while its gateway's write of its hold is under way (that write locks no wallet)
   * waits for it and then releases the written hold — it does not fail on the hold appearing meanwhile.
   */
  @Test
  void aReleaseMeetingTheWriteOfItsHoldReleasesTheWrittenHold() throws Exception {
    Subject s = subject("lease-race", 10 * DOLLAR);
    Hold lease = lease(s, 2 * DOLLAR, DOLLAR / 10);
    SubHold sub = sub(lease, 1, DOLLAR / 2);
    java.util.concurrent.CompletableFuture<?> release;
    try (java.sql.Connection writer = f.walletSql()) {
      writeUncommitted(writer, lease, sub);
      release = java.util.concurrent.CompletableFuture.runAsync(() -> f.internal().release(
          ReleaseRequest.newBuilder().setHold(name(lease, sub)).build()));
      Thread.sleep(500);
      assertEquals(false, release.isDone(), "the release waits for the write");
      writer.commit();
    }
    release.get(20, java.util.concurrent.TimeUnit.SECONDS);
    assertEquals(2 * DOLLAR - DOLLAR / 2, f.get(s.wallet()).getHeldNanos(), "the written hold released, the lease's rest held");
    assertEquals(0, write(WriteSubHoldsRequest.newBuilder().addSubHolds(sub)), "the gateway's retry changes nothing");
    assertEquals(2 * DOLLAR - DOLLAR / 2, f.get(s.wallet()).getHeldNanos());
  }

  /**
   * A write that meets a transaction settling or releasing two of its holds before they are written (usage,
   * Release: the wallet's lock, then a stand-in per hold, in their own order) could wait for that
   * transaction's second stand-in while holding the first hold it wants: a deadlock PostgreSQL ends only
   * after a second, failing one side. The write gives up such a wait at once and goes the locking way,
   * which waits for the wallet's lock instead: neither side fails, each hold ends once.
   */
  @Test
  void aWriteMeetingStandInsInAnotherOrderNeitherDeadlocksNorFails() throws Exception {
    Subject s = subject("lease-cycle", 10 * DOLLAR);
    Hold lease = lease(s, 2 * DOLLAR, DOLLAR / 10);
    SubHold first = sub(lease, 1, DOLLAR / 2);
    SubHold second = sub(lease, 2, DOLLAR / 4);
    java.util.concurrent.CompletableFuture<Integer> writing;
    try (java.sql.Connection usage = f.walletSql()) {
      usage.setAutoCommit(false);
      lockWalletOf(usage, lease);
      insertReleasedStandIn(usage, lease, second);
      writing = java.util.concurrent.CompletableFuture.supplyAsync(() -> f.internal()
          .withDeadlineAfter(20, java.util.concurrent.TimeUnit.SECONDS)
          .writeSubHolds(WriteSubHoldsRequest.newBuilder().addSubHolds(first).addSubHolds(second).build())
          .getWritten());
      Thread.sleep(300); // the write is under way, waiting for the second hold's stand-in
      long started = System.nanoTime();
      insertReleasedStandIn(usage, lease, first);
      assertEquals(true, Duration.ofNanos(System.nanoTime() - started).compareTo(Duration.ofMillis(500)) < 0,
          "the other transaction's stand-in waited " + Duration.ofNanos(System.nanoTime() - started));
      usage.commit();
    }
    writing.get(20, java.util.concurrent.TimeUnit.SECONDS);
    assertEquals(2 * DOLLAR - DOLLAR / 2 - DOLLAR / 4, f.get(s.wallet()).getHeldNanos(),
        "both requests ended before their write: their amounts freed from the lease");
  }

  /** A zero-amount stand-in of a request released before its hold was written, left uncommitted on {@code c}. */
  private static void insertReleasedStandIn(java.sql.Connection c, Hold lease, SubHold sub)
      throws java.sql.SQLException {
    try (var ps = c.prepareStatement("insert into holds (id, wallet, amount, state, api_key, member, expire_time, "
        + "close_time) select ?, wallet, 0, 'released', api_key, member, expire_time, now() from holds where id = ?")) {
      ps.setString(1, sub.getId());
      ps.setString(2, leaseId(lease));
      assertEquals(1, ps.executeUpdate());
    }
  }

  /** The gateway's write of {@code sub} as {@code moveOutOfLeases} makes it, left uncommitted on {@code c}. */
  private static void writeUncommitted(java.sql.Connection c, Hold lease, SubHold sub) throws java.sql.SQLException {
    c.setAutoCommit(false);
    try (var ps = c.prepareStatement("insert into holds (id, wallet, amount, state, api_key, member, expire_time) "
        + "select ?, wallet, ?, 'pending', api_key, member, now() + interval '10 minutes' from holds where id = ?")) {
      ps.setString(1, sub.getId());
      ps.setLong(2, sub.getAmountNanos());
      ps.setString(3, leaseId(lease));
      assertEquals(1, ps.executeUpdate());
    }
    try (var ps = c.prepareStatement("update holds set amount = amount - ? where id = ?")) {
      ps.setLong(1, sub.getAmountNanos());
      ps.setString(2, leaseId(lease));
      assertEquals(1, ps.executeUpdate());
    }
  }

  /**
   * A lease expiring while a write moves money out of it (that write locks no wallet) releases what it holds
   * when it is closed, not what it held when housekeeping read it: the moved hold stays held.
   */
  @Test
  void anExpiringLeaseReleasesWhatItHoldsWhenClosedNotWhenRead() throws Exception {
    Subject s = subject("lease-expiring-write", 10 * DOLLAR);
    Hold lease = lease(s, 2 * DOLLAR, DOLLAR / 10);
    f.clock.advance(Duration.ofSeconds(11));
    java.util.concurrent.CompletableFuture<?> reserve;
    try (java.sql.Connection writer = f.walletSql()) {
      writeUncommitted(writer, lease, sub(lease, 1, DOLLAR / 2));
      // Its housekeeping reads the due lease at $2, then waits for the lease's row to close it.
      reserve = java.util.concurrent.CompletableFuture.runAsync(() -> f.internal().reserve(
          WalletFixture.reserve(s.wallet(), DOLLAR / 10, s.member(), s.key())));
      Thread.sleep(500);
      assertEquals(false, reserve.isDone(), "housekeeping waits for the write");
      writer.commit();
    }
    reserve.get(20, java.util.concurrent.TimeUnit.SECONDS);
    assertEquals(DOLLAR / 2 + DOLLAR / 10, f.get(s.wallet()).getHeldNanos(),
        "the lease's $1.50 released, the written hold and the new reservation held");
  }

  /**
   * A lease its gateway keeps using lives on in place: its expiry moves (with sub-holds in the same write, on
   * the quick path or the locking one), never shorter and never past a minute after it was granted, and
   * never for a lease that ended; its money stays held throughout, and the ledger is untouched.
   */
  @Test
  void aLeaseInUseIsExtendedInPlaceWithinItsLifeAndAnEndedOneIsNot() throws Exception {
    Subject s = subject("lease-extend", 10 * DOLLAR);
    Instant granted = f.clock.instant();
    Hold lease = lease(s, 2 * DOLLAR, DOLLAR / 10);
    Hold other = lease(s, DOLLAR, DOLLAR / 10);
    assertEquals(granted.plusSeconds(10), expiry(lease));
    try {
      f.clock.advance(Duration.ofSeconds(6));
      var answer = f.internal().writeSubHolds(WriteSubHoldsRequest.newBuilder().addSubHolds(sub(lease, 1, DOLLAR / 10))
          .addExtendLeases(extension(lease, 10)).build());
      assertEquals(1, answer.getWritten());
      assertEquals(Map.of(lease.getName(), Duration.ofSeconds(10)), extended(answer));
      assertEquals(granted.plusSeconds(16), expiry(lease));
      // A closed lease is not extended.
      write(WriteSubHoldsRequest.newBuilder().addCloseLeases(other.getName()));
      assertEquals(Map.of(), extended(f.internal().writeSubHolds(WriteSubHoldsRequest.newBuilder()
          .addExtendLeases(extension(other, 10)).build())));

      // Past its first expiry it is still pending, its money held.
      f.clock.advance(Duration.ofSeconds(6));
      f.wallet.housekeeper().runOnce();
      assertEquals(2 * DOLLAR, f.get(s.wallet()).getHeldNanos());
      // A retried item sends the write the locking way, the extension with it; a minute after the grant at most.
      answer = f.internal().writeSubHolds(WriteSubHoldsRequest.newBuilder().addSubHolds(sub(lease, 1, DOLLAR / 10))
          .addExtendLeases(extension(lease, 50)).build());
      assertEquals(0, answer.getWritten());
      assertEquals(Map.of(lease.getName(), Duration.ofSeconds(48)), extended(answer));
      assertEquals(granted.plusSeconds(60), expiry(lease));
      assertEquals(Map.of(), extended(f.internal().writeSubHolds(WriteSubHoldsRequest.newBuilder()
          .addExtendLeases(extension(lease, 10)).build())), "never shorter than it was");

      // Ended by time: not revived, and released as any expired lease.
      f.clock.advance(Duration.ofSeconds(49));
      assertEquals(Map.of(), extended(f.internal().writeSubHolds(WriteSubHoldsRequest.newBuilder()
          .addExtendLeases(extension(lease, 10)).build())));
      f.wallet.housekeeper().runOnce();
      assertEquals(DOLLAR / 10, f.get(s.wallet()).getHeldNanos(), "the written sub-hold alone");
    } finally {
      f.clock.advance(Duration.ofSeconds(-61));
    }
  }

  private static LeaseExtension extension(Hold lease, int seconds) {
    return LeaseExtension.newBuilder().setLease(lease.getName()).setTtl(ProtoTime.duration(Duration.ofSeconds(seconds)))
        .build();
  }

  private static Map<String, Duration> extended(WriteSubHoldsResponse answer) {
    Map<String, Duration> m = new java.util.HashMap<>();
    answer.getExtendedLeasesList().forEach(e -> m.put(e.getLease(), ProtoTime.duration(e.getTimeLeft())));
    return m;
  }

  private static Instant expiry(Hold lease) throws java.sql.SQLException {
    try (var c = f.walletSql(); var q = c.prepareStatement("select expire_time from holds where id = ?")) {
      q.setString(1, leaseId(lease));
      try (var rs = q.executeQuery()) {
        rs.next();
        return rs.getObject(1, java.time.OffsetDateTime.class).toInstant();
      }
    }
  }

  private static String leaseId(Hold lease) {
    return lease.getName().substring(lease.getName().lastIndexOf('/') + 1);
  }

  private static void lockWalletOf(java.sql.Connection c, Hold lease) throws java.sql.SQLException {
    try (var ps = c.prepareStatement("select 1 from wallets where name = (select wallet from holds where id = ?) "
        + "for update")) {
      ps.setString(1, leaseId(lease));
      ps.executeQuery().close();
    }
  }
}
