-- Metered sessions of long-running resources: Tally accrues their elapsed quantity itself, as usage events
-- written through the outbox in the same transaction that advances accrued_quantity (exactly once, whatever
-- the restarts), priced cumulatively from the start so rounding never drifts.
create table sessions (
  id                     text primary key,
  wallet                 text        not null references wallets (name),
  api_key                text        not null default '',
  user_name              text        not null default '',
  member                 text        not null default '',
  meter                  text        not null,
  model                  text        not null default '',
  rate                   bigint      not null check (rate > 0),
  price_nanos            bigint      not null check (price_nanos >= 0),
  per_quantity           bigint      not null check (per_quantity > 0),
  currency_code          text        not null,
  hold_id                text        not null,
  stop_threshold_seconds int         not null,
  state                  text        not null check (state in ('running', 'stop_requested', 'ended')),
  start_time             timestamptz not null,
  accrued_quantity       bigint      not null default 0,
  accrued_cost           bigint      not null default 0,
  end_time               timestamptz,
  create_time            timestamptz not null default now()
);

create index sessions_open_idx on sessions (wallet) where state <> 'ended';
