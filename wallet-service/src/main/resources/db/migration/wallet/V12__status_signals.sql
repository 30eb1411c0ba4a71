-- Suspension and resumption are signalled once per change (WalletSuspended / WalletResumed on wallet.v1):
-- the last status announced is kept, as low_balance_notified is for low balance.
alter table wallets add column status_notified text not null default 'active';
update wallets set status_notified = status;
