-- Transactional outbox of invitation mails. The body carries the accept link (and so the token): it is
-- kept only encrypted (AES-GCM), and the row is deleted as soon as the SMTP server has accepted the mail.
create table mail_outbox (
  id                bigint generated always as identity primary key,
  recipient         text        not null,
  subject           text        not null,
  body_nonce        bytea       not null,
  body_ciphertext   bytea       not null,
  attempts          int         not null default 0,
  next_attempt_time timestamptz not null default now(),
  last_error        text,
  create_time       timestamptz not null default now()
);

create index mail_outbox_due_idx on mail_outbox (next_attempt_time);
