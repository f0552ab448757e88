"""The ledger's use cases: one function per state change, each writing its activity record.

Every use case takes the caller's connection (the caller owns the transaction, so the change and
its activity record commit or roll back together), an ``actor`` and the time ``at`` (UTC; nothing
here reads the clock). Problems in the request raise ``ProblemsFound`` before anything is written.
Each has a deterministic idempotency key (the activity's): calling it twice changes nothing the
second time. See ``docs/ledger.md``.

=====================  =================================================================
``add_debtor``         a debtor with contact points and consents (``debtor.created``)
``add_invoice``        an invoice with its instalments, fully open (``invoice.created``)
``post_payment``       a payment, applied explicitly and/or by the rule (``payment.posted``)
``reverse_payment``    a bounced cheque or chargeback, reopening balances (``payment.reversed``)
``issue_credit_note``  a credit note, applied like a payment (``credit_note.issued``)
``apply_credit``       a debtor's unallocated credit to open instalments (``credit.applied``)
``write_off``          all or part of an invoice's open balance (``write_off.posted``)
``reconcile``          the books' invariants checked in SQL; returns problems, writes nothing
=====================  =================================================================
"""

from __future__ import annotations

from arrears.store.balances import ConcurrentChange, Posting
from arrears.store.credits import apply_credit, issue_credit_note
from arrears.store.payments import post_payment, reverse_payment
from arrears.store.receivables import add_debtor, add_invoice
from arrears.store.reconcile import reconcile
from arrears.store.write_offs import write_off

__all__ = [
    "ConcurrentChange",
    "Posting",
    "add_debtor",
    "add_invoice",
    "apply_credit",
    "issue_credit_note",
    "post_payment",
    "reconcile",
    "reverse_payment",
    "write_off",
]
