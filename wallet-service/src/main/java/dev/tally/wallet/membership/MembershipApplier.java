package dev.tally.wallet.membership;

import dev.tally.common.db.Idempotency;
import dev.tally.common.ids.Ids;
import dev.tally.proto.events.v1.IdentityEvent;
import dev.tally.wallet.db.AppliedEventDao;
import dev.tally.wallet.db.GrantDao;
import dev.tally.wallet.db.HoldDao;
import dev.tally.wallet.db.WalletDao;
import dev.tally.wallet.db.jooq.tables.records.GrantsRecord;
import dev.tally.wallet.db.jooq.tables.records.HoldsRecord;
import dev.tally.wallet.db.jooq.tables.records.WalletsRecord;
import dev.tally.wallet.ledger.Accounts;
import dev.tally.wallet.ledger.Ledger;
import dev.tally.wallet.ledger.NewTransfer;
import dev.tally.wallet.wallets.WalletBook;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import dev.tally.common.kafka.TransactionalConsumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.jooq.DSLContext;

/**
 * The money side of membership, from {@code identity.v1}: wallets appear with their users and teams; under
 * the move policy a creator's or joiner's paid balance moves to the team (one way); a deleted team's
 * remaining paid balance goes to its Owner's personal wallet and its wallet closes. Each event is applied
 * exactly once (claimed by id in the same transaction), however often it is delivered.
 */
public final class MembershipApplier {

  private final WalletBook book;
  private final WalletDao wallets;
  private final HoldDao holdRows = new HoldDao();
  private final GrantDao grantRows = new GrantDao();
  private final Ledger ledger;
  private final AppliedEventDao applied;

  public MembershipApplier(WalletBook book, WalletDao wallets, Ledger ledger, AppliedEventDao applied) {
    this.book = book;
    this.wallets = wallets;
    this.ledger = ledger;
    this.applied = applied;
  }

  public void apply(DSLContext tx, List<ConsumerRecord<String, byte[]>> records) {
    for (ConsumerRecord<String, byte[]> r : records) {
      IdentityEvent e = TransactionalConsumer.parse(r, IdentityEvent.parser(), "identity");
      byte[] hash = Idempotency.sha256(r.value());
      if (applied.claim(tx, "identity", e.getEventId(), hash) != AppliedEventDao.Claim.NEW) {
        continue;
      }
      switch (e.getChangeCase()) {
        case USER_UPSERTED -> book.ensure(tx, e.getUserUpserted().getWallet());
        case TEAM_CREATED -> joined(tx, e.getEventId(), e.getTeamCreated().getOwnerWallet(),
            e.getTeamCreated().getWallet(), e.getTeamCreated().getMovePaidBalance());
        case MEMBER_JOINED -> joined(tx, e.getEventId(), e.getMemberJoined().getUserWallet(),
            e.getMemberJoined().getTeamWallet(), e.getMemberJoined().getMovePaidBalance());
        case TEAM_DELETED -> deleted(tx, e.getEventId(), e.getTeamDeleted().getWallet(),
            e.getTeamDeleted().getOwnerWallet());
        default -> {}
      }
    }
  }

  private void joined(DSLContext tx, String eventId, String userWallet, String teamWallet, boolean move) {
    Map<String, WalletsRecord> locked = lock(tx, userWallet, teamWallet);
    if (!move) {
      return;
    }
    WalletsRecord from = locked.get(userWallet);
    WalletsRecord to = locked.get(teamWallet);
    long paid = ledger.balance(tx, Accounts.paid(userWallet));
    long movable = paid - from.getHeld();
    if (movable > 0) {
      ledger.postOne(tx, NewTransfer.simple(Ids.derived(book.now(), eventId + "|move"), Accounts.paid(userWallet),
          Accounts.paid(teamWallet), movable, from.getCurrencyCode(), "membership_transfer",
          "paid balance moved to the team on joining", book.nowOdt()));
      book.afterChange(tx, from);
      book.afterChange(tx, to);
    }
  }

  private void deleted(DSLContext tx, String eventId, String teamWallet, String ownerWallet) {
    Map<String, WalletsRecord> locked = lock(tx, teamWallet, ownerWallet);
    WalletsRecord team = locked.get(teamWallet);
    WalletsRecord owner = locked.get(ownerWallet);
    for (HoldsRecord h : holdRows.pendingHolds(tx, teamWallet)) {
      holdRows.closeHold(tx, h.getId(), "released", 0);
    }
    team.setHeld(0L);
    for (GrantsRecord g : grantRows.liveGrants(tx, teamWallet, book.nowOdt())) {
      book.expireGrant(tx, team, g, "forfeited: team deleted");
    }
    long paid = ledger.balance(tx, Accounts.paid(teamWallet));
    if (paid > 0) {
      ledger.postOne(tx, NewTransfer.simple(Ids.derived(book.now(), eventId + "|refund"), Accounts.paid(teamWallet),
          Accounts.paid(ownerWallet), paid, team.getCurrencyCode(), "refund",
          "remaining balance of the deleted team", book.nowOdt()));
    }
    team.setClosed(true);
    team.setPlan(null);
    team.setSeats(0);
    book.afterChange(tx, team);
    book.afterChange(tx, owner);
  }

  private Map<String, WalletsRecord> lock(DSLContext tx, String a, String b) {
    // Create and lock in name order, as every other writer does, so concurrent batches cannot deadlock.
    for (String name : new java.util.TreeSet<>(List.of(a, b))) {
      book.ensure(tx, name);
    }
    Map<String, WalletsRecord> m = new TreeMap<>();
    for (WalletsRecord w : wallets.lockAll(tx, List.of(a, b))) {
      book.bringUpToDate(tx, w);
      m.put(w.getName(), w);
    }
    return m;
  }
}
