-- Usage corrections are never edits: a correction adds a reversal line (negative: what the corrected event
-- costs the wallet at that moment) and, for an amendment, a replacement line, both pointing at the event they
-- correct. The sum of an event's chain is what it costs now.
alter table usage_lines
  drop constraint usage_lines_granted_amount_check,
  drop constraint usage_lines_paid_amount_check,
  add column corrects text,
  add constraint usage_lines_signed_only_corrections
    check (corrects is not null or (granted_amount >= 0 and paid_amount >= 0));

create index usage_lines_corrections_idx on usage_lines (wallet, corrects) where corrects is not null;
