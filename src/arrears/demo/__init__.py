"""The demo portfolio generator: realistic debtors, invoices and payment histories."""
