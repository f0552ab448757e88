"""The receivables books: payments, credit notes, reversals, write-offs posted, the
imports and exports, online payments."""
