"""The receivables ledger's domain: pure types and rules, no I/O and no clock."""
