package dev.tally.gateway.admission;

import dev.tally.common.admission.AdmissionQueue;
import dev.tally.common.admission.SubHoldIds;
import dev.tally.common.error.ErrorMapper;
import dev.tally.common.grpc.ProtoTime;
import dev.tally.common.money.Pricing;
import dev.tally.proto.wallet.v1.ReserveRequest;
import dev.tally.proto.wallet.v1.ReserveResponse;
import dev.tally.proto.wallet.v1.SubHold;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.random.RandomGenerator;

/**
 * Hard-mode admission from leased slices: per (wallet, key, member) this gateway holds a lease — a hold the
 * wallet granted through the whole chain of checks, at most half of what the limits and the balance leave —
 * and admits from it in memory, each admission a hold of its own ({@code {lease}_{n}}) written to the wallet
 * in batches by {@link SubHoldWriter}. Every lease's money is held in the wallet, so the gateways together
 * never admit more than a limit or the balance allows; a gateway that dies loses only unwritten holds, whose
 * money its lease keeps until it expires.
 *
 * <p>A lease is used only for {@code ttl − margin} after it was asked for (the wallet's expiry counts from
 * when it granted it, later); at a renewal point drawn in that use, with money left, it is extended in place
 * by the next sub-hold write (the wallet keeps a lease a minute at most), so a subject calling steadily pays
 * a grant and a close only when its lease's money runs low. It is given back when idle, replaced when it
 * runs low, cannot be extended, or its wallet's policy (limits, suspension, mode, discount) changes. When a
 * lease cannot be had the refusal is the wallet's own, decided for this call's estimate — after this
 * gateway's leases of the subject were given back, so money leased here never refuses a call made here.
 */
public final class LeaseBook implements AutoCloseable {
  /**
   * A lease is asked to cover at least this many estimates like the one that asks for it, and what the
   * subject's recent admissions would take over the time it is used for.
   */
  static final int MIN_ESTIMATES = 32;
  /** A lease nothing was taken from for this long is given back. */
  static final Duration IDLE = Duration.ofSeconds(1);
  /**
   * A lease is sized for this many of its uses at the subject's recent rate: extended in place while its
   * money lasts ({@link Slot#extendInPlace}), it is replaced — a grant and a close, each a wallet
   * transaction — once per two uses instead of every renewal point.
   */
  static final int SIZED_FOR_USES = 2;

  /** One admission: the hold to name in RecordUsage, its expiry, its amount (net) and available after it. */
  public record Admitted(String hold, Instant expireTime, long amountNanos, long availableNanos) {}

  private record Subject(String wallet, String apiKey, String member) {}

  private final ReserveDispatcher reservations;
  private final SubHoldWriter writer;
  private final Duration ttl;
  private final long useFor;
  private final Map<Subject, Slot> slots = new ConcurrentHashMap<>();
  private final ExecutorService requests = Executors.newVirtualThreadPerTaskExecutor();
  private final ScheduledExecutorService janitor = Executors.newSingleThreadScheduledExecutor(
      Thread.ofPlatform().daemon().name("lease-janitor").factory());

  /** Leases live {@code ttl} in the wallet; this gateway uses each for 70 % of that. */
  LeaseBook(ReserveDispatcher reservations, SubHoldWriter writer, Duration ttl) {
    this.reservations = reservations;
    this.writer = writer;
    this.ttl = ttl;
    this.useFor = ttl.toNanos() * 7 / 10;
    janitor.scheduleWithFixedDelay(this::retireIdle, 100, 100, TimeUnit.MILLISECONDS);
  }

  /**
   * Admits {@code listCost} (list price, positive) for the subject of {@code reserve}, from a lease; or throws
   * the wallet's refusal; or returns null when this call should be reserved on its own.
   */
  Admitted admit(ReserveRequest reserve) {
    long listCost = reserve.getAmountNanos();
    Subject subject = new Subject(reserve.getWallet(), reserve.getApiKey(), reserve.getMember());
    Slot slot = slots.computeIfAbsent(subject, Slot::new);
    Lease lease = slot.current;
    for (int round = 0; round < 4; round++) {
      requireCallerWaiting(); // gone while a lease was asked for: nothing is held for it
      Admitted a = slot.take(listCost, lease);
      if (a != null) {
        return a;
      }
      try {
        lease = slot.renew(listCost, lease).join();
      } catch (CompletionException e) {
        RuntimeException refusal = e.getCause() instanceof RuntimeException re ? re : e;
        if (refusedByWallet(refusal)) {
          // Refused for this estimate — maybe for money this gateway holds in leases: give them back, and
          // let the wallet decide this call alone on what is left (its refusal is then the answer).
          slot.giveBack();
          return null;
        }
        throw refusal;
      }
    }
    return null; // the subject's leases keep running out under this many callers: reserve on its own
  }

  /**
   * Admits from the subject's current lease if it has room, without waiting; null otherwise (then
   * {@link #admit} may wait for a lease). Throws when the caller already left.
   */
  Admitted tryAdmit(ReserveRequest reserve) {
    Slot slot = slots.get(new Subject(reserve.getWallet(), reserve.getApiKey(), reserve.getMember()));
    Lease lease = slot == null ? null : slot.current;
    if (lease == null) {
      return null;
    }
    requireCallerWaiting();
    return slot.take(reserve.getAmountNanos(), lease);
  }

  /** A caller that already left gets no hold: nobody would use or release it. */
  private static void requireCallerWaiting() {
    Context caller = Context.current();
    if (caller.isCancelled()) {
      throw ErrorMapper.fromDomain(AdmissionQueue.abandoned(AdmissionQueue.late(caller)));
    }
  }

  /** Waits until what this gateway admitted so far is written to the wallet; true when it is. */
  boolean flush(Duration timeout) {
    return writer.flush(timeout);
  }

  /** The wallet's rules changed (limits, suspension, mode, discount): its leases are given back. */
  void policyChanged(String wallet) {
    slots.forEach((s, slot) -> {
      if (s.wallet().equals(wallet)) {
        slot.retireCurrent();
      }
    });
  }

  private static boolean refusedByWallet(RuntimeException e) {
    if (!(e instanceof StatusRuntimeException s)) {
      return false;
    }
    Status.Code code = s.getStatus().getCode();
    return code == Status.Code.RESOURCE_EXHAUSTED || code == Status.Code.FAILED_PRECONDITION;
  }

  private void retireIdle() {
    long now = System.nanoTime();
    slots.forEach((s, slot) -> {
      Lease l = slot.current;
      if (l != null && (!l.usable() || now - l.lastTake > IDLE.toNanos())) {
        slot.retireCurrent();
      }
      if (slot.current == null && now - slot.lastUse > 10 * IDLE.toNanos()) {
        slots.remove(s, slot);
      }
    });
  }

  /** One subject's leases: the one admitted from, and the request for the next one in flight. */
  private final class Slot {
    final Subject subject;
    volatile Lease current;
    CompletableFuture<Lease> renewing;
    final AtomicLong admittedList = new AtomicLong();
    long sizedAt = System.nanoTime();
    long admittedAtSizing;
    volatile long lastUse = System.nanoTime();

    Slot(Subject subject) {
      this.subject = subject;
    }

    /** Takes {@code listCost} from {@code lease} (null: none yet), or null when it does not cover it. */
    Admitted take(long listCost, Lease lease) {
      Admitted a = lease == null ? null : lease.take(listCost);
      if (a != null) {
        admitted(listCost, lease);
      }
      return a;
    }

    private void admitted(long listCost, Lease lease) {
      admittedList.addAndGet(listCost);
      lastUse = lease.lastTake;
      if (lease.runningOut() && !(lease.moneyLeft() && extendInPlace(listCost, lease))) {
        renew(listCost, lease); // ahead of need: callers keep taking from this one meanwhile
      }
    }

    /**
     * At its renewal point with money left, a lease is extended in place (with the next sub-hold write, no
     * decision in the wallet: its money is held already) rather than replaced; true when that is asked now
     * or already under way. Once the wallet will not (the lease ended, or reached the end of its life), the
     * lease is replaced as usual.
     */
    private boolean extendInPlace(long listCost, Lease lease) {
      if (lease.extendRefused) {
        return false;
      }
      if (!lease.extending.compareAndSet(false, true)) {
        return true;
      }
      long sentAt = System.nanoTime();
      writer.extend(lease.name, ttl, timeLeft -> {
        if (timeLeft == null || !lease.extendedTo(sentAt, timeLeft)) {
          lease.extendRefused = true;
          renew(listCost, lease);
        }
        lease.extending.set(false);
      });
      return true;
    }

    /** The next lease, asked for once however many callers need it; replaces {@code stale} when granted. */
    synchronized CompletableFuture<Lease> renew(long listCost, Lease stale) {
      if (renewing != null) {
        return renewing;
      }
      if (current != stale && current != null && current.usable()) {
        return CompletableFuture.completedFuture(current); // another caller already replaced it
      }
      long now = System.nanoTime();
      long admitted = admittedList.get();
      long perSecond = saturatingMultiply((admitted - admittedAtSizing) / Math.max(1, (now - sizedAt) / 1_000_000),
          1_000);
      sizedAt = now;
      admittedAtSizing = admitted;
      long wanted = Math.max(saturatingMultiply(listCost, MIN_ESTIMATES),
          saturatingMultiply(perSecond, SIZED_FOR_USES * useFor / 1_000_000_000L));
      ReserveRequest request = ReserveRequest.newBuilder().setWallet(subject.wallet()).setApiKey(subject.apiKey())
          .setMember(subject.member()).setAmountNanos(Math.min(wanted, 1_000_000_000_000_000_000L))
          .setLease(true).setLeaseMinNanos(listCost).setTtl(ProtoTime.duration(ttl)).build();
      // Installed before the future completes, so whoever joins it finds the new lease current.
      renewing = CompletableFuture.supplyAsync(() -> {
        try {
          return installed(grant(request, now));
        } catch (RuntimeException e) {
          installed(null);
          throw e;
        }
      }, requests);
      return renewing;
    }

    private Lease grant(ReserveRequest request, long askedAt) {
      // Not in any caller's context: one caller giving up must not fail everyone waiting for this lease.
      Context.CancellableContext context = Context.ROOT.withDeadlineAfter(5, TimeUnit.SECONDS, janitor);
      try {
        return new Lease(context.call(() -> reservations.reserve(request)), askedAt + useFor,
            renewalPoint(askedAt, useFor, ThreadLocalRandom.current()));
      } catch (RuntimeException e) {
        throw e;
      } catch (Exception e) {
        throw new IllegalStateException(e);
      } finally {
        context.cancel(null);
      }
    }

    private synchronized Lease installed(Lease lease) {
      renewing = null;
      if (lease != null) {
        Lease old = current;
        current = lease;
        if (old != null) {
          retire(old);
        }
      }
      return lease;
    }

    synchronized void retireCurrent() {
      Lease old = current;
      current = null;
      if (old != null) {
        retire(old);
      }
    }

    private void retire(Lease lease) {
      if (lease.remaining.getAndSet(-1) >= 0) {
        writer.close(lease.name);
      }
    }

    /** Gives back the subject's lease and waits until the wallet has it and everything admitted before. */
    void giveBack() {
      retireCurrent();
      writer.flush(Duration.ofSeconds(2));
    }
  }

  /** A lease granted by the wallet, admitted from until {@code useUntil} (on {@link System#nanoTime()}). */
  private final class Lease {
    final String name;
    final String id;
    /** {@code wallets/{w}/holds/}: what the names of the holds admitted from it start with. */
    final String holdsOf;
    final int discountBps;
    final Duration holdTtl;
    final long granted;
    final long availableAfterGrant;
    /** Until when it is admitted from: moves when it is extended. */
    volatile long useUntil;
    /** When it is renewed (extended or replaced) by time, if its money lasts that long. */
    volatile long renewAt;
    /** An extension asked for and not answered yet. */
    final AtomicBoolean extending = new AtomicBoolean();
    /** The wallet would not extend it: it is replaced instead. */
    volatile boolean extendRefused;
    /** Net nanos left; −1 once retired (nothing more is taken). */
    final AtomicLong remaining;
    final AtomicLong next = new AtomicLong();
    volatile long lastTake = System.nanoTime();

    Lease(ReserveResponse r, long useUntil, long renewAt) {
      this.name = r.getHold().getName();
      this.id = name.substring(name.lastIndexOf('/') + 1);
      this.holdsOf = name.substring(0, name.lastIndexOf('/') + 1);
      this.discountBps = r.getDiscountBps();
      this.holdTtl = r.hasHoldTtl() ? ProtoTime.duration(r.getHoldTtl()) : Duration.ofMinutes(10);
      this.granted = r.getHold().getAmountNanos();
      this.availableAfterGrant = r.getAvailableNanos();
      this.useUntil = useUntil;
      this.renewAt = renewAt;
      this.remaining = new AtomicLong(granted);
    }

    boolean usable() {
      return System.nanoTime() - useUntil < 0 && remaining.get() >= 0;
    }

    /**
     * A quarter of its money left, or its renewal point passed: time to extend it or ask for the next, so
     * callers find one ready. By time too, or a subject whose traffic slowed since the lease was sized would
     * wait for one when this ends.
     */
    boolean runningOut() {
      return !moneyLeft() || System.nanoTime() - renewAt > 0;
    }

    /** More than a quarter of its money left. */
    boolean moneyLeft() {
      return remaining.get() >= granted / 4;
    }

    /**
     * The wallet extended it, asked at {@code sentAt}, to live {@code timeLeft} from then or later: used until
     * the same margin before that as a new lease, renewed by time again at a point drawn in that use. False
     * when what is left of its life is too short to be worth it.
     */
    boolean extendedTo(long sentAt, Duration timeLeft) {
      long use = timeLeft.toNanos() - (ttl.toNanos() - useFor);
      if (use < useFor / 2) {
        return false;
      }
      useUntil = sentAt + use;
      renewAt = renewalPoint(sentAt, use, ThreadLocalRandom.current());
      return true;
    }

    /** Takes {@code listCost} at this lease's discount, or null when it does not cover it. */
    Admitted take(long listCost) {
      long net = Pricing.net(listCost, discountBps);
      long left;
      do {
        left = remaining.get();
        if (left < net || !usable()) {
          return null;
        }
      } while (!remaining.compareAndSet(left, left - net));
      lastTake = System.nanoTime();
      String holdId = SubHoldIds.of(id, next.incrementAndGet());
      Instant expires = Instant.now().plus(holdTtl);
      writer.add(SubHold.newBuilder().setLease(name).setId(holdId).setAmountNanos(net)
          .setExpireTime(ProtoTime.ts(expires)).build());
      return new Admitted(holdsOf + holdId, expires, net, availableAfterGrant + left - net);
    }
  }

  /**
   * When a lease asked for at {@code askedAt} and used for {@code useFor} is renewed by time: at a point drawn
   * between half and four fifths of its use. Leases born together (a cold start, a whole population resuming)
   * would otherwise be renewed together, generation after generation — waves of hundreds of grants and closes
   * in one batch that stall every other call on the machine; drawn apart, they spread within a few lives.
   */
  static long renewalPoint(long askedAt, long useFor, RandomGenerator random) {
    return askedAt + useFor / 2 + (long) (random.nextDouble() * (useFor * 3 / 10));
  }

  private static long saturatingMultiply(long a, long b) {
    long r = a * b;
    return a != 0 && (r / a != b || r < 0) ? Long.MAX_VALUE : r;
  }

  @Override
  public void close() {
    janitor.shutdownNow();
    slots.values().forEach(Slot::retireCurrent);
    writer.close();
    requests.shutdown();
  }
}
