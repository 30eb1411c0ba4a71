-- Idempotency of mutating RPCs (shared by every service schema): the first response to a client
-- request_id is kept and replayed. Keyed by principal too, so one caller cannot read another's response.
create table request_log (
  principal    text        not null,
  method       text        not null,
  request_id   text        not null,
  request_hash bytea       not null,
  response     bytea       not null,
  create_time  timestamptz not null default now(),
  primary key (principal, method, request_id)
);

create index request_log_create_time_idx on request_log (create_time);
