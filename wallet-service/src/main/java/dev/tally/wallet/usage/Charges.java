package dev.tally.wallet.usage;

import dev.tally.common.ids.Ids;
import dev.tally.common.ids.Wallets;
import dev.tally.wallet.db.GrantDao;
import dev.tally.wallet.db.jooq.tables.records.GrantsRecord;
import dev.tally.wallet.db.jooq.tables.records.WalletsRecord;
import dev.tally.wallet.ledger.Accounts;
import dev.tally.common.money.Pricing;
import dev.tally.wallet.ledger.NewTransfer;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jooq.DSLContext;

/**
 * Turns a usage cost into a usage line for a locked wallet: applies the team discount, spends granted credit
 * (lot by lot) before paid money, and lets paid money go negative (admitted usage always posts). The lines
 * of a batch reach the ledger as at most two postings per wallet ({@link #postings}).
 */
public final class Charges {
  private final GrantDao grantRows = new GrantDao();

  public Charges() {
  }

  /**
   * One usage charge to price against a wallet; {@code discount} the discount already decided for it (an
   * event priced net when recorded; 0 for an estimate held at the team's net price), null for the wallet's
   * current discount.
   */
  public record Usage(String eventId, byte[] payloadHash, long listCost, String member, String apiKey,
      Instant occurredAt, String description, Long discount) {}

  public UsageLine charge(DSLContext tx, WalletsRecord w, Usage u, ChargeBatch spend, Instant now) {
    long discount = u.discount() != null ? u.discount() : Pricing.discount(u.listCost(), w.getDiscountBps());
    long charge = u.listCost() - discount;
    long fromGrants = 0;
    if (charge > 0) {
      for (GrantsRecord g : spend.grants(w.getName(),
          () -> grantRows.liveGrants(tx, w.getName(), now.atOffset(ZoneOffset.UTC)))) {
        long take = Math.min(g.getRemaining(), charge - fromGrants);
        if (take <= 0) {
          continue;
        }
        spend.draw(g, take);
        fromGrants += take;
        if (fromGrants == charge) {
          break;
        }
      }
    }
    spend.add(w.getName(), dev.tally.wallet.wallets.WalletBook.periods(w), subjects(w.getName(), u.member(), u.apiKey()), u.occurredAt(), charge);
    return new UsageLine(w.getName(), u.eventId(), u.payloadHash(),
        Ids.derived(u.occurredAt(), w.getName() + "|" + u.eventId()), fromGrants, charge - fromGrants, u.listCost(),
        discount, w.getCurrencyCode(), blankToNull(u.member()), blankToNull(u.apiKey()), u.description(),
        u.occurredAt().atOffset(ZoneOffset.UTC), null, null);
  }

  /**
   * The ledger postings of a batch's lines: per wallet, one transfer from its granted account and one from its
   * paid account to revenue, each the sum of its lines' parts (none when zero). Returns the lines stamped
   * with the posting that carries them.
   */
  public static Posted postings(List<UsageLine> lines, Instant now) {
    Map<String, long[]> sums = new LinkedHashMap<>();
    Map<String, UsageLine> first = new LinkedHashMap<>();
    for (UsageLine l : lines) {
      long[] s = sums.computeIfAbsent(l.wallet(), k -> new long[3]);
      s[0] = Math.addExact(s[0], l.granted());
      s[1] = Math.addExact(s[1], l.paid());
      s[2]++;
      first.putIfAbsent(l.wallet(), l);
    }
    OffsetDateTime at = now.atOffset(ZoneOffset.UTC);
    List<NewTransfer> transfers = new ArrayList<>();
    Map<String, String> postingOf = new LinkedHashMap<>();
    sums.forEach((wallet, s) -> {
      UsageLine head = first.get(wallet);
      // Unique: the first line of a batch is new, so no other batch has it first.
      String posting = Ids.derived(now, wallet + "|usage-posting|" + head.eventId());
      postingOf.put(wallet, posting);
      String what = s[2] == 1 ? "usage: " + head.description() : "usage: " + s[2] + " events";
      // A batch with corrections may owe the wallet: a negative sum goes back from revenue to its account.
      posting(transfers, posting + "-granted", Accounts.granted(wallet), s[0], head.currency(),
          "granted credit, " + what, at);
      posting(transfers, posting + "-paid", Accounts.paid(wallet), s[1], head.currency(), what, at);
    });
    List<UsageLine> stamped = new ArrayList<>(lines.size());
    lines.forEach(l -> stamped.add(l.withPosting(postingOf.get(l.wallet()))));
    return new Posted(stamped, transfers);
  }

  private static void posting(List<NewTransfer> out, String id, String account, long sum, String currency,
      String what, OffsetDateTime at) {
    if (sum > 0) {
      out.add(NewTransfer.simple(id, account, Accounts.revenue(currency), sum, currency, "usage", what, at));
    } else if (sum < 0) {
      out.add(NewTransfer.simple(id, Accounts.revenue(currency), account, -sum, currency, "usage",
          "correction, " + what, at));
    }
  }

  /** Lines stamped with their posting, and the postings. */
  public record Posted(List<UsageLine> lines, List<NewTransfer> transfers) {}

  /** The subjects a charge counts against: the wallet, the member (team wallets) and the key. */
  public static List<String> subjects(String wallet, String member, String apiKey) {
    List<String> s = new ArrayList<>(3);
    s.add(wallet);
    if (member != null && !member.isEmpty()) {
      s.add(member);
    }
    if (apiKey != null && !apiKey.isEmpty()) {
      s.add(apiKey);
    }
    return s;
  }

  /** {@code teams/{t}/members/{u}} for a team wallet's user, else empty. */
  public static String memberSubject(String wallet, String user) {
    String owner = Wallets.owner(wallet);
    if (owner == null || !owner.startsWith("teams/") || user == null || user.isEmpty()) {
      return "";
    }
    return owner + "/members/" + user.substring("users/".length());
  }

  private static String blankToNull(String s) {
    return s == null || s.isEmpty() ? null : s;
  }
}
