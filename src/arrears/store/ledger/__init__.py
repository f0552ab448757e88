"""The ledger's use cases: debtors, invoices, payments, credits, write-offs, balances."""
