-- Usage corrections: each accepted event keeps what was published (to correct it later, priced as it was)
-- and what it counts now (after corrections). Events recorded before this cannot be corrected.
alter table ingested
  add column event            bytea,
  add column current_quantity bigint,
  add column current_cost     bigint,
  add column current_discount bigint,
  add column current_calls    int not null default 1;
