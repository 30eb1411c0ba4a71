package dev.tally.gateway.admission;

import dev.tally.common.admission.AdmissionQueue;
import dev.tally.common.error.ErrorMapper;
import dev.tally.common.grpc.ProtoTime;
import dev.tally.proto.wallet.v1.ReleaseRequest;
import dev.tally.proto.wallet.v1.ReleaseResponse;
import dev.tally.proto.wallet.v1.ReserveBatchItem;
import dev.tally.proto.wallet.v1.ReserveBatchRequest;
import dev.tally.proto.wallet.v1.ReserveBatchResponse;
import dev.tally.proto.wallet.v1.ReserveBatchResult;
import dev.tally.proto.wallet.v1.ReserveRequest;
import dev.tally.proto.wallet.v1.ReserveResponse;
import dev.tally.proto.wallet.v1.WalletInternalServiceGrpc;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.Status;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Group commit at the gateway: the hard-mode Admits waiting at a moment go to the wallet as one ReserveBatch
 * call, so a reservation costs no RPC of its own here or in the wallet service. At most {@link #MAX_IN_FLIGHT}
 * batches are out at once; Admits arriving meanwhile gather into the next one (the busier, the larger the
 * batches, at no added wait when idle). Each item carries the time its caller still waits; one whose caller
 * is gone before it is sent is answered without being sent, and one whose caller gives up while its batch is
 * out has its hold released as soon as the answer comes. Beyond {@link #MAX_WAITING} waiting calls new ones
 * are shed at once with {@code UNAVAILABLE ADMISSION_OVERLOADED} and a RetryInfo.
 */
public final class ReserveDispatcher {
  static final int MAX_BATCH = 1_024;
  static final int MAX_IN_FLIGHT = 2;
  static final int MAX_WAITING = 4 * MAX_BATCH;
  /** The batch call's deadline when no item has one of its own. */
  private static final Duration DEFAULT_DEADLINE = Duration.ofSeconds(10);

  private record Pending(ReserveRequest request, Context context, CompletableFuture<ReserveResponse> result) {}

  private final WalletInternalServiceGrpc.WalletInternalServiceStub wallet;
  private final ConcurrentLinkedQueue<Pending> queue = new ConcurrentLinkedQueue<>();
  private final AtomicInteger waiting = new AtomicInteger();
  private final AtomicInteger inFlight = new AtomicInteger();

  /** {@code wallet} carries the gateway's platform credentials. */
  public ReserveDispatcher(WalletInternalServiceGrpc.WalletInternalServiceStub wallet) {
    this.wallet = wallet;
  }

  /** Reserves through the next batch and waits for this call's own answer (or refusal). */
  public ReserveResponse reserve(ReserveRequest request) {
    if (waiting.incrementAndGet() > MAX_WAITING) {
      waiting.decrementAndGet();
      throw ErrorMapper.fromDomain(AdmissionQueue.overloaded());
    }
    Pending p = new Pending(request, Context.current(), new CompletableFuture<>());
    queue.add(p);
    pump();
    try {
      return p.result().join();
    } catch (CompletionException e) {
      throw e.getCause() instanceof RuntimeException re ? re : e;
    }
  }

  /**
   * Sends what waits while a batch slot is free. Every enqueue and every finished batch pumps, and a batch
   * frees its slot before pumping, so no waiting call is left behind.
   */
  private void pump() {
    while (!queue.isEmpty()) {
      int n = inFlight.get();
      if (n >= MAX_IN_FLIGHT) {
        return;
      }
      if (!inFlight.compareAndSet(n, n + 1)) {
        continue;
      }
      List<Pending> batch = take();
      if (batch.isEmpty()) {
        inFlight.decrementAndGet();
        continue;
      }
      send(batch);
    }
  }

  /** Up to a batch of waiting calls whose callers still wait; the others are answered here. */
  private List<Pending> take() {
    List<Pending> batch = new ArrayList<>();
    Pending p;
    while (batch.size() < MAX_BATCH && (p = queue.poll()) != null) {
      waiting.decrementAndGet();
      if (p.context().isCancelled()) {
        p.result().completeExceptionally(gone(p.context()));
      } else {
        batch.add(p);
      }
    }
    return batch;
  }

  private void send(List<Pending> batch) {
    ReserveBatchRequest.Builder request = ReserveBatchRequest.newBuilder();
    long longest = 0;
    for (Pending p : batch) {
      ReserveBatchItem.Builder item = ReserveBatchItem.newBuilder().setReserve(p.request());
      Deadline deadline = p.context().getDeadline();
      long left = deadline == null ? DEFAULT_DEADLINE.toNanos() : Math.max(1, deadline.timeRemaining(TimeUnit.NANOSECONDS));
      if (deadline != null) {
        item.setTimeLeft(ProtoTime.duration(Duration.ofNanos(left)));
      }
      longest = Math.max(longest, left);
      request.addItems(item);
    }
    long deadlineNanos = Math.min(longest, DEFAULT_DEADLINE.toNanos());
    // Not in the context of the Admit that happens to send it: that caller's cancellation must not cancel
    // everyone's batch.
    Context.ROOT.run(() -> wallet.withDeadlineAfter(deadlineNanos, TimeUnit.NANOSECONDS).reserveBatch(request.build(),
        new StreamObserver<>() {
          @Override
          public void onNext(ReserveBatchResponse response) {
            answer(batch, response);
          }

          @Override
          public void onError(Throwable t) {
            RuntimeException failure = t instanceof RuntimeException re ? re : new RuntimeException(t);
            batch.forEach(p -> p.result().completeExceptionally(failure));
            finished();
          }

          @Override
          public void onCompleted() {
            finished();
          }
        }));
  }

  private void answer(List<Pending> batch, ReserveBatchResponse response) {
    for (int i = 0; i < batch.size(); i++) {
      Pending p = batch.get(i);
      if (i >= response.getResultsCount()) {
        p.result().completeExceptionally(Status.UNAVAILABLE.withDescription("the wallet answered fewer items than sent")
            .asRuntimeException());
        continue;
      }
      ReserveBatchResult r = response.getResults(i);
      if (r.hasReserved()) {
        if (p.context().isCancelled()) {
          release(r.getReserved().getHold().getName()); // nobody waits for this hold
        }
        p.result().complete(r.getReserved());
      } else {
        p.result().completeExceptionally(StatusProto.toStatusRuntimeException(r.getError()));
      }
    }
  }

  private void finished() {
    inFlight.decrementAndGet();
    pump();
  }

  /** Keyed by the hold: a retried release, by the platform or by this dispatcher, answers like the first. */
  static ReleaseRequest releaseRequest(String hold) {
    return ReleaseRequest.newBuilder().setHold(hold).setRequestId("release-" + hold.substring(hold.lastIndexOf('/') + 1))
        .build();
  }

  /** Releases a hold nobody waits for, in the background (it expires on its own if this fails). */
  void release(String hold) {
    Context.ROOT.run(() -> wallet.withDeadlineAfter(10, TimeUnit.SECONDS).release(releaseRequest(hold),
        new StreamObserver<>() {
          @Override
          public void onNext(ReleaseResponse value) {}

          @Override
          public void onError(Throwable t) {
            // The hold expires on its own (its time to live); nothing else depends on this release.
          }

          @Override
          public void onCompleted() {}
        }));
  }

  private static RuntimeException gone(Context context) {
    return ErrorMapper.fromDomain(AdmissionQueue.abandoned(AdmissionQueue.late(context)));
  }
}
