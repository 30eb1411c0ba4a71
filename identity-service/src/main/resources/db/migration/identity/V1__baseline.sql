-- The identity service's own tables (schema chosen by TALLY_DB_SCHEMA, default 'identity').
-- The shared request_log and outbox tables come from db/common (versions 0.x).
select 1;
