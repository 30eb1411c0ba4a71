package dev.tally.stack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Duration;
import dev.tally.common.grpc.ProtoTime;
import dev.tally.common.testing.GrpcAssertions;
import dev.tally.proto.admission.v1.AdmissionServiceGrpc;
import dev.tally.proto.admission.v1.AdmitRequest;
import dev.tally.proto.identity.v1.*;
import dev.tally.proto.wallet.v1.DepositRequest;
import dev.tally.proto.wallet.v1.GetWalletRequest;
import dev.tally.proto.wallet.v1.GrantCreditsRequest;
import dev.tally.proto.wallet.v1.SetDiscountRequest;
import dev.tally.proto.wallet.v1.SetPlanRequest;
import dev.tally.proto.wallet.v1.WalletServiceGrpc;
import io.grpc.CallCredentials;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Instant;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The holes an attacker found, closed: minting, keys that outlive their expiry, throttles that lock out others.
 * The throttling tests run last: they leave this machine's address hot for a minute.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SecurityTest {
  private static final long DOLLAR = 1_000_000_000L;
  private static final AtomicInteger N = new AtomicInteger();
  private static TallyStack stack;
  private static GatewayClient gw;

  @BeforeAll
  static void start() throws Exception {
    gw = GatewayClient.startStack(SecurityTest.class, s -> stack = s);
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

  private record Owned(User owner, Team team) {
    CallCredentials as() {
      return gw.asUser(owner.getName());
    }
  }

  private static Owned team() {
    int n = N.incrementAndGet();
    User owner = identity(gw.platform()).upsertUser(UpsertUserRequest.newBuilder().setExternalId("sec|" + n)
        .setEmail("sec" + n + "@sec.test").build()).getUser();
    Team team = identity(gw.asUser(owner.getName())).createTeam(CreateTeamRequest.newBuilder()
        .setDisplayName("Sec " + n).build()).getTeam();
    wallet(gw.platform()).deposit(DepositRequest.newBuilder().setWallet(team.getWallet()).setAmountNanos(10 * DOLLAR)
        .setCurrencyCode("USD").setExternalReference("sec-pay-" + n).build());
    return new Owned(owner, team);
  }

  private static CreateApiKeyResponse key(Owned o, CreateApiKeyRequest.Builder b) {
    return identity(o.as()).createApiKey(b.setTeam(o.team().getName()).setKind(ApiKeyKind.API_KEY_KIND_TEAM)
        .setDisplayName("k" + N.incrementAndGet()).build());
  }

  private static void admit(String secret) {
    AdmissionServiceGrpc.newBlockingStub(gw.channel).withCallCredentials(gw.platform())
        .withDeadlineAfter(20, TimeUnit.SECONDS).admit(AdmitRequest.newBuilder().setApiKeySecret(secret)
            .setMeter("requests").setEstimatedQuantity(1).build());
  }

  private static void whoAmI(String secret) {
    identity(gw.apiKey(secret)).getUser(GetUserRequest.newBuilder().setName("users/me").build());
  }

  @Test
  void onlyThePlatformCreatesMoney() {
    Owned o = team();
    String secret = key(o, CreateApiKeyRequest.newBuilder()).getSecret();
    for (CallCredentials who : new CallCredentials[] {gw.apiKey(secret), o.as()}) {
      var w = wallet(who);
      String t = o.team().getName();
      GrpcAssertions.assertFails(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN", () -> w.deposit(DepositRequest
          .newBuilder().setWallet(t).setAmountNanos(1_000_000 * DOLLAR).setCurrencyCode("USD")
          .setExternalReference("mint-" + N.incrementAndGet()).build()));
      GrpcAssertions.assertFails(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN", () -> w.grantCredits(
          GrantCreditsRequest.newBuilder().setWallet(t).setAmountNanos(1_000 * DOLLAR).setRequestId("grant-1").build()));
      GrpcAssertions.assertFails(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN", () -> w.setDiscount(
          SetDiscountRequest.newBuilder().setWallet(t).setDiscountBasisPoints(10_000).build()));
      GrpcAssertions.assertFails(Status.Code.PERMISSION_DENIED, "ROLE_FORBIDDEN", () -> w.setPlan(
          SetPlanRequest.newBuilder().setWallet(t).setPlan("plans/enterprise").setSeats(1000).build()));
    }
    assertEquals(10 * DOLLAR, wallet(gw.platform()).getWallet(GetWalletRequest.newBuilder()
        .setName(o.team().getWallet()).build()).getWallet().getBalanceNanos());
  }

  /** Polls {@code call} until it fails; returns how long after {@code deadline} it first failed (ms). */
  private static long refusedAfter(Instant deadline, Runnable call) throws InterruptedException {
    while (true) {
      try {
        call.run();
      } catch (StatusRuntimeException e) {
        return Instant.now().toEpochMilli() - deadline.toEpochMilli();
      }
      assertTrue(Instant.now().isBefore(deadline.plusSeconds(5)), "still accepted 5 s after it should stop");
      Thread.sleep(50);
    }
  }

  @Test
  void anExpiredKeyIsRefusedWithinASecondOfItsExpiry() throws Exception {
    Owned o = team();
    Instant expiry = Instant.now().plusSeconds(3);
    String secret = key(o, CreateApiKeyRequest.newBuilder().setExpireTime(ProtoTime.ts(expiry))).getSecret();
    admit(secret); // cached as valid now
    whoAmI(secret);
    long admitLate = refusedAfter(expiry, () -> admit(secret));
    long callLate = refusedAfter(expiry, () -> whoAmI(secret));
    assertTrue(admitLate <= 1_000, "Admit accepted the expired key " + admitLate + " ms past its expiry");
    assertTrue(callLate <= 1_000, "a forwarded call accepted it " + callLate + " ms past its expiry");
  }

  @Test
  void aRotatedOutSecretIsRefusedWithinASecondOfItsGraceEnd() throws Exception {
    Owned o = team();
    CreateApiKeyResponse k = key(o, CreateApiKeyRequest.newBuilder());
    admit(k.getSecret());
    whoAmI(k.getSecret());
    Instant graceEnd = Instant.now().plusSeconds(2);
    RotateApiKeyResponse rotated = identity(o.as()).rotateApiKey(RotateApiKeyRequest.newBuilder()
        .setName(k.getApiKey().getName()).setGracePeriod(Duration.newBuilder().setSeconds(2)).build());
    admit(k.getSecret()); // the old secret still works in its grace period
    long late = refusedAfter(graceEnd, () -> admit(k.getSecret()));
    assertTrue(late <= 1_000, "the rotated-out secret passed " + late + " ms after its grace ended");
    long callLate = refusedAfter(graceEnd, () -> whoAmI(k.getSecret()));
    assertTrue(callLate <= 1_000, "a forwarded call accepted it " + callLate + " ms after its grace ended");
    admit(rotated.getSecret());
  }

  @Test
  @Order(Integer.MAX_VALUE - 1)
  void failuresFromAnAddressNeverLockOutAValidKeyThere() throws Exception {
    Owned o = team();
    String known = key(o, CreateApiKeyRequest.newBuilder()).getSecret();
    whoAmI(known); // known valid before the attack
    Map<Status.Code, Integer> attack = new EnumMap<>(Status.Code.class);
    for (int i = 0; i < 60; i++) {
      try {
        whoAmI("tly_guess" + i + "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
      } catch (StatusRuntimeException e) {
        attack.merge(e.getStatus().getCode(), 1, Integer::sum);
      }
    }
    assertTrue(attack.getOrDefault(Status.Code.RESOURCE_EXHAUSTED, 0) > 0, "the guesser is slowed: " + attack);
    whoAmI(known); // the address is hot; a key known valid is never refused
    admit(known);
    Thread.sleep(150);
    String fresh = key(o, CreateApiKeyRequest.newBuilder()).getSecret();
    whoAmI(fresh); // an unknown valid key is checked in the slow lane, then known
    for (int i = 0; i < 5; i++) {
      whoAmI(fresh);
    }
  }

  @Test
  @Order(Integer.MAX_VALUE)
  void guessingKeysThroughAdmitIsSlowed() {
    Map<Status.Code, Integer> codes = new EnumMap<>(Status.Code.class);
    for (int i = 0; i < 80; i++) {
      try {
        admit("tly_admitguess" + i + "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyy");
      } catch (StatusRuntimeException e) {
        codes.merge(e.getStatus().getCode(), 1, Integer::sum);
      }
    }
    assertTrue(codes.getOrDefault(Status.Code.RESOURCE_EXHAUSTED, 0) > 0, "wrong keys via Admit are slowed: " + codes);
  }

  @Test
  void guessingInvitationTokensIsThrottled() {
    int n = N.incrementAndGet();
    User guesser = identity(gw.platform()).upsertUser(UpsertUserRequest.newBuilder().setExternalId("guess|" + n)
        .setEmail("guess" + n + "@sec.test").build()).getUser();
    var as = identity(gw.asUser(guesser.getName()));
    Map<Status.Code, Integer> codes = new EnumMap<>(Status.Code.class);
    for (int i = 0; i < 30; i++) {
      try {
        as.acceptInvitation(AcceptInvitationRequest.newBuilder().setToken("guessed-token-" + i + "-abcdefghijklmnop")
            .build());
      } catch (StatusRuntimeException e) {
        codes.merge(e.getStatus().getCode(), 1, Integer::sum);
      }
    }
    assertTrue(codes.getOrDefault(Status.Code.RESOURCE_EXHAUSTED, 0) >= 15, "token guessing throttled: " + codes);
    GrpcAssertions.assertFails(Status.Code.RESOURCE_EXHAUSTED, "INVITATION_THROTTLED", () -> as.acceptInvitation(
        AcceptInvitationRequest.newBuilder().setToken("one-more-guess-abcdefghijklmnopqrst").build()));
  }
}
