-- Webhooks: HTTPS endpoints the platform registers (for the deployment, or one team) and the deliveries of
-- wallet and identity events to them. Signing secrets are sealed (AES-GCM with the service's key), never
-- stored in clear; a rotated-out secret keeps signing alongside the new one until its grace ends.
create table webhook_endpoints (
  id                          text primary key,
  url                         text        not null,
  -- null: every team's events
  team_id                     text references teams (id),
  -- empty: every event type
  event_types                 text[]      not null default '{}',
  secret_nonce                bytea       not null,
  secret_sealed               bytea       not null,
  previous_secret_nonce       bytea,
  previous_secret_sealed      bytea,
  previous_secret_expire_time timestamptz,
  create_time                 timestamptz not null default now()
);

create table webhook_deliveries (
  id                text primary key,
  endpoint_id       text        not null references webhook_endpoints (id) on delete cascade,
  -- the event's id: receivers deduplicate on it (delivery is at least once)
  event_id          text        not null,
  event_type        text        not null,
  payload           text        not null,
  state             text        not null check (state in ('pending', 'delivered', 'failed')),
  attempts          int         not null default 0,
  next_attempt_time timestamptz not null,
  last_status       int,
  last_error        text,
  create_time       timestamptz not null default now(),
  deliver_time      timestamptz,
  unique (endpoint_id, event_id)
);

create index webhook_deliveries_due_idx on webhook_deliveries (next_attempt_time) where state = 'pending';
create index webhook_deliveries_endpoint_idx on webhook_deliveries (endpoint_id, id desc);
