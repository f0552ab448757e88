"""The scoring models' read side: a portfolio's ledger history."""
