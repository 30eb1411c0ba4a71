package dev.tally.wallet.events;

import dev.tally.common.grpc.ProtoTime;
import dev.tally.common.ids.Ids;
import dev.tally.common.kafka.Outbox;
import dev.tally.common.kafka.Topics;
import dev.tally.proto.events.v1.AutoRefillDisabled;
import dev.tally.proto.events.v1.LimitState;
import dev.tally.proto.events.v1.LowBalance;
import dev.tally.proto.events.v1.LowBalanceResolved;
import dev.tally.proto.events.v1.UsageParked;
import dev.tally.proto.events.v1.RefillRequested;
import dev.tally.proto.events.v1.ThresholdCrossed;
import dev.tally.proto.events.v1.ThresholdResolved;
import dev.tally.proto.events.v1.WalletEvent;
import dev.tally.proto.events.v1.WalletStateChanged;
import dev.tally.wallet.wallets.Snapshot;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import org.jooq.DSLContext;

/** Publishes wallet changes on {@code wallet.v1} (keyed by wallet) through the outbox, in the change's transaction. */
public final class WalletEvents {

  public void stateChanged(DSLContext tx, Snapshot s) {
    publish(tx, s.wallet().getName(), WalletEvent.newBuilder().setStateChanged(state(s)));
  }

  /** The new states of many wallets, in one outbox insert. */
  public void stateChangedAll(DSLContext tx, List<Snapshot> snapshots) {
    List<Outbox.Entry> entries = new java.util.ArrayList<>(snapshots.size());
    for (Snapshot s : snapshots) {
      entries.add(new Outbox.Entry(Topics.WALLET, s.wallet().getName(), stamp(s.wallet().getName(),
          WalletEvent.newBuilder().setStateChanged(state(s))).build()));
    }
    Outbox.appendAll(tx, entries);
  }

  private static WalletStateChanged.Builder state(Snapshot s) {
    WalletStateChanged.Builder b = WalletStateChanged.newBuilder()
        .setStatus(s.wallet().getStatus().toUpperCase(Locale.ROOT))
        .setAdmissionMode(s.wallet().getAdmissionMode().toUpperCase(Locale.ROOT))
        .setAvailableNanos(s.available()).setBalanceNanos(s.balance()).setVersion(s.wallet().getVersion())
        .setDiscountBasisPoints(s.wallet().getDiscountBps());
    for (Snapshot.LimitState l : s.limits()) {
      b.addLimits(LimitState.newBuilder().setSubject(l.subject()).setPeriod(l.period().toUpperCase(Locale.ROOT))
          .setLimitNanos(l.limit()).setSpentNanos(l.spent()).setResetTime(ProtoTime.ts(l.resetTime())));
    }
    return b;
  }

  public void thresholdCrossed(DSLContext tx, String wallet, String subject, String period, int pct, long limit,
      long spent) {
    publish(tx, wallet, WalletEvent.newBuilder().setThresholdCrossed(ThresholdCrossed.newBuilder()
        .setSubject(subject).setPeriod(period.toUpperCase(Locale.ROOT)).setPercent(pct).setLimitNanos(limit)
        .setSpentNanos(spent)));
  }

  public void thresholdResolved(DSLContext tx, String wallet, String subject, String period, int pct, long limit,
      long spent, String reason) {
    publish(tx, wallet, WalletEvent.newBuilder().setThresholdResolved(ThresholdResolved.newBuilder()
        .setSubject(subject).setPeriod(period.toUpperCase(Locale.ROOT)).setPercent(pct).setLimitNanos(limit)
        .setSpentNanos(spent).setReason(reason)));
  }

  public void lowBalanceResolved(DSLContext tx, String wallet, long balance, long threshold) {
    publish(tx, wallet, WalletEvent.newBuilder().setLowBalanceResolved(LowBalanceResolved.newBuilder()
        .setBalanceNanos(balance).setThresholdNanos(threshold)));
  }

  public void autoRefillDisabled(DSLContext tx, String wallet, int failures, String refillId) {
    publish(tx, wallet, WalletEvent.newBuilder().setAutoRefillDisabled(AutoRefillDisabled.newBuilder()
        .setFailedAttempts(failures).setLastRefillId(refillId)));
  }

  public void refillRequested(DSLContext tx, String wallet, long amount, long threshold, long balance) {
    publish(tx, wallet, WalletEvent.newBuilder().setRefillRequested(RefillRequested.newBuilder()
        .setAmountNanos(amount).setThresholdNanos(threshold).setBalanceNanos(balance).setRefillId(Ids.newId())));
  }

  public void lowBalance(DSLContext tx, String wallet, long balance, long threshold) {
    publish(tx, wallet, WalletEvent.newBuilder().setLowBalance(LowBalance.newBuilder().setBalanceNanos(balance)
        .setThresholdNanos(threshold)));
  }

  public void usageParked(DSLContext tx, String wallet, UsageParked parked) {
    publish(tx, wallet, WalletEvent.newBuilder().setUsageParked(parked));
  }

  /** The wallet was suspended, or is active again: once per change. */
  public void statusChanged(DSLContext tx, String wallet, boolean suspended, long available, long threshold) {
    publish(tx, wallet, suspended
        ? WalletEvent.newBuilder().setWalletSuspended(dev.tally.proto.events.v1.WalletSuspended.newBuilder()
            .setAvailableNanos(available).setThresholdNanos(threshold))
        : WalletEvent.newBuilder().setWalletResumed(dev.tally.proto.events.v1.WalletResumed.newBuilder()
            .setAvailableNanos(available)));
  }

  /** A session's resource must stop: its wallet's runway is low or the wallet is suspended. */
  public void sessionStop(DSLContext tx, String wallet, String session, String reason, long runway) {
    publish(tx, wallet, WalletEvent.newBuilder().setSessionStop(dev.tally.proto.events.v1.SessionStop.newBuilder()
        .setSession(session).setReason(reason).setRunwaySeconds(runway)));
  }

  /** A session asked to stop may run again. */
  public void sessionResumable(DSLContext tx, String wallet, String session, long runway) {
    publish(tx, wallet, WalletEvent.newBuilder().setSessionResumable(dev.tally.proto.events.v1.SessionResumable
        .newBuilder().setSession(session).setRunwaySeconds(runway)));
  }

  private io.micrometer.core.instrument.MeterRegistry registry;

  /** Counts the signals written (thresholds, refills, low balance, parked usage…) by type. */
  public WalletEvents metrics(io.micrometer.core.instrument.MeterRegistry registry) {
    this.registry = registry;
    return this;
  }

  private void publish(DSLContext tx, String wallet, WalletEvent.Builder event) {
    WalletEvent e = stamp(wallet, event).build();
    Outbox.append(tx, Topics.WALLET, wallet, e);
    if (registry != null) {
      registry.counter("tally.wallet.signals", "type", e.getChangeCase().name().toLowerCase(java.util.Locale.ROOT))
          .increment();
    }
  }

  private static WalletEvent.Builder stamp(String wallet, WalletEvent.Builder event) {
    return event.setEventId(Ids.newId()).setOccurTime(ProtoTime.ts(Instant.now())).setWallet(wallet);
  }
}
