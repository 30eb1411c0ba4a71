-- A meter's quantities are integers in its base unit; people think in a display unit. Saying both (and the
-- factor) makes "gpu_seconds counts milliseconds: 10 means 10 ms" impossible to miss.
alter table meters
  add column display_unit text not null default '',
  add column base_units_per_display_unit bigint not null default 1 check (base_units_per_display_unit > 0);
update meters set display_unit = base_unit;
update meters set display_unit = 'second', base_units_per_display_unit = 1000 where base_unit = 'millisecond';
