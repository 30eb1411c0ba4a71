-- Metering: the price catalog, the ingest log (the advisory dedup of RecordUsage) and usage rollups.

create table meters (
  id           text primary key,
  display_name text    not null,
  base_unit    text    not null,
  -- counts as tokens in usage summaries
  tokens       boolean not null default false
);

insert into meters (id, display_name, base_unit, tokens) values
  ('input_tokens', 'Input tokens', 'token', true),
  ('output_tokens', 'Output tokens', 'token', true),
  ('cpu_seconds', 'CPU time', 'millisecond', false),
  ('gpu_seconds', 'GPU time', 'millisecond', false),
  ('requests', 'Requests', 'request', false);

-- Effective-dated price versions: usage is priced with the latest version effective at its occurred_at.
-- cost = quantity × price_nanos / per_quantity, rounded half-even once per event.
create table prices (
  id             text primary key,
  meter          text        not null references meters (id),
  -- '' = the meter's default price; otherwise the model or SKU it applies to
  model          text        not null default '',
  price_nanos    bigint      not null check (price_nanos >= 0),
  per_quantity   bigint      not null check (per_quantity > 0),
  currency_code  text        not null,
  effective_time timestamptz not null,
  create_time    timestamptz not null default now()
);

create index prices_lookup_idx on prices (meter, model, effective_time desc);

-- Defaults: CPU $0.0001/s and GPU $0.0003/s (per millisecond: 100 and 300 nanos); tokens $0.15 and $0.60
-- per million; requests free.
insert into prices (id, meter, model, price_nanos, per_quantity, currency_code, effective_time) values
  ('default-input-tokens', 'input_tokens', '', 150, 1, 'USD', '1970-01-01T00:00:00Z'),
  ('default-output-tokens', 'output_tokens', '', 600, 1, 'USD', '1970-01-01T00:00:00Z'),
  ('default-cpu-seconds', 'cpu_seconds', '', 100, 1, 'USD', '1970-01-01T00:00:00Z'),
  ('default-gpu-seconds', 'gpu_seconds', '', 300, 1, 'USD', '1970-01-01T00:00:00Z'),
  ('default-requests', 'requests', '', 0, 1, 'USD', '1970-01-01T00:00:00Z');

-- Every accepted usage record, committed only after Kafka acknowledged its event: a lost commit can only
-- make a retry publish the event again (which the wallet's unique claim absorbs), never lose it.
create table ingested (
  billing_account text        not null,
  event_id        text        not null,
  payload_hash    bytea       not null,
  cost_nanos      bigint      not null,
  record_time     timestamptz not null default now(),
  primary key (billing_account, event_id)
);

-- Rollups of usage.v1 per minute and dimension; the events already counted, claimed in the same transaction.
create table rolled_events (
  billing_account text not null,
  event_id        text not null,
  primary key (billing_account, event_id)
);

create table usage_rollups (
  minute          timestamptz not null,
  billing_account text        not null,
  team            text        not null,
  member          text        not null,
  api_key         text        not null,
  meter           text        not null,
  model           text        not null,
  calls           bigint      not null,
  quantity        bigint      not null,
  spend_nanos     bigint      not null,
  primary key (minute, billing_account, api_key, member, meter, model)
);

create index usage_rollups_team_idx on usage_rollups (team, minute);
create index usage_rollups_key_idx on usage_rollups (api_key, minute);
create index usage_rollups_account_idx on usage_rollups (billing_account, minute);
