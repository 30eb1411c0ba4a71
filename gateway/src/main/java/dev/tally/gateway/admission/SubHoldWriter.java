package dev.tally.gateway.admission;

import dev.tally.common.grpc.ProtoTime;
import dev.tally.proto.wallet.v1.LeaseExtension;
import dev.tally.proto.wallet.v1.SubHold;
import dev.tally.proto.wallet.v1.WalletInternalServiceGrpc;
import dev.tally.proto.wallet.v1.WriteSubHoldsRequest;
import dev.tally.proto.wallet.v1.WriteSubHoldsResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Writes what this gateway admitted from its leases to the wallet, in order, at most once per {@link #TICK}
 * unless a call's worth waits or a caller flushes: one WriteSubHolds call for all wallets. A failed call is retried with the same items
 * (the wallet writes each once) until it succeeds, so a wallet-service restart delays writes but loses none;
 * until written, an admission's money stays held by its lease. Leases to close or extend go after the items
 * queued before them.
 */
final class SubHoldWriter implements AutoCloseable {
  static final Duration TICK = Duration.ofMillis(5);
  static final int MAX_CALL = 4_096;
  private static final Logger LOG = Logger.getLogger(SubHoldWriter.class.getName());

  /** A sub-hold to write, a lease to close, or a lease to extend (told the time it has left, or null). */
  private record Item(SubHold hold, String closeLease, LeaseExtension extend, Consumer<Duration> extended) {}

  private final WalletInternalServiceGrpc.WalletInternalServiceBlockingStub wallet;
  private final ConcurrentLinkedQueue<Item> queue = new ConcurrentLinkedQueue<>();
  private final AtomicLong queued = new AtomicLong();
  private final AtomicLong written = new AtomicLong();
  private final Thread thread;
  private volatile boolean closed;
  /** Callers waiting in {@link #flush}: the writer does not pause between writes while any do. */
  private final java.util.concurrent.atomic.AtomicInteger flushers = new java.util.concurrent.atomic.AtomicInteger();

  /** {@code wallet} carries the gateway's platform credentials. */
  SubHoldWriter(WalletInternalServiceGrpc.WalletInternalServiceBlockingStub wallet) {
    this.wallet = wallet;
    this.thread = Thread.ofPlatform().daemon().name("sub-hold-writer").start(this::run);
  }

  void add(SubHold hold) {
    enqueue(new Item(hold, null, null, null));
  }

  void close(String lease) {
    enqueue(new Item(null, lease, null, null));
  }

  /**
   * Asks the wallet to extend {@code lease} by {@code ttl} from when it does, with the next write; {@code
   * extended} is told, on the writer's thread, how long the lease has left then — or null when it was not
   * extended (it ended, or reached the end of its life).
   */
  void extend(String lease, Duration ttl, Consumer<Duration> extended) {
    enqueue(new Item(null, null, LeaseExtension.newBuilder().setLease(lease).setTtl(ProtoTime.duration(ttl)).build(),
        extended));
  }

  private void enqueue(Item item) {
    queue.add(item);
    if (queued.incrementAndGet() - written.get() >= MAX_CALL) {
      LockSupport.unpark(thread);
    }
  }

  /** Waits until everything queued before this call is written (or {@code timeout} passes); true when it is. */
  boolean flush(Duration timeout) {
    long target = queued.get();
    long until = System.nanoTime() + timeout.toNanos();
    flushers.incrementAndGet();
    try {
      while (written.get() < target) {
        LockSupport.unpark(thread);
        if (System.nanoTime() - until > 0) {
          return false;
        }
        LockSupport.parkNanos(200_000);
      }
      return true;
    } finally {
      flushers.decrementAndGet();
    }
  }

  private void run() {
    List<Item> batch = new ArrayList<>();
    long backoff = TICK.toNanos();
    while (!closed || !queue.isEmpty()) {
      if (batch.isEmpty()) {
        Item i;
        while (batch.size() < MAX_CALL && (i = queue.poll()) != null) {
          batch.add(i);
        }
      }
      if (batch.isEmpty()) {
        LockSupport.parkNanos(TICK.toNanos());
        continue;
      }
      try {
        long sentAt = System.nanoTime();
        send(batch);
        written.addAndGet(batch.size());
        batch.clear();
        backoff = TICK.toNanos();
        // At most one write per tick unless a call's worth waits or someone flushes (both unpark): at moderate
        // rates back-to-back writes of a few holds each cost the wallet a transaction apiece.
        long rest = TICK.toNanos() - (System.nanoTime() - sentAt);
        if (rest > 0 && queued.get() - written.get() < MAX_CALL && flushers.get() == 0) {
          LockSupport.parkNanos(rest);
        }
      } catch (RuntimeException e) {
        if (closed) {
          return; // shutting down: the leases hold the money until they expire
        }
        LOG.log(Level.FINE, "writing sub-holds failed; retrying", e);
        LockSupport.parkNanos(backoff);
        backoff = Math.min(backoff * 2, TimeUnit.SECONDS.toNanos(1));
      }
    }
  }

  private void send(List<Item> batch) {
    WriteSubHoldsRequest.Builder request = WriteSubHoldsRequest.newBuilder();
    for (Item i : batch) {
      if (i.hold() != null) {
        request.addSubHolds(i.hold());
      } else if (i.closeLease() != null) {
        request.addCloseLeases(i.closeLease());
      } else {
        request.addExtendLeases(i.extend());
      }
    }
    WriteSubHoldsResponse answer = wallet.withDeadlineAfter(5, TimeUnit.SECONDS).writeSubHolds(request.build());
    if (request.getExtendLeasesCount() > 0) {
      Map<String, Duration> extended = new HashMap<>();
      answer.getExtendedLeasesList().forEach(e -> extended.put(e.getLease(), ProtoTime.duration(e.getTimeLeft())));
      for (Item i : batch) {
        if (i.extend() != null) {
          try {
            i.extended().accept(extended.get(i.extend().getLease()));
          } catch (RuntimeException e) {
            // Written already: a listener's failure (e.g. while closing) must not make the batch go again.
            LOG.log(Level.FINE, "a lease extension's listener failed", e);
          }
        }
      }
    }
  }

  @Override
  public void close() {
    flush(Duration.ofSeconds(2));
    closed = true;
    LockSupport.unpark(thread);
  }
}
