package dev.tally.wallet.sessions;

import static dev.tally.wallet.db.jooq.Tables.SESSIONS;

import dev.tally.common.auth.Caller;
import dev.tally.common.error.Reasons;
import dev.tally.common.error.TallyException;
import dev.tally.common.grpc.ProtoTime;
import dev.tally.common.ids.Ids;
import dev.tally.common.kafka.Outbox;
import dev.tally.common.kafka.Topics;
import dev.tally.common.money.MoneyBounds;
import dev.tally.common.money.Pricing;
import dev.tally.proto.events.v1.UsageEvent;
import dev.tally.proto.wallet.v1.OpenSessionRequest;
import dev.tally.wallet.db.jooq.tables.records.SessionsRecord;
import dev.tally.wallet.db.jooq.tables.records.WalletsRecord;
import dev.tally.wallet.holds.HoldManager;
import dev.tally.wallet.wallets.Snapshot;
import dev.tally.wallet.wallets.WalletBook;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.List;
import org.jooq.DSLContext;

/**
 * Metered sessions: opened with a hold for their minimum runway, accrued by Tally (never by a heartbeat that
 * could be lost or doubled) as usage events through the outbox, in the transaction that advances what was
 * accrued, priced cumulatively from the start; ended with a last interval and the hold released. The runway
 * of a wallet is what it can still pay its running sessions at their burn.
 */
public final class Sessions {
  /** Session holds last as long as the session; it releases them. */
  static final Duration HOLD_TTL = Duration.ofDays(30);

  private final WalletBook book;
  private final HoldManager holds;

  public Sessions(WalletBook book, HoldManager holds) {
    this.book = book;
    this.holds = holds;
  }

  public SessionsRecord open(DSLContext tx, Caller caller, OpenSessionRequest r) {
    requirePlatform(caller);
    long minimum = cost(r.getRatePerSecond() * r.getMinRunwaySeconds(), r.getPriceNanos(), r.getPerQuantity());
    var locked = holds.lockAll(tx, List.of(r.getWallet())).get(r.getWallet());
    var reserved = holds.reserveLocked(locked, new HoldManager.Request(r.getWallet(), minimum, r.getApiKey(),
        r.getMember(), HOLD_TTL));
    holds.finishAll(tx, List.of(locked));
    SessionsRecord s = tx.newRecord(SESSIONS);
    s.setId(Ids.newId());
    s.setWallet(r.getWallet());
    s.setApiKey(r.getApiKey());
    s.setUserName(r.getUser());
    s.setMember(r.getMember());
    s.setMeter(r.getMeter());
    s.setModel(r.getModel());
    s.setRate(r.getRatePerSecond());
    s.setPriceNanos(r.getPriceNanos());
    s.setPerQuantity(r.getPerQuantity());
    s.setCurrencyCode(r.getCurrencyCode().isEmpty() ? book.policy().currency() : r.getCurrencyCode());
    s.setHoldId(reserved.hold().getId());
    s.setStopThresholdSeconds(r.getStopThresholdSeconds() == 0 ? 10 : r.getStopThresholdSeconds());
    s.setState("running");
    s.setStartTime(book.nowOdt().truncatedTo(java.time.temporal.ChronoUnit.MICROS)); // as stored
    s.setAccruedQuantity(0L);
    s.setAccruedCost(0L);
    s.store();
    return s;
  }

  public SessionsRecord close(DSLContext tx, Caller caller, String name) {
    requirePlatform(caller);
    // The wallet first, then the session: the order the meter locks them in (the other way deadlocks).
    int at = name.indexOf("/sessions/");
    WalletsRecord w = book.lockExisting(tx, at < 0 ? name : name.substring(0, at));
    SessionsRecord s = locked(tx, name);
    if (!"ended".equals(s.getState())) {
      // One instant, as stored (microseconds): what is charged is exactly the time it ran.
      Instant end = book.now().truncatedTo(java.time.temporal.ChronoUnit.MICROS);
      accrue(tx, w, s, end);
      s.setState("ended");
      s.setEndTime(utc(end));
      s.store();
      try {
        holds.release(tx, s.getWallet(), s.getHoldId());
      } catch (TallyException e) {
        if (!Reasons.HOLD_NOT_PENDING.equals(e.reason())) {
          throw e; // a hold already closed (expired) has nothing left to give back
        }
      }
    }
    return s;
  }

  public List<SessionsRecord> list(DSLContext tx, String wallet) {
    return tx.selectFrom(SESSIONS).where(SESSIONS.WALLET.eq(wallet)).orderBy(SESSIONS.ID.desc()).limit(1000).fetch();
  }

  /**
   * Charges what {@code s} ran until {@code now} and was not charged yet, as one usage event whose id is the
   * cumulative quantity (so a retried interval is the same event). Returns the net cost added.
   */
  long accrue(DSLContext tx, WalletsRecord w, SessionsRecord s, Instant now) {
    long elapsedMs = Math.max(0, Duration.between(s.getStartTime().toInstant(), now).toMillis());
    long target = Math.multiplyExact(s.getRate(), elapsedMs) / 1000;
    long delta = target - s.getAccruedQuantity();
    if (delta <= 0) {
      return 0;
    }
    int bps = w.getDiscountBps();
    long listBefore = cost(s.getAccruedQuantity(), s.getPriceNanos(), s.getPerQuantity());
    long listAfter = cost(target, s.getPriceNanos(), s.getPerQuantity());
    long list = listAfter - listBefore;
    long discount = Pricing.discount(listAfter, bps) - Pricing.discount(listBefore, bps);
    if (discount < 0 || discount > list) {
      discount = Pricing.discount(list, bps); // the discount changed mid-session: this interval at the new rate
    }
    UsageEvent e = UsageEvent.newBuilder().setEventId("session-" + s.getId() + "-" + target)
        .setBillingAccount(s.getWallet()).setUser(s.getUserName()).setApiKey(s.getApiKey())
        .setTeam(dev.tally.common.ids.Wallets.owner(s.getWallet()) == null ? ""
            : dev.tally.common.ids.Wallets.owner(s.getWallet()))
        .setMeter(s.getMeter()).setModel(s.getModel()).setQuantity(delta).setCostNanos(list)
        .setDiscountNanos(discount).setCurrencyCode(s.getCurrencyCode())
        .setOccurredAt(ProtoTime.ts(now)).setRecordedAt(ProtoTime.ts(now))
        .putAttributes("session", name(s)).build();
    Outbox.append(tx, Topics.USAGE, s.getWallet(), e);
    s.setAccruedQuantity(target);
    s.setAccruedCost(s.getAccruedCost() + list - discount);
    s.store();
    return list - discount;
  }

  /** The net cost per second of {@code s} at the wallet's discount. */
  static long burn(SessionsRecord s, int bps) {
    return Pricing.net(cost(s.getRate(), s.getPriceNanos(), s.getPerQuantity()), bps);
  }

  /**
   * Seconds the wallet can still pay its open sessions: its available balance plus their holds (reserved for
   * them), less one second of burn for usage accrued and not yet debited, divided by their burn.
   */
  static long runway(Snapshot wallet, List<SessionsRecord> open, java.util.Map<String, Long> holdAmounts) {
    long burn = 0;
    long reserved = 0;
    for (SessionsRecord s : open) {
      burn += burn(s, wallet.wallet().getDiscountBps());
      reserved += holdAmounts.getOrDefault(s.getHoldId(), 0L);
    }
    if (burn <= 0) {
      return Long.MAX_VALUE;
    }
    return Math.max(0, (wallet.available() + reserved - burn) / burn);
  }

  SessionsRecord locked(DSLContext tx, String name) {
    int at = name.indexOf("/sessions/");
    String id = at < 0 ? "" : name.substring(at + "/sessions/".length());
    return tx.selectFrom(SESSIONS).where(SESSIONS.ID.eq(id)).forUpdate().fetchOptional()
        .filter(s -> name.startsWith(s.getWallet() + "/sessions/"))
        .orElseThrow(() -> TallyException.notFound(Reasons.NOT_FOUND, "session " + name + " not found"));
  }

  public static String name(SessionsRecord s) {
    return s.getWallet() + "/sessions/" + s.getId();
  }

  static long cost(long quantity, long priceNanos, long perQuantity) {
    long c = Pricing.costWithin(quantity, priceNanos, perQuantity, MoneyBounds.MAX_USAGE_COST_NANOS * 1_000);
    if (c < 0) {
      throw TallyException.invalidArgument("rate_per_second", "the session would cost more than can be held");
    }
    return c;
  }

  private static void requirePlatform(Caller caller) {
    if (!caller.platform()) {
      throw TallyException.permissionDenied(Reasons.ROLE_FORBIDDEN, "sessions are opened by the platform");
    }
  }

  static OffsetDateTime utc(Instant i) {
    return i.atOffset(ZoneOffset.UTC);
  }
}
