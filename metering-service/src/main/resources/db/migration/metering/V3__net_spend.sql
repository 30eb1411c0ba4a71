-- Team discounts as the wallet last published them on wallet.v1 (its state events carry the discount and a
-- per-wallet version): usage is priced net when recorded, so the wallet's debit and metering's net spend are
-- the same number by construction.
create table discounts (
  billing_account text primary key,
  basis_points    int    not null check (basis_points between 0 and 10000),
  version         bigint not null
);

-- What each accepted event was priced at after the discount (a duplicate answers with the first's).
alter table ingested add column discount_nanos bigint not null default 0;

-- Net spend per rollup: list spend less the discounts of its events (0 for events recorded before this).
alter table usage_rollups add column discount_nanos bigint not null default 0;
