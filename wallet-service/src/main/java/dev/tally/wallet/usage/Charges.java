package dev.tally.wallet.usage;

import dev.tally.common.ids.Ids;
import dev.tally.common.ids.Wallets;
import dev.tally.wallet.db.WalletDao;
import dev.tally.wallet.db.jooq.tables.records.GrantsRecord;
import dev.tally.wallet.db.jooq.tables.records.WalletsRecord;
import dev.tally.wallet.ledger.Accounts;
import dev.tally.wallet.ledger.Money;
import dev.tally.wallet.ledger.NewTransfer;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import org.jooq.DSLContext;

/**
 * Turns a usage cost into ledger transfers for a locked wallet: applies the team discount, spends granted
 * credit (lot by lot) before paid money, and lets paid money go negative (admitted usage always posts).
 * Transfer ids derive from the usage event, so the same event can never be charged twice.
 */
public final class Charges {
  private final WalletDao wallets;

  public Charges(WalletDao wallets) {
    this.wallets = wallets;
  }

  /** One usage charge to post. */
  public record Usage(String eventId, long listCost, String member, String apiKey, Instant occurredAt,
      String description) {}

  /** The transfers a charge produced and the net amount charged. */
  public record Charged(List<NewTransfer> transfers, long charged, long discount) {}

  public Charged charge(DSLContext tx, WalletsRecord w, Usage u, ChargeBatch spend, Instant now) {
    long discount = Money.basisPoints(u.listCost(), w.getDiscountBps());
    long charge = u.listCost() - discount;
    List<NewTransfer> out = new ArrayList<>(2);
    String currency = w.getCurrencyCode();
    OffsetDateTime occurred = u.occurredAt().atOffset(ZoneOffset.UTC);
    long fromGrants = 0;
    if (charge > 0) {
      for (GrantsRecord g : spend.grants(w.getName(),
          () -> wallets.liveGrants(tx, w.getName(), now.atOffset(ZoneOffset.UTC)))) {
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
    long fromPaid = charge - fromGrants;
    String base = w.getName() + "|" + u.eventId();
    if (fromGrants > 0) {
      out.add(new NewTransfer(Ids.derived(u.occurredAt(), base + "|granted"), Accounts.granted(w.getName()),
          Accounts.revenue(currency), fromGrants, currency, "usage", blankToNull(u.member()), blankToNull(u.apiKey()),
          u.eventId(), null, fromPaid == 0 ? u.listCost() : null, fromPaid == 0 ? discount : null,
          "granted credit: " + u.description(), occurred));
    }
    if (fromPaid > 0) {
      out.add(new NewTransfer(Ids.derived(u.occurredAt(), base + "|paid"), Accounts.paid(w.getName()),
          Accounts.revenue(currency), fromPaid, currency, "usage", blankToNull(u.member()), blankToNull(u.apiKey()),
          u.eventId(), null, u.listCost(), discount, u.description(), occurred));
    }
    spend.add(w.getName(), subjects(w.getName(), u.member(), u.apiKey()), u.occurredAt(), charge);
    return new Charged(out, charge, discount);
  }

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
