-- Usage is itemized per event here and posted to the ledger per batch. A batch of usage events for one
-- wallet becomes at most two transfers (from granted credit, from paid money) whose amounts equal the sum of
-- the batch's lines: the ledger stays double-entry and small, the statement still lists what each call cost.
-- The primary key is also the exactly-once claim of the event (one write per event, not two).
create table usage_lines (
  wallet          text        not null,
  usage_event_id  text        not null,
  -- SHA-256 of the event as published (minus recorded_at): the same id with another payload is refused
  payload_hash    bytea       not null,
  -- time-ordered id (from the event's occurred_at) that places the line in the wallet's statement
  id              text        not null,
  granted_amount  bigint      not null check (granted_amount >= 0),
  paid_amount     bigint      not null check (paid_amount >= 0),
  list_amount     bigint      not null,
  discount        bigint      not null,
  currency_code   text        not null,
  member          text,
  api_key         text,
  description     text        not null,
  occur_time      timestamptz not null,
  -- the ledger transfer (prefix for the granted/paid pair) that carries this line
  posting         text        not null,
  create_time     timestamptz not null default now(),
  primary key (wallet, usage_event_id)
);
create index usage_lines_statement_idx on usage_lines (wallet, id desc);

-- Usage posted before this migration, one transfer per event (and per part), becomes lines pointing at
-- those transfers; their claims move here so a redelivery is still recognised.
insert into usage_lines (wallet, usage_event_id, payload_hash, id, granted_amount, paid_amount, list_amount,
    discount, currency_code, member, api_key, description, occur_time, posting, create_time)
select t.wallet, t.usage_event_id, coalesce(a.payload_hash, '\x'::bytea), t.id, t.granted, t.paid, t.list_amount,
    t.discount, t.currency_code, t.member, t.api_key, t.description, t.occur_time, t.posting, t.create_time
from (
  select regexp_replace(debit_account, '/granted$', '') as wallet, usage_event_id,
      min(id) as id, min(id) as posting,
      coalesce(sum(amount) filter (where debit_account like '%/granted'), 0) as granted,
      coalesce(sum(amount) filter (where debit_account not like '%/granted'), 0) as paid,
      coalesce(max(list_amount), sum(amount)) as list_amount, coalesce(max(discount), 0) as discount, min(currency_code) as currency_code,
      min(member) as member, min(api_key) as api_key,
      min(regexp_replace(description, '^granted credit: ', '')) as description,
      min(occur_time) as occur_time, min(create_time) as create_time
  from transfers
  where code = 'usage' and usage_event_id is not null
  group by 1, 2
) t
left join applied_events a on a.source = 'usage' and a.event_key = t.wallet || '|' || t.usage_event_id;

insert into usage_lines (wallet, usage_event_id, payload_hash, id, granted_amount, paid_amount, list_amount,
    discount, currency_code, member, api_key, description, occur_time, posting)
select split_part(a.event_key, '|', 1), substr(a.event_key, length(split_part(a.event_key, '|', 1)) + 2),
    a.payload_hash, '', 0, 0, 0, 0, '', null, null, 'no charge', a.apply_time, ''
from applied_events a
where a.source = 'usage'
on conflict do nothing;

delete from applied_events where source = 'usage';
