-- Auto-refill that cannot hurt the payer: top up to a target, a monthly cap on what is requested, and
-- switched off after a number of failed payments in a row.
alter table wallets
  add column auto_refill_target          bigint      not null default 0,
  add column auto_refill_monthly_cap     bigint      not null default 0,
  add column auto_refill_max_failures    int         not null default 3 check (auto_refill_max_failures > 0),
  add column auto_refill_failures        int         not null default 0,
  add column auto_refill_month_start     timestamptz,
  add column auto_refill_month_requested bigint      not null default 0,
  -- the refill requested and neither paid nor failed yet
  add column auto_refill_pending         bigint      not null default 0;
