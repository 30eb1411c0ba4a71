-- Kafka consumer positions kept in the database, committed in the same transaction as the effects of the
-- records they follow: after a crash the consumer resumes exactly where its last committed effects end.
create table consumer_offsets (
  consumer_group text   not null,
  topic          text   not null,
  partition_id   int    not null,
  next_offset    bigint not null,
  primary key (consumer_group, topic, partition_id)
);
