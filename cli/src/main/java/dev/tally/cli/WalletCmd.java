package dev.tally.cli;

import dev.tally.proto.wallet.v1.*;
import java.util.Locale;
import java.util.UUID;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "wallet", description = "Balances, deposits, statement, limits, quotas, plans.",
    mixinStandardHelpOptions = true)
final class WalletCmd {
  @ParentCommand Tally root;

  @Command(name = "get", description = "Balance, status, limits and quotas (WALLET: teams/{t}, users/me or wallets/{w}).")
  void get(@Parameters(paramLabel = "WALLET") String wallet) {
    var r = root.c.wallet().getWallet(GetWalletRequest.newBuilder().setName(wallet).build());
    root.c.print(r, () -> show(r.getWallet()));
  }

  @Command(name = "deposit", description = "Record a payment the platform received (platform token, not --as;"
      + " idempotent on --ref, the payment id).")
  void deposit(@Parameters(paramLabel = "WALLET") String wallet, @Parameters(paramLabel = "AMOUNT") String amount,
      @Option(names = "--ref", description = "payment reference (default: a new one)") String ref) {
    var r = root.c.wallet().deposit(DepositRequest.newBuilder().setWallet(wallet).setAmountNanos(Out.parseMoney(amount))
        .setCurrencyCode("USD").setExternalReference(ref == null ? "cli-" + UUID.randomUUID() : ref).build());
    root.c.print(r, () -> show(r.getWallet()));
  }

  @Command(name = "statement", description = "Transfers, newest first.")
  void statement(@Parameters(paramLabel = "WALLET") String wallet,
      @Option(names = "--code", description = "deposit, usage, grant, refund, ...") String code,
      @Option(names = "--limit", defaultValue = "50") int limit) {
    var req = ListTransfersRequest.newBuilder().setWallet(wallet).setPageSize(limit);
    if (code != null) {
      req.addCodes(TransferCode.valueOf("TRANSFER_CODE_" + code.toUpperCase(Locale.ROOT)));
    }
    var r = root.c.wallet().listTransfers(req.build());
    root.c.print(r, () -> {
      Out.Table t = new Out.Table("TIME", "CODE", "AMOUNT", "FROM", "TO", "DETAIL");
      r.getTransfersList().forEach(x -> t.row(Out.time(x.getCreateTime()),
          x.getCode().name().substring("TRANSFER_CODE_".length()).toLowerCase(Locale.ROOT), Out.money(x.getAmountNanos()),
          x.getDebitAccount(), x.getCreditAccount(), x.getDescription()));
      t.print();
    });
  }

  @Command(name = "limit", description = "Set (or --clear) the wallet's spending limit for a period.")
  void limit(@Parameters(paramLabel = "WALLET") String wallet, @Parameters(paramLabel = "PERIOD") String period,
      @Parameters(paramLabel = "AMOUNT", defaultValue = "0") String amount, @Option(names = "--clear") boolean clear,
      @Option(names = "--alert", description = "percent of the limit at which an alert fires (repeat; default 50, 80, 100)")
      java.util.List<Integer> alerts) {
    var r = root.c.wallet().setSpendingLimit(SetSpendingLimitRequest.newBuilder().setWallet(wallet).setPeriod(period(period))
        .setLimitNanos(Out.parseMoney(amount)).setClear(clear).addAllAlertPercents(alerts == null ? java.util.List.of()
            : alerts).build());
    root.c.print(r, () -> show(r.getWallet()));
  }

  @Command(name = "quota", description = "Set (or --clear) a member's or a key's quota for a period; SUBJECT "
      + "teams/{t}/members/* or apiKeys/* sets the team's default for each member or key.")
  void quota(@Parameters(paramLabel = "WALLET") String wallet, @Parameters(paramLabel = "SUBJECT") String subject,
      @Parameters(paramLabel = "PERIOD") String period, @Parameters(paramLabel = "AMOUNT", defaultValue = "0") String amount,
      @Option(names = "--clear") boolean clear,
      @Option(names = "--alert", description = "percent of the quota at which an alert fires (repeat; default 50, 80, 100)")
      java.util.List<Integer> alerts) {
    var r = root.c.wallet().setQuota(SetQuotaRequest.newBuilder().setWallet(wallet).setSubject(subject)
        .setPeriod(period(period)).setLimitNanos(Out.parseMoney(amount)).setClear(clear)
        .addAllAlertPercents(alerts == null ? java.util.List.of() : alerts).build());
    root.c.print(r, () -> show(r.getWallet()));
  }

  @Command(name = "limits", description = "Every limit that applies to a key, a member or the team, narrowest first"
      + " (the first with too little remaining is the one that refuses).")
  void limits(@Parameters(paramLabel = "WALLET") String wallet,
      @Option(names = "--subject", description = "apiKeys/{k} or teams/{t}/members/{u} (default: the team)")
      String subject) {
    var r = root.c.wallet().getEffectiveLimits(GetEffectiveLimitsRequest.newBuilder().setWallet(wallet)
        .setSubject(subject == null ? "" : subject).build());
    root.c.print(r, () -> {
      Out.Table t = new Out.Table("SCOPE", "SOURCE", "SUBJECT", "PERIOD", "LIMIT", "SPENT", "HELD", "REMAINING",
          "RESETS");
      r.getLimitsList().forEach(l -> t.row(l.getScope().name().substring("LIMIT_SCOPE_".length())
              .toLowerCase(Locale.ROOT), l.getSource(), l.getSubject(), l.getPeriod() == Period.PERIOD_UNSPECIFIED ? "-"
              : l.getPeriod().name().substring("PERIOD_".length()).toLowerCase(Locale.ROOT),
          Out.money(l.getLimitNanos()), Out.money(l.getSpentNanos()), Out.money(l.getHeldNanos()),
          Out.money(l.getRemainingNanos()), l.hasResetTime() ? Out.time(l.getResetTime()) : "-"));
      t.print();
    });
  }

  @Command(name = "plan", description = "Subscribe a team to plans/{plan} with a number of seats.")
  void plan(@Parameters(paramLabel = "WALLET") String wallet, @Parameters(paramLabel = "PLAN") String plan,
      @Parameters(paramLabel = "SEATS") int seats) {
    var r = root.c.wallet().setPlan(SetPlanRequest.newBuilder().setWallet(wallet).setPlan(plan).setSeats(seats).build());
    root.c.print(r, () -> show(r.getWallet()));
  }

  @Command(name = "plans", description = "The plan catalog.")
  void plans() {
    var r = root.c.wallet().listPlans(ListPlansRequest.getDefaultInstance());
    root.c.print(r, () -> {
      Out.Table t = new Out.Table("PLAN", "NAME", "INCLUDED PER SEAT");
      r.getPlansList().forEach(p -> t.row(p.getName(), p.getDisplayName(), Out.money(p.getIncludedUsagePerSeatNanos())));
      t.print();
    });
  }

  @Command(name = "sessions", description = "Metered sessions (GPU pods, streams) with what each accrued and the"
      + " wallet's runway.")
  void sessions(@Parameters(paramLabel = "WALLET") String wallet) {
    var r = root.c.wallet().listSessions(ListSessionsRequest.newBuilder().setWallet(wallet).build());
    root.c.print(r, () -> {
      Out.Table t = new Out.Table("SESSION", "METER", "RATE/S", "STATE", "ACCRUED", "RUNWAY");
      r.getSessionsList().forEach(x -> t.row(x.getName(), x.getMeter(), x.getRatePerSecond(),
          x.getState().toLowerCase(Locale.ROOT), Out.money(x.getAccruedCostNanos()),
          x.getState().equals("ENDED") ? "-" : x.getRunwaySeconds() + " s"));
      t.print();
    });
  }

  @Command(name = "billing-period", description = "Anchor the wallet's months to a billing day (1-28) and all"
      + " its windows to a time zone (IANA id, e.g. Europe/Berlin).")
  void billingPeriod(@Parameters(paramLabel = "WALLET") String wallet, @Parameters(paramLabel = "DAY") int day,
      @Parameters(paramLabel = "TIME_ZONE", defaultValue = "UTC") String timeZone) {
    var r = root.c.wallet().setBillingPeriod(SetBillingPeriodRequest.newBuilder().setWallet(wallet).setBillingDay(day)
        .setTimeZone(timeZone).build());
    root.c.print(r, () -> show(r.getWallet()));
  }

  @Command(name = "discount", description = "Set the team discount in basis points (operators).")
  void discount(@Parameters(paramLabel = "WALLET") String wallet, @Parameters(paramLabel = "BPS") int bps) {
    var r = root.c.wallet().setDiscount(SetDiscountRequest.newBuilder().setWallet(wallet).setDiscountBasisPoints(bps).build());
    root.c.print(r, () -> show(r.getWallet()));
  }

  @Command(name = "auto-refill", description = "Ask for a top-up (of --amount, or up to --target) when the balance"
      + " drops below --threshold, at most --monthly-cap a month, off after --max-failures failed payments.")
  void autoRefill(@Parameters(paramLabel = "WALLET") String wallet, @Option(names = "--threshold", defaultValue = "0") String threshold,
      @Option(names = "--amount", defaultValue = "0") String amount,
      @Option(names = "--target", defaultValue = "0") String target,
      @Option(names = "--monthly-cap", defaultValue = "0") String monthlyCap,
      @Option(names = "--max-failures", defaultValue = "0") int maxFailures, @Option(names = "--off") boolean off) {
    var r = root.c.wallet().setAutoRefill(SetAutoRefillRequest.newBuilder().setWallet(wallet).setEnabled(!off)
        .setThresholdNanos(Out.parseMoney(threshold)).setAmountNanos(Out.parseMoney(amount))
        .setTargetBalanceNanos(Out.parseMoney(target)).setMonthlyCapNanos(Out.parseMoney(monthlyCap))
        .setMaxFailedAttempts(maxFailures).build());
    root.c.print(r, () -> show(r.getWallet()));
  }

  @Command(name = "mode", description = "Admission mode: hard (holds) or soft (cached checks).")
  void mode(@Parameters(paramLabel = "WALLET") String wallet, @Parameters(paramLabel = "MODE") String mode) {
    var r = root.c.wallet().setAdmissionMode(SetAdmissionModeRequest.newBuilder().setWallet(wallet)
        .setMode(AdmissionMode.valueOf("ADMISSION_MODE_" + mode.toUpperCase(Locale.ROOT))).build());
    root.c.print(r, () -> show(r.getWallet()));
  }

  static Period period(String p) {
    return Period.valueOf("PERIOD_" + p.toUpperCase(Locale.ROOT));
  }

  static void show(Wallet w) {
    Out.fields("wallet", w.getName(), "owner", w.getOwner(),
        "status", w.getStatus().name().substring("WALLET_STATUS_".length()).toLowerCase(Locale.ROOT),
        "balance", Out.money(w.getBalanceNanos()) + " (paid " + Out.money(w.getPaidBalanceNanos()) + ", granted "
            + Out.money(w.getGrantedBalanceNanos()) + ")",
        "available", Out.money(w.getAvailableNanos()) + " (held " + Out.money(w.getHeldNanos()) + ")",
        "month spend", Out.money(w.getPeriodSpendNanos()) + " (since " + Out.time(w.getPeriodStartTime()) + ")",
        "billing period", "from day " + w.getBillingDay() + ", " + w.getTimeZone(),
        "mode", w.getAdmissionMode().name().substring("ADMISSION_MODE_".length()).toLowerCase(Locale.ROOT));
    w.getSpendingLimitsList().forEach(l -> Out.fields("limit " + period(l.getPeriod()),
        Out.money(l.getSpentNanos()) + " of " + Out.money(l.getLimitNanos()) + ", resets " + Out.time(l.getResetTime())));
    w.getQuotasList().forEach(q -> Out.fields("quota " + q.getSubject() + " " + period(q.getPeriod()),
        q.getSubject().endsWith("/*") ? Out.money(q.getLimitNanos()) + " each (team default)"
            : Out.money(q.getSpentNanos()) + " of " + Out.money(q.getLimitNanos())));
    if (w.hasPlan()) {
      Out.fields("plan", w.getPlan().getPlan() + " × " + w.getPlan().getSeats());
    }
  }

  private static String period(Period p) {
    return p.name().substring("PERIOD_".length()).toLowerCase(Locale.ROOT);
  }
}
