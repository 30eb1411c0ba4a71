-- Housekeeping finds the windows whose alerts are still open (to resolve them when the window ends).
create index spend_alerting_idx on spend (window_start) where notified_pct > 0;
