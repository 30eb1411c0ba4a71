package dev.tally.gateway.admission;

import dev.tally.proto.events.v1.LimitState;
import dev.tally.proto.events.v1.WalletStateChanged;
import dev.tally.proto.wallet.v1.Quota;
import dev.tally.proto.wallet.v1.SpendingLimit;
import dev.tally.proto.wallet.v1.WalletState;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The admission-relevant state of every wallet, loaded before serving and kept current from wallet.v1.
 * Versions only move forward, so a late or repeated event never rolls a wallet back.
 */
public final class WalletStates {

  /** One limit or quota as last reported. */
  public record Limit(String subject, String period, long limit, long spent, Instant resetTime) {}

  /** A wallet as the gateway sees it. */
  public record State(String wallet, boolean suspended, boolean soft, long available, List<Limit> limits,
      long version, int discountBasisPoints) {}

  private final Map<String, State> states = new ConcurrentHashMap<>();
  private volatile java.util.function.Consumer<String> onPolicyChange = wallet -> {};

  /** Told the wallet's name when a state arrives whose rules differ from the last one's (see {@link #rules}). */
  public void onPolicyChange(java.util.function.Consumer<String> listener) {
    this.onPolicyChange = listener;
  }

  public Optional<State> get(String wallet) {
    return Optional.ofNullable(states.get(wallet));
  }

  public int size() {
    return states.size();
  }

  public void load(WalletState s) {
    List<Limit> limits = new ArrayList<>();
    for (SpendingLimit l : s.getSpendingLimitsList()) {
      limits.add(new Limit(s.getWallet(), l.getPeriod().name().substring("PERIOD_".length()), l.getLimitNanos(),
          l.getSpentNanos(), instant(l.getResetTime())));
    }
    for (Quota q : s.getQuotasList()) {
      limits.add(new Limit(q.getSubject(), q.getPeriod().name().substring("PERIOD_".length()), q.getLimitNanos(),
          q.getSpentNanos(), instant(q.getResetTime())));
    }
    put(new State(s.getWallet(), s.getStatus().name().endsWith("SUSPENDED"),
        s.getAdmissionMode().name().endsWith("SOFT"), s.getAvailableNanos(), limits, s.getVersion(),
        s.getDiscountBasisPoints()));
  }

  public void apply(String wallet, WalletStateChanged c) {
    List<Limit> limits = new ArrayList<>();
    for (LimitState l : c.getLimitsList()) {
      limits.add(new Limit(l.getSubject(), l.getPeriod(), l.getLimitNanos(), l.getSpentNanos(),
          instant(l.getResetTime())));
    }
    put(new State(wallet, "SUSPENDED".equals(c.getStatus()), "SOFT".equals(c.getAdmissionMode()),
        c.getAvailableNanos(), limits, c.getVersion(), c.getDiscountBasisPoints()));
  }

  private void put(State s) {
    State before = states.get(s.wallet());
    State after = states.merge(s.wallet(), s, (old, neu) -> neu.version() >= old.version() ? neu : old);
    if (before != null && after == s && !rules(before).equals(rules(s))) {
      onPolicyChange.accept(s.wallet());
    }
  }

  /** What decides admissions besides money: status, mode, discount and every limit's size (not its spend). */
  private static List<Object> rules(State s) {
    List<Object> out = new ArrayList<>();
    out.add(s.suspended());
    out.add(s.soft());
    out.add(s.discountBasisPoints());
    s.limits().stream().map(l -> l.subject() + "|" + l.period() + "|" + l.limit()).sorted().forEach(out::add);
    return out;
  }

  private static Instant instant(com.google.protobuf.Timestamp t) {
    return t.getSeconds() == 0 && t.getNanos() == 0 ? null : Instant.ofEpochSecond(t.getSeconds(), t.getNanos());
  }
}
