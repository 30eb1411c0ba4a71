-- Records a consumer could not apply (poison: bad data, not an outage), parked with their error in the same
-- transaction as the consumer's offsets, so one bad record never stops the others and none is skipped
-- silently. Operators list them, fix the cause and replay them; a replayed record keeps its row as history.
create table parked_events (
  id             bigserial   primary key,
  consumer_group text        not null,
  topic          text        not null,
  partition_id   int         not null,
  record_offset  bigint      not null,
  -- the record's key (the billing account on Tally's topics), NUL characters replaced
  record_key     text        not null default '',
  payload        bytea       not null,
  error          text        not null,
  attempts       int         not null default 1,
  state          text        not null default 'parked' check (state in ('parked', 'replayed')),
  park_time      timestamptz not null default now(),
  replay_time    timestamptz,
  unique (consumer_group, topic, partition_id, record_offset)
);

create index parked_events_open_idx on parked_events (consumer_group, id) where state = 'parked';
