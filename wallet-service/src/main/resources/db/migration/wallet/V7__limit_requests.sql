-- A member asks for a higher cap; an Owner or Admin approves (the cap becomes the subject's override) or
-- denies. Every step is also in the audit log.
create table limit_requests (
  id              text primary key,
  wallet          text        not null references wallets (name),
  subject         text        not null,
  period          text        not null check (period in ('day', 'week', 'month', 'lifetime')),
  requested_limit bigint      not null check (requested_limit > 0),
  current_limit   bigint      not null,
  reason          text        not null,
  state           text        not null default 'pending' check (state in ('pending', 'approved', 'denied')),
  requested_by    text        not null,
  decided_by      text        not null default '',
  decision_note   text        not null default '',
  create_time     timestamptz not null default now(),
  decide_time     timestamptz
);
create index limit_requests_wallet_idx on limit_requests (wallet, id desc);
