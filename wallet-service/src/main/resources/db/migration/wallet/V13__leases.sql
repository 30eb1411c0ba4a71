-- Leases: holds a gateway admits from in memory (kind 'lease'). The holds it admitted are written later as
-- ordinary holds whose id is `{lease}_{n}`, their amounts moved out of the lease. A lease that expires is
-- released, never charged as usage (it is no request's estimate).
alter table holds add column kind text not null default 'hold' check (kind in ('hold', 'lease'));
