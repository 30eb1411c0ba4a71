-- Estimates are held at the team's net price: with a 100 % discount that is zero, still a hold (settled,
-- released or expired like any other) so that admission works the same for every team.
alter table holds drop constraint holds_amount_check;
alter table holds add constraint holds_amount_check check (amount >= 0);
