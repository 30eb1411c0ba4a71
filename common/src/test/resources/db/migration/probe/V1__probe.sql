create table probe (
  id bigint primary key,
  name text not null
);
