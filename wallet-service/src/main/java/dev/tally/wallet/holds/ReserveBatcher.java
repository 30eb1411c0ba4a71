package dev.tally.wallet.holds;

import com.google.protobuf.Message;
import com.google.protobuf.Parser;
import dev.tally.common.admission.AdmissionQueue;
import dev.tally.common.auth.Caller;
import dev.tally.common.db.Database;
import dev.tally.common.db.Idempotency;
import dev.tally.common.error.ErrorMapper;
import dev.tally.common.error.TallyException;
import io.grpc.Context;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import org.jooq.DSLContext;

/**
 * Group commit for reservations: the Reserve calls waiting at a moment, for any number of wallets, are
 * decided together in one transaction that locks their wallets once (in name order) and reads and writes
 * with a fixed number of statements (see {@link HoldManager#lockAll}), so admission costs one transaction
 * per batch rather than per request while every decision still sees the ones before it (no two holds can
 * spend the same money). While a batch commits the next one gathers: the busier, the larger the batches.
 * A failing request fails alone; an error of the whole transaction fails the batch, whose callers retry.
 * A call whose caller gave up (deadline passed, cancelled) by the time its turn comes is dropped before it
 * reserves: no hold is left locking money for a request nobody waits for. Beyond capacity it sheds at once:
 * with more than {@link #MAX_WAITING} calls already waiting, a call is answered {@code UNAVAILABLE
 * ADMISSION_OVERLOADED} with a RetryInfo delay instead of joining a queue whose tail would time out anyway.
 */
public final class ReserveBatcher implements AutoCloseable {
  static final int MAX_BATCH = 1_024;
  /** Calls waiting across all wallets beyond which new ones are shed (a few batches' worth). */
  static final int MAX_WAITING = 2 * MAX_BATCH;

  private final java.util.concurrent.atomic.AtomicInteger waiting = new java.util.concurrent.atomic.AtomicInteger();
  private final java.util.concurrent.atomic.AtomicLong shedCount = new java.util.concurrent.atomic.AtomicLong();

  private final Database db;
  private final HoldManager holds;
  private final ExecutorService workers = Executors.newVirtualThreadPerTaskExecutor();
  private final Queue queue = new Queue();

  private final int maxWaiting;

  public ReserveBatcher(Database db, HoldManager holds) {
    this(db, holds, MAX_WAITING);
  }

  private ReserveBatcher(Database db, HoldManager holds, int maxWaiting) {
    this.db = db;
    this.holds = holds;
    this.maxWaiting = maxWaiting;
  }

  /** Another batcher on the same wallets that sheds beyond {@code maxWaiting} waiting calls (for tests). */
  public ReserveBatcher withMaxWaiting(int maxWaiting) {
    return new ReserveBatcher(db, holds, maxWaiting);
  }

  /** A reservation call waiting for its batch. */
  public record Call<R extends Message>(Caller caller, String method, String requestId, Message request,
      Parser<R> parser, HoldManager.Request reservation, Function<HoldManager.Reserved, R> toResponse,
      CompletableFuture<R> result) {}

  /**
   * A call with the gRPC context of its caller (deadline, cancellation) and, for an item of a ReserveBatch,
   * its own deadline on {@link System#nanoTime()} (else {@link Long#MAX_VALUE}).
   */
  private record Pending(Call<?> call, Context context, long deadlineNanos) {
    boolean callerGone() {
      return context.isCancelled() || System.nanoTime() - deadlineNanos > 0 && deadlineNanos != Long.MAX_VALUE;
    }
  }

  private static final class Queue {
    final ConcurrentLinkedQueue<Pending> calls = new ConcurrentLinkedQueue<>();
    final AtomicBoolean draining = new AtomicBoolean();
  }

  public <R extends Message> R reserve(Call<R> call) {
    enqueue(call, Context.current(), Long.MAX_VALUE);
    startDraining();
    try {
      return call.result().join();
    } catch (java.util.concurrent.CompletionException e) {
      throw e.getCause() instanceof RuntimeException re ? re : e;
    }
  }

  /**
   * The items of one ReserveBatch: queued together (so they share a transaction when they fit), each
   * decided and answered alone through its own result, each dropped unreserved once its {@code timeLeft}
   * (from now; null: the batch call's deadline) has run out. Returns when every item has its answer.
   */
  public void reserveAll(List<? extends Call<?>> calls, List<java.time.Duration> timeLeft) {
    Context context = Context.current();
    long now = System.nanoTime();
    for (int i = 0; i < calls.size(); i++) {
      java.time.Duration left = timeLeft.get(i);
      try {
        enqueue(calls.get(i), context, left == null ? Long.MAX_VALUE : now + left.toNanos());
      } catch (RuntimeException e) {
        calls.get(i).result().completeExceptionally(e);
      }
    }
    startDraining();
    for (Call<?> c : calls) {
      c.result().handle((r, e) -> null).join();
    }
  }

  /** Joins the queue, or throws: a bad wallet name or a full queue fails this call alone. */
  private void enqueue(Call<?> call, Context context, long deadlineNanos) {
    // Checked before joining: one bad name must not fail the batch of everyone else's wallets.
    dev.tally.wallet.wallets.WalletBook.requireWalletName(call.reservation().wallet());
    if (waiting.incrementAndGet() > maxWaiting) {
      waiting.decrementAndGet();
      shedCount.incrementAndGet();
      throw ErrorMapper.fromDomain(AdmissionQueue.overloaded());
    }
    queue.calls.add(new Pending(call, context, deadlineNanos));
  }

  private void startDraining() {
    Queue q = queue;
    if (q.draining.compareAndSet(false, true)) {
      workers.execute(() -> drain(q));
    }
  }

  private void drain(Queue q) {
    while (true) {
      List<Pending> batch = new ArrayList<>();
      Pending c;
      while (batch.size() < MAX_BATCH && (c = q.calls.poll()) != null) {
        batch.add(c);
      }
      waiting.addAndGet(-batch.size());
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
      Map<String, HoldManager.Locked> committed = db.transaction(tx -> {
        completions.clear();
        Map<String, HoldManager.Locked> locked = holds.lockAll(tx.dsl(),
            batch.stream().map(p -> p.call().reservation().wallet()).toList());
        for (Pending p : batch) {
          completions.add(p.callerGone() ? abandoned(p)
              : decideOne(tx.dsl(), locked.get(p.call().reservation().wallet()), p.call()));
        }
        holds.finishAll(tx.dsl(), locked.values());
        return locked;
      });
      holds.remember(committed.values());
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
    // An item's own deadline passed while its batch call goes on, or the call ended.
    TallyException e = AdmissionQueue.abandoned(!p.context().isCancelled() || AdmissionQueue.late(p.context()));
    return () -> p.call().result().completeExceptionally(ErrorMapper.fromDomain(e));
  }

  private final java.util.concurrent.atomic.AtomicLong abandonedCount = new java.util.concurrent.atomic.AtomicLong();

  /** Calls answered ADMISSION_OVERLOADED without waiting (for tests and metrics). */
  public long shed() {
    return shedCount.get();
  }

  /** Calls dropped because their caller had given up (for tests and metrics). */
  public long abandoned() {
    return abandonedCount.get();
  }

  private <R extends Message> Runnable decideOne(DSLContext tx, HoldManager.Locked locked, Call<R> call) {
    try {
      R response = Idempotency.once(tx, call.caller().key(), call.method(), call.requestId(), call.request(),
          call.parser(), dsl -> call.toResponse().apply(holds.reserveLocked(locked, call.reservation())));
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
