-- A team's billing day and time zone anchor its monthly, weekly and daily windows (default: the calendar
-- month in UTC, which is what every existing wallet had).
alter table wallets
  add column billing_day     smallint not null default 1 check (billing_day between 1 and 28),
  add column time_zone       text     not null default 'UTC',
  -- when the plan's current period ends (its renewal is due): windows are no longer the same for all wallets
  add column plan_period_end timestamptz;

update wallets set plan_period_end = plan_period_start + interval '1 month' where plan_period_start is not null;

create index wallets_plan_due_idx on wallets (plan_period_end) where plan is not null;

-- Each spend window knows when it ends (its wallet's anchor decided it), so ended windows are found without
-- recomputing anybody's calendar. Lifetime windows never end.
alter table spend add column window_end timestamptz;

update spend set window_end = case period
  when 'day' then window_start + interval '1 day'
  when 'week' then window_start + interval '7 days'
  when 'month' then window_start + interval '1 month'
  end;

drop index spend_alerting_idx;
create index spend_alerting_idx on spend (window_end) where notified_pct > 0;
