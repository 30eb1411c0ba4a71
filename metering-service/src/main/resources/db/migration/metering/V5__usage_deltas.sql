-- Usage is counted in the transaction that claims it (RecordUsage, CorrectUsage; the rollup consumer for usage
-- others publish): each adds its events' per-minute sums here, append-only, so concurrent calls never wait for
-- one another's row, and an event counts once without a second claim row per event (rolled_events now holds
-- only what the consumer counts). The compactor folds these rows into usage_rollups; queries read both.
create table usage_deltas (
  id              bigint generated always as identity primary key,
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
  discount_nanos  bigint      not null
);

-- A minute's totals can outgrow a bigint (each event is bounded, their number is not): wider, as every total
-- that can outgrow a long; queries answer OUT_OF_RANGE for a sum beyond int64 instead of a stuck fold.
alter table usage_rollups
  alter column calls type numeric,
  alter column quantity type numeric,
  alter column spend_nanos type numeric,
  alter column discount_nanos type numeric;
