-- Account totals only grow, and the system accounts (deposits, revenue, grants) sum every wallet's money
-- for the life of the platform: 128-bit wide like TigerBeetle's (numeric(39,0) holds any unsigned 128-bit
-- integer), so no sum of int64 transfers can overflow them. What a client sees stays int64: a wallet's
-- balance is bounded by the ledger (BALANCE_LIMIT_EXCEEDED), one transfer by the contract.
alter table accounts
  alter column debits type numeric(39, 0),
  alter column credits type numeric(39, 0);
