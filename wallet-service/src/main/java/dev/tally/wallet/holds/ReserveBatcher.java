package dev.tally.wallet.holds;

import com.google.protobuf.Message;
import com.google.protobuf.Parser;
import dev.tally.common.auth.Caller;
import dev.tally.common.db.Database;
import dev.tally.common.db.Idempotency;
import dev.tally.common.error.ErrorMapper;
import dev.tally.common.error.Reasons;
import dev.tally.common.error.TallyException;
import io.grpc.Context;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import org.jooq.DSLContext;

/**
 * Group commit for reservations: concurrent Reserve calls for one wallet are decided together in one
 * transaction that takes the wallet's row lock once, so admission costs one lock per batch rather than per
 * request while every decision still sees the ones before it (no two holds can spend the same money).
 * A failing request fails alone; an error of the whole transaction fails the batch, whose callers retry.
 * A call whose caller gave up (deadline passed, cancelled) by the time its turn comes is dropped before it
 * reserves: no hold is left locking money for a request nobody waits for.
 */
public final class ReserveBatcher implements AutoCloseable {
  static final int MAX_BATCH = 256;

  private final Database db;
  private final HoldManager holds;
  private final ExecutorService workers = Executors.newVirtualThreadPerTaskExecutor();
  private final Map<String, Queue> queues = new ConcurrentHashMap<>();

  public ReserveBatcher(Database db, HoldManager holds) {
    this.db = db;
    this.holds = holds;
  }

  /** A reservation call waiting for its batch. */
  public record Call<R extends Message>(Caller caller, String method, String requestId, Message request,
      Parser<R> parser, HoldManager.Request reservation, Function<HoldManager.Reserved, R> toResponse,
      CompletableFuture<R> result) {}

  /** A call with the gRPC context of its caller (deadline, cancellation). */
  private record Pending(Call<?> call, Context context) {}

  private static final class Queue {
    final ConcurrentLinkedQueue<Pending> calls = new ConcurrentLinkedQueue<>();
    final AtomicBoolean draining = new AtomicBoolean();
  }

  public <R extends Message> R reserve(Call<R> call) {
    Queue q = queues.computeIfAbsent(call.reservation().wallet(), w -> new Queue());
    q.calls.add(new Pending(call, Context.current()));
    if (q.draining.compareAndSet(false, true)) {
      workers.execute(() -> drain(q));
    }
    try {
      return call.result().join();
    } catch (java.util.concurrent.CompletionException e) {
      throw e.getCause() instanceof RuntimeException re ? re : e;
    }
  }

  private void drain(Queue q) {
    while (true) {
      List<Pending> batch = new ArrayList<>();
      Pending c;
      while (batch.size() < MAX_BATCH && (c = q.calls.poll()) != null) {
        batch.add(c);
      }
      if (!batch.isEmpty()) {
        decide(batch);
        continue;
      }
      q.draining.set(false);
      // A call enqueued after the poll above but before the flag was cleared must not be stranded.
      if (q.calls.isEmpty() || !q.draining.compareAndSet(false, true)) {
        return;
      }
    }
  }

  private void decide(List<Pending> batch) {
    List<Runnable> completions = new ArrayList<>();
    try {
      db.transaction(tx -> {
        completions.clear();
        HoldManager.Locked locked = holds.lock(tx.dsl(), batch.getFirst().call().reservation().wallet());
        for (Pending p : batch) {
          completions.add(p.context().isCancelled() ? abandoned(p) : decideOne(tx.dsl(), locked, p.call()));
        }
        holds.finish(tx.dsl(), locked);
        return null;
      });
      completions.forEach(Runnable::run);
    } catch (Exception e) {
      for (Pending p : batch) {
        p.call().result().completeExceptionally(ErrorMapper.toStatusRuntimeException(e));
      }
    }
  }

  /** The caller is gone: nothing is reserved, and the (unread) answer says why. */
  private Runnable abandoned(Pending p) {
    abandonedCount.incrementAndGet();
    Throwable cause = p.context().cancellationCause();
    boolean late = cause != null && Status.fromThrowable(cause).getCode() == Status.Code.DEADLINE_EXCEEDED;
    TallyException e = late
        ? new TallyException(Status.Code.DEADLINE_EXCEEDED, Reasons.DEADLINE_EXCEEDED,
            "the call's deadline passed before its turn; nothing was reserved")
        : new TallyException(Status.Code.CANCELLED, "CANCELLED", "the call was cancelled; nothing was reserved");
    return () -> p.call().result().completeExceptionally(ErrorMapper.fromDomain(e));
  }

  private final java.util.concurrent.atomic.AtomicLong abandonedCount = new java.util.concurrent.atomic.AtomicLong();

  /** Calls dropped because their caller had given up (for tests and metrics). */
  public long abandoned() {
    return abandonedCount.get();
  }

  private <R extends Message> Runnable decideOne(DSLContext tx, HoldManager.Locked locked, Call<R> call) {
    try {
      R response = Idempotency.once(tx, call.caller().key(), call.method(), call.requestId(), call.request(),
          call.parser(), dsl -> call.toResponse().apply(holds.reserveLocked(dsl, locked, call.reservation())));
      return () -> call.result().complete(response);
    } catch (RuntimeException e) {
      return () -> call.result().completeExceptionally(ErrorMapper.toStatusRuntimeException(e));
    }
  }

  @Override
  public void close() {
    workers.shutdown();
  }
}
