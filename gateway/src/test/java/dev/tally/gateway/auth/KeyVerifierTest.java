package dev.tally.gateway.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tally.common.auth.CallerSigner;
import dev.tally.proto.identity.v1.ApiKey;
import dev.tally.proto.identity.v1.IdentityInternalServiceGrpc;
import dev.tally.proto.identity.v1.VerifyApiKeyRequest;
import dev.tally.proto.identity.v1.VerifyApiKeyResponse;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The key cache against an identity service that counts the verifications it is asked for: callers of a
 * secret being verified share one call, and an answer near the end of its life is re-verified in the
 * background while it is still served, so many keys expiring together under load never storm identity.
 */
class KeyVerifierTest {
  private static final String SECRET = "tly_test_0123456789abcdef";

  private final AtomicInteger calls = new AtomicInteger();
  private volatile long answerAfterMillis;
  private Server server;
  private ManagedChannel channel;

  @BeforeEach
  void start() throws Exception {
    String name = InProcessServerBuilder.generateName();
    server = InProcessServerBuilder.forName(name).executor(Executors.newVirtualThreadPerTaskExecutor())
        .addService(new IdentityInternalServiceGrpc.IdentityInternalServiceImplBase() {
          @Override
          public void verifyApiKey(VerifyApiKeyRequest req, StreamObserver<VerifyApiKeyResponse> out) {
            calls.incrementAndGet();
            try {
              Thread.sleep(answerAfterMillis);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
            out.onNext(VerifyApiKeyResponse.newBuilder().setApiKey(ApiKey.newBuilder().setName("apiKeys/k1")).build());
            out.onCompleted();
          }
        }).build().start();
    channel = InProcessChannelBuilder.forName(name).build();
  }

  @AfterEach
  void stop() {
    channel.shutdownNow();
    server.shutdownNow();
  }

  private KeyVerifier verifier(Duration ttl) {
    return new KeyVerifier(channel, new CallerSigner("test-signing-key-0123456789", Clock.systemUTC()), ttl,
        Clock.systemUTC(), 0);
  }

  @Test
  void concurrentCallersOfOneSecretShareOneVerification() throws Exception {
    answerAfterMillis = 300;
    KeyVerifier keys = verifier(Duration.ofSeconds(60));
    ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
    List<Callable<String>> callers = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      callers.add(() -> keys.verify(SECRET).getApiKey().getName());
    }
    for (Future<String> f : pool.invokeAll(callers)) {
      assertEquals("apiKeys/k1", f.get());
    }
    pool.shutdown();
    assertEquals(1, calls.get(), "200 callers, one verification");
  }

  @Test
  void anAnswerNearItsEndIsReverifiedInTheBackgroundAndLivesOn() throws Exception {
    KeyVerifier keys = verifier(Duration.ofMillis(1_200));
    keys.verify(SECRET);
    Thread.sleep(1_000); // in its last quarter
    keys.verify(SECRET); // served, and re-verified behind it
    for (int i = 0; i < 100 && calls.get() < 2; i++) {
      Thread.sleep(20); // the background re-verification
    }
    assertEquals(2, calls.get(), "re-verified once");
    Thread.sleep(400); // past the first answer's life: the re-verified one is used
    keys.verify(SECRET);
    assertEquals(2, calls.get());
  }
}
