-- Identity: users, teams, memberships, custom roles, invitations, API keys and the audit log.
-- Ids are UUIDv7 text (time-ordered). Secrets (API keys, invitation tokens) are stored only as keyed hashes.

create table users (
  id           text primary key,
  external_id  text        not null unique,
  email        text        not null,
  email_lower  text        not null unique,
  display_name text        not null default '',
  create_time  timestamptz not null default now(),
  update_time  timestamptz not null default now()
);

create table teams (
  id           text primary key,
  display_name text        not null check (char_length(display_name) between 1 and 48),
  owner_id     text        not null references users (id),
  create_time  timestamptz not null default now(),
  update_time  timestamptz not null default now(),
  -- Deleted teams stay for the audit log and past usage; nothing else sees them.
  delete_time  timestamptz
);

create index teams_owner_idx on teams (owner_id) where delete_time is null;

create table members (
  team_id   text        not null references teams (id),
  user_id   text        not null references users (id),
  -- roles/owner, roles/admin, roles/member or teams/{team}/roles/{role}
  role      text        not null,
  join_time timestamptz not null default now(),
  primary key (team_id, user_id)
);

create index members_user_idx on members (user_id);
create unique index members_one_owner_idx on members (team_id) where role = 'roles/owner';

create table custom_roles (
  team_id      text        not null references teams (id),
  role_id      text        not null,
  display_name text        not null,
  -- Permission enum names, e.g. PERMISSION_KEYS_USE.
  permissions  text[]      not null,
  create_time  timestamptz not null default now(),
  primary key (team_id, role_id)
);

create table invitations (
  id          text primary key,
  team_id     text        not null references teams (id),
  email_lower text        not null,
  role        text        not null,
  -- pending, accepted, declined, revoked, expired ("expired" is also derived from expire_time when read)
  state       text        not null,
  token_hash  bytea       not null unique,
  inviter_id  text        not null references users (id),
  create_time timestamptz not null default now(),
  expire_time timestamptz not null,
  close_time  timestamptz,
  send_count  int         not null default 1
);

create index invitations_team_idx on invitations (team_id, id desc);
create unique index invitations_one_pending_idx on invitations (team_id, email_lower) where state = 'pending';

create table api_keys (
  id            text primary key,
  -- personal, team, service
  kind          text        not null,
  -- active, archived, revoked ("expired" is derived from expire_time when read)
  state         text        not null,
  owner_id      text references users (id),
  team_id       text references teams (id),
  creator_id    text        not null references users (id),
  display_name  text        not null,
  secret_prefix text        not null,
  -- Set when the key was archived because its owner joined a team, so leaving restores exactly these.
  archived_by_membership boolean not null default false,
  create_time   timestamptz not null default now(),
  last_use_time timestamptz,
  expire_time   timestamptz,
  revoke_time   timestamptz,
  rotate_time   timestamptz,
  previous_secret_expire_time timestamptz,
  check (kind in ('personal', 'team', 'service')),
  check (state in ('active', 'archived', 'revoked')),
  check ((kind = 'service') = (owner_id is null)),
  check ((kind = 'personal') = (team_id is null))
);

create index api_keys_owner_idx on api_keys (owner_id, id desc);
create index api_keys_team_idx on api_keys (team_id, id desc);

-- One row per accepted secret of a key: the current one, and the previous one during a rotation's grace.
create table api_key_secrets (
  secret_hash bytea primary key,
  key_id      text        not null references api_keys (id),
  -- null while current; set when rotated out (the end of the grace period)
  expire_time timestamptz
);

create index api_key_secrets_key_idx on api_key_secrets (key_id);

create table audit_events (
  id          text primary key,
  -- teams/{team} or users/{user}: whose log it belongs to
  scope       text        not null,
  actor_user  text        not null default '',
  actor_team  text        not null default '',
  actor_key   text        not null default '',
  action      text        not null,
  target      text        not null,
  request_id  text        not null default '',
  details     jsonb       not null default '{}',
  create_time timestamptz not null default now()
);

create index audit_events_scope_idx on audit_events (scope, id desc);
