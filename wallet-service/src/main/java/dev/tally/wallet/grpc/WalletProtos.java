package dev.tally.wallet.grpc;

import static dev.tally.common.grpc.ProtoTime.ts;

import dev.tally.proto.wallet.v1.*;
import dev.tally.wallet.db.jooq.tables.records.HoldsRecord;
import dev.tally.wallet.db.jooq.tables.records.TransfersRecord;
import dev.tally.wallet.db.jooq.tables.records.WalletsRecord;
import dev.tally.wallet.plans.Plan;
import dev.tally.wallet.wallets.Snapshot;
import java.util.Locale;

/** Maps wallet rows and snapshots to their v1 protobuf resources. */
final class WalletProtos {
  private WalletProtos() {}

  static Wallet wallet(Snapshot s) {
    WalletsRecord w = s.wallet();
    Wallet.Builder b = Wallet.newBuilder().setName(w.getName()).setOwner(w.getOwner())
        .setCurrencyCode(w.getCurrencyCode()).setBalanceNanos(s.balance()).setPaidBalanceNanos(s.paid())
        .setGrantedBalanceNanos(s.granted()).setHeldNanos(s.held()).setAvailableNanos(s.available())
        .setStatus(WalletStatus.valueOf("WALLET_STATUS_" + w.getStatus().toUpperCase(Locale.ROOT)))
        .setSuspendThresholdNanos(w.getSuspendThreshold())
        .setAdmissionMode(AdmissionMode.valueOf("ADMISSION_MODE_" + w.getAdmissionMode().toUpperCase(Locale.ROOT)))
        .setDiscountBasisPoints(w.getDiscountBps()).setPeriodSpendNanos(s.periodSpend())
        .setPeriodStartTime(ts(s.periodStart())).setPeriodEndTime(ts(s.periodEnd()))
        .setAutoRefill(AutoRefill.newBuilder().setEnabled(w.getAutoRefillEnabled())
            .setThresholdNanos(w.getAutoRefillThreshold()).setAmountNanos(w.getAutoRefillAmount())
            .setTargetBalanceNanos(w.getAutoRefillTarget()).setMonthlyCapNanos(w.getAutoRefillMonthlyCap())
            .setRequestedThisMonthNanos(w.getAutoRefillMonthRequested())
            .setMaxFailedAttempts(w.getAutoRefillMaxFailures()).setFailedAttempts(w.getAutoRefillFailures()))
        .setBillingDay(w.getBillingDay()).setTimeZone(w.getTimeZone())
        .setUpdateTime(ts(w.getUpdateTime()));
    if (w.getPlan() != null) {
      b.setPlan(PlanSubscription.newBuilder().setPlan("plans/" + w.getPlan()).setSeats(w.getSeats())
          .setGrantedThisPeriodNanos(s.planGrantedThisPeriod()));
    }
    for (Snapshot.LimitState l : s.limits()) {
      if (l.subject().equals(w.getName())) {
        b.addSpendingLimits(SpendingLimit.newBuilder().setPeriod(period(l.period())).setLimitNanos(l.limit())
            .setSpentNanos(l.spent()).setRemainingNanos(l.remaining()).setResetTime(ts(l.resetTime()))
            .addAllAlertPercents(l.alertPercents()));
      } else if (!l.fromDefault()) { // what is set; members' spend under a default: GetEffectiveLimits
        b.addQuotas(quota(l));
      }
    }
    return b.build();
  }

  private static Quota quota(Snapshot.LimitState l) {
    return Quota.newBuilder().setSubject(l.subject()).setPeriod(period(l.period())).setLimitNanos(l.limit())
        .setSpentNanos(l.spent()).setRemainingNanos(l.remaining()).setResetTime(ts(l.resetTime()))
        .addAllAlertPercents(l.alertPercents()).build();
  }

  /** A session; {@code runway} of its wallet when known (-1: not computed). */
  static Session session(dev.tally.wallet.db.jooq.tables.records.SessionsRecord s, long runway) {
    Session.Builder b = Session.newBuilder().setName(dev.tally.wallet.sessions.Sessions.name(s))
        .setApiKey(s.getApiKey()).setMember(s.getMember()).setMeter(s.getMeter()).setModel(s.getModel())
        .setRatePerSecond(s.getRate()).setState(s.getState().toUpperCase(Locale.ROOT))
        .setStartTime(ts(s.getStartTime())).setAccruedQuantity(s.getAccruedQuantity())
        .setAccruedCostNanos(s.getAccruedCost()).setHold(s.getWallet() + "/holds/" + s.getHoldId())
        .setStopThresholdSeconds(s.getStopThresholdSeconds());
    if (s.getEndTime() != null) {
      b.setEndTime(ts(s.getEndTime()));
    }
    if (runway >= 0 && !"ended".equals(s.getState())) {
      b.setRunwaySeconds(runway == Long.MAX_VALUE ? Integer.MAX_VALUE : runway);
    }
    return b.build();
  }

  static WalletState state(Snapshot s) {
    Wallet w = wallet(s);
    return WalletState.newBuilder().setWallet(w.getName()).setStatus(w.getStatus())
        .setAdmissionMode(w.getAdmissionMode()).setAvailableNanos(w.getAvailableNanos())
        .addAllSpendingLimits(w.getSpendingLimitsList())
        // Gateways decide on every member's and key's spend under a team default too.
        .addAllQuotas(s.limits().stream().filter(l -> !l.subject().equals(w.getName())).map(WalletProtos::quota)
            .toList())
        .setVersion(s.wallet().getVersion()).setDiscountBasisPoints(s.wallet().getDiscountBps()).build();
  }

  static GetEffectiveLimitsResponse effectiveLimits(dev.tally.wallet.limits.EffectiveLimits.Result r) {
    GetEffectiveLimitsResponse.Builder b = GetEffectiveLimitsResponse.newBuilder().setWallet(r.wallet())
        .setSubject(r.subject()).setMember(r.member());
    for (var row : r.rows()) {
      EffectiveLimit.Builder l = EffectiveLimit.newBuilder()
          .setScope(LimitScope.valueOf("LIMIT_SCOPE_" + row.scope().name())).setRemainingNanos(row.remaining());
      if (row.limit() == null) {
        l.setSubject(r.wallet()).setLimitNanos(row.balance()).setHeldNanos(row.balance() - row.available())
            .setSource("wallet");
      } else {
        l.setSubject(row.limit().subject()).setPeriod(period(row.limit().period()))
            .setLimitNanos(row.limit().limit()).setSpentNanos(row.limit().spent()).setHeldNanos(row.limit().held())
            .setSource(row.source());
        if (row.limit().resetTime() != null) {
          l.setResetTime(dev.tally.common.grpc.ProtoTime.ts(row.limit().resetTime()));
        }
      }
      b.addLimits(l);
    }
    return b.build();
  }

  static LimitRequest limitRequest(dev.tally.wallet.db.jooq.tables.records.LimitRequestsRecord r) {
    LimitRequest.Builder b = LimitRequest.newBuilder().setName(r.getWallet() + "/limitRequests/" + r.getId())
        .setSubject(r.getSubject()).setPeriod(period(r.getPeriod())).setRequestedLimitNanos(r.getRequestedLimit())
        .setCurrentLimitNanos(r.getCurrentLimit()).setReason(r.getReason())
        .setState(LimitRequestState.valueOf("LIMIT_REQUEST_STATE_" + r.getState().toUpperCase(Locale.ROOT)))
        .setRequestedBy(r.getRequestedBy()).setDecidedBy(r.getDecidedBy()).setDecisionNote(r.getDecisionNote())
        .setCreateTime(ts(r.getCreateTime()));
    if (r.getDecideTime() != null) {
      b.setDecideTime(ts(r.getDecideTime()));
    }
    return b.build();
  }

  static Period period(String p) {
    return Period.valueOf("PERIOD_" + p.toUpperCase(Locale.ROOT));
  }

  static String period(Period p) {
    return p.name().substring("PERIOD_".length()).toLowerCase(Locale.ROOT);
  }

  static String code(TransferCode c) {
    return c.name().substring("TRANSFER_CODE_".length()).toLowerCase(Locale.ROOT);
  }

  static Transfer transfer(TransfersRecord t) {
    String wallet = t.getCreditAccount().startsWith("wallets/") ? t.getCreditAccount() : t.getDebitAccount();
    wallet = wallet.endsWith("/granted") ? wallet.substring(0, wallet.length() - "/granted".length()) : wallet;
    Transfer.Builder b = Transfer.newBuilder().setName(wallet + "/transfers/" + t.getId())
        .setDebitAccount(t.getDebitAccount()).setCreditAccount(t.getCreditAccount()).setAmountNanos(t.getAmount())
        .setCurrencyCode(t.getCurrencyCode())
        .setCode(TransferCode.valueOf("TRANSFER_CODE_" + t.getCode().toUpperCase(Locale.ROOT)))
        .setCreateTime(ts(t.getOccurTime())).setDescription(t.getDescription());
    if (t.getMember() != null) b.setMember(t.getMember());
    if (t.getApiKey() != null) b.setApiKey(t.getApiKey());
    if (t.getUsageEventId() != null) b.setUsageEventId(t.getUsageEventId());
    if (t.getExternalReference() != null) b.setExternalReference(t.getExternalReference());
    if (t.getListAmount() != null) b.setListAmountNanos(t.getListAmount());
    if (t.getDiscount() != null) b.setDiscountNanos(t.getDiscount());
    if (t.getReverses() != null) b.setReverses(t.getReverses());
    return b.build();
  }

  static Hold hold(HoldsRecord h) {
    return Hold.newBuilder().setName(h.getWallet() + "/holds/" + h.getId()).setAmountNanos(h.getAmount())
        .setState(HoldState.valueOf("HOLD_STATE_" + h.getState().toUpperCase(Locale.ROOT)))
        .setApiKey(h.getApiKey()).setMember(h.getMember()).setCreateTime(ts(h.getCreateTime()))
        .setExpireTime(ts(h.getExpireTime())).setSettledNanos(h.getSettled())
        .setOverageNanos("settled".equals(h.getState()) ? Math.max(0, h.getSettled() - h.getAmount()) : 0).build();
  }

  static dev.tally.proto.wallet.v1.Plan plan(Plan p, String currency) {
    return dev.tally.proto.wallet.v1.Plan.newBuilder().setName(p.name()).setDisplayName(p.displayName())
        .setIncludedUsagePerSeatNanos(p.includedPerSeat()).setCurrencyCode(currency).build();
  }

  static String walletOfHold(String holdName) {
    int i = holdName.indexOf("/holds/");
    return holdName.substring(0, i);
  }

  static String holdId(String holdName) {
    return holdName.substring(holdName.indexOf("/holds/") + "/holds/".length());
  }
}
