package dev.tally.common.db;

import static dev.tally.common.db.jooq.Tables.REQUEST_LOG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tally.common.error.TallyException;
import dev.tally.common.testing.TestInfra;
import dev.tally.proto.identity.v1.CreateTeamRequest;
import dev.tally.proto.identity.v1.CreateTeamResponse;
import dev.tally.proto.identity.v1.Team;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class IdempotencyTest {
  private static final String METHOD = "tally.identity.v1.IdentityService/CreateTeam";
  private static Database db;

  @BeforeAll
  static void open() {
    db = Database.open(TestInfra.newDatabase(IdempotencyTest.class, "probe"), "probe", null);
  }

  @AfterAll
  static void close() {
    db.close();
  }

  private static CreateTeamResponse create(String principal, CreateTeamRequest request, AtomicInteger runs) {
    return db.transaction(tx -> Idempotency.once(tx.dsl(), principal, METHOD, request.getRequestId(), request,
        CreateTeamResponse.parser(), dsl -> {
          int n = runs.incrementAndGet();
          return CreateTeamResponse.newBuilder()
              .setTeam(Team.newBuilder().setName("teams/" + n).setDisplayName(request.getDisplayName())).build();
        }));
  }

  @Test
  void replayWithSamePayloadReturnsTheFirstResponseWithoutRunningAgain() {
    AtomicInteger runs = new AtomicInteger();
    CreateTeamRequest request = CreateTeamRequest.newBuilder().setDisplayName("Acme").setRequestId("r-1").build();
    CreateTeamResponse first = create("users/1", request, runs);
    CreateTeamResponse second = create("users/1", request, runs);
    assertEquals(first, second);
    assertEquals(1, runs.get());
    assertEquals(1, db.dsl().fetchCount(REQUEST_LOG, REQUEST_LOG.REQUEST_ID.eq("r-1")));
  }

  @Test
  void sameIdWithDifferentPayloadIsAlreadyExistsIdempotencyKeyReused() {
    AtomicInteger runs = new AtomicInteger();
    create("users/1", CreateTeamRequest.newBuilder().setDisplayName("Acme").setRequestId("r-2").build(), runs);
    TallyException e = assertThrows(TallyException.class, () -> create("users/1",
        CreateTeamRequest.newBuilder().setDisplayName("Other").setRequestId("r-2").build(), runs));
    assertEquals(Status.Code.ALREADY_EXISTS, e.code());
    assertEquals("IDEMPOTENCY_KEY_REUSED", e.reason());
    assertEquals(1, runs.get());
  }

  @Test
  void requestIdsAreScopedToThePrincipal() {
    AtomicInteger runs = new AtomicInteger();
    CreateTeamRequest request = CreateTeamRequest.newBuilder().setDisplayName("Acme").setRequestId("r-3").build();
    create("users/1", request, runs);
    create("users/2", request, runs);
    assertEquals(2, runs.get());
  }

  @Test
  void noRequestIdMeansNoDeduplication() {
    AtomicInteger runs = new AtomicInteger();
    CreateTeamRequest request = CreateTeamRequest.newBuilder().setDisplayName("Acme").build();
    create("users/1", request, runs);
    create("users/1", request, runs);
    assertEquals(2, runs.get());
  }

  @Test
  void concurrentFirstAttemptsRunTheWorkOnce() throws Exception {
    AtomicInteger runs = new AtomicInteger();
    CreateTeamRequest request = CreateTeamRequest.newBuilder().setDisplayName("Acme").setRequestId("r-4").build();
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      List<Callable<CreateTeamResponse>> calls = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        calls.add(() -> create("users/1", request, runs));
      }
      List<CreateTeamResponse> responses = new ArrayList<>();
      for (Future<CreateTeamResponse> f : pool.invokeAll(calls)) {
        responses.add(f.get());
      }
      assertEquals(1, runs.get());
      assertEquals(1, responses.stream().distinct().count());
    } finally {
      pool.shutdownNow();
    }
  }
}
