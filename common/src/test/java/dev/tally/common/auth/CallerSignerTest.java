package dev.tally.common.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tally.common.error.TallyException;
import dev.tally.common.testing.MutableClock;
import io.grpc.Status;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** A captured caller header is worth nothing: not for another method, not after 30 s, not with another key. */
class CallerSignerTest {
  private final MutableClock clock = new MutableClock(Instant.parse("2026-11-23T12:00:00Z"));
  private final CallerSigner signer = new CallerSigner("the-cluster-signing-key", clock);
  private final Caller owner = Caller.user("users/u1");

  @Test
  void aHeaderVerifiesForTheMethodItWasSignedFor() {
    String header = signer.sign(owner, "tally.wallet.v1.WalletService/GetWallet");
    assertEquals(owner, signer.verify(header, "tally.wallet.v1.WalletService/GetWallet"));
  }

  @Test
  void aHeaderIsRefusedForAnotherMethod() {
    String header = signer.sign(owner, "tally.wallet.v1.WalletService/GetWallet");
    TallyException e = assertThrows(TallyException.class,
        () -> signer.verify(header, "tally.wallet.v1.WalletService/Deposit"));
    assertEquals(Status.Code.UNAUTHENTICATED, e.code());
  }

  @Test
  void aHeaderIsRefusedAfterItsLifetime() {
    String header = signer.sign(owner, "m");
    clock.advance(Duration.ofSeconds(CallerSigner.LIFETIME_SECONDS + 1));
    assertEquals(Status.Code.UNAUTHENTICATED, assertThrows(TallyException.class, () -> signer.verify(header, "m"))
        .code());
  }

  @Test
  void aHeaderSignedWithAnotherKeyIsRefused() {
    String header = new CallerSigner("dev-internal-auth-key-change-me", clock).sign(Caller.PLATFORM, "m");
    assertEquals(Status.Code.UNAUTHENTICATED, assertThrows(TallyException.class, () -> signer.verify(header, "m"))
        .code());
  }
}
