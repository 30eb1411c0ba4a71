-- Meters and models a key may be used for (empty: any), and a team's default for its keys. A key's own list
-- narrows within its team's: both apply.
alter table api_keys
  add column allowed_meters text[] not null default '{}',
  add column allowed_models text[] not null default '{}';

alter table teams
  add column key_allowed_meters text[] not null default '{}',
  add column key_allowed_models text[] not null default '{}';
