-- The ledger. Amounts are bigint nano-units of the account's currency ($1 = 1e9). Every transfer moves a
-- positive amount from one account (debit) to another (credit) of the same currency; rows are never updated
-- or deleted, corrections are reversing transfers. Account totals are kept beside them and must always equal
-- what the transfers say (checked by Reconcile).

-- Ledger accounts: a wallet's paid account (id = wallet name), its granted-credit account
-- (id = wallet name || '/granted'), and system accounts (system/<purpose>/<currency>).
create table accounts (
  id            text primary key,
  currency_code text        not null,
  debits        bigint      not null default 0 check (debits >= 0),
  credits       bigint      not null default 0 check (credits >= 0),
  create_time   timestamptz not null default now()
);

create table transfers (
  id                 text primary key,
  debit_account      text        not null references accounts (id),
  credit_account     text        not null references accounts (id),
  amount             bigint      not null check (amount > 0),
  currency_code      text        not null,
  -- deposit, usage, membership_transfer, grant, grant_expiry, refund, reversal
  code               text        not null,
  member             text,
  api_key            text,
  usage_event_id     text,
  external_reference text,
  list_amount        bigint,
  discount           bigint,
  reverses           text references transfers (id),
  description        text        not null default '',
  -- when the underlying fact happened (usage: the event's occurred_at)
  occur_time         timestamptz not null,
  create_time        timestamptz not null default now(),
  check (debit_account <> credit_account)
);

create index transfers_debit_idx on transfers (debit_account, id desc);
create index transfers_credit_idx on transfers (credit_account, id desc);
-- A payment is credited once per currency, whatever the retries.
create unique index transfers_deposit_ref_idx on transfers (currency_code, external_reference) where code = 'deposit';

-- Wallets: the money-holding side of a team or a user, with its admission settings.
create table wallets (
  name                   text primary key,
  owner                  text        not null,
  currency_code          text        not null,
  status                 text        not null default 'active' check (status in ('active', 'suspended')),
  suspend_threshold      bigint      not null,
  admission_mode         text        not null default 'hard' check (admission_mode in ('hard', 'soft')),
  discount_bps           int         not null default 0 check (discount_bps between 0 and 10000),
  held                   bigint      not null default 0 check (held >= 0),
  auto_refill_enabled    boolean     not null default false,
  auto_refill_threshold  bigint      not null default 0,
  auto_refill_amount     bigint      not null default 0,
  -- true once a refill was requested for the current dip below the threshold; rearmed above it
  auto_refill_requested  boolean     not null default false,
  low_balance_notified   boolean     not null default false,
  plan                   text,
  seats                  int         not null default 0,
  -- start of the period the plan was last granted for
  plan_period_start      timestamptz,
  -- the team has been deleted: nothing may be reserved or spent any more
  closed                 boolean     not null default false,
  version                bigint      not null default 0,
  create_time            timestamptz not null default now(),
  update_time            timestamptz not null default now()
);

-- Granted credit lots (plans, promotions): spent before paid money, lowest priority number first, then
-- soonest expiry. The sum of remaining equals the wallet's granted account balance.
create table grants (
  id          text primary key,
  wallet      text        not null references wallets (name),
  amount      bigint      not null check (amount > 0),
  remaining   bigint      not null check (remaining >= 0),
  priority    int         not null,
  expire_time timestamptz,
  source      text        not null,
  create_time timestamptz not null default now()
);

create index grants_live_idx on grants (wallet, priority, expire_time) where remaining > 0;

-- Spending limits (subject = the wallet) and quotas (subject = a member or a key) per period.
create table limits (
  wallet      text        not null references wallets (name),
  subject     text        not null,
  period      text        not null check (period in ('day', 'week', 'month', 'lifetime')),
  limit_nanos bigint      not null check (limit_nanos >= 0),
  update_time timestamptz not null default now(),
  primary key (wallet, subject, period)
);

-- Spend per subject and period window (the window containing the usage's occurred_at).
create table spend (
  wallet       text        not null references wallets (name),
  subject      text        not null,
  period       text        not null,
  window_start timestamptz not null,
  spent        bigint      not null default 0,
  -- highest of 50/80/100 % of the subject's limit already notified in this window
  notified_pct int         not null default 0,
  primary key (wallet, subject, period, window_start)
);

-- Holds: reservations of available balance for requests in flight (two-phase, like pending transfers).
create table holds (
  id          text primary key,
  wallet      text        not null references wallets (name),
  amount      bigint      not null check (amount > 0),
  state       text        not null check (state in ('pending', 'settled', 'released', 'expired')),
  api_key     text        not null default '',
  member      text        not null default '',
  settled     bigint      not null default 0,
  create_time timestamptz not null default now(),
  expire_time timestamptz not null,
  close_time  timestamptz
);

create index holds_pending_idx on holds (wallet, expire_time) where state = 'pending';

-- Exactly-once application of Kafka events: the key of every applied event, written in the same
-- transaction as its effects (the consumer offsets go there too, see common's consumer_offsets).
create table applied_events (
  source       text        not null,
  event_key    text        not null,
  payload_hash bytea       not null,
  apply_time   timestamptz not null default now(),
  primary key (source, event_key)
);
