-- Each limit says at which percentages of it an alert fires (ThresholdCrossed, then ThresholdResolved).
alter table limits add column alert_percents int[] not null default '{50,80,100}';
