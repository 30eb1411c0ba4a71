-- Transactional outbox (shared by every service schema): events are written in the same transaction as
-- the change they describe and relayed to Kafka afterwards, so a committed change is never unannounced.
create table outbox (
  id          bigint generated always as identity primary key,
  topic       text        not null,
  record_key  text        not null,
  payload     bytea       not null,
  create_time timestamptz not null default now()
);
