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
``add_promise``        a debtor's promise to pay by a date (``promise.made``)
``cancel_promise``     a promise withdrawn as of a day (``promise.cancelled``)
``add_hold``           collection held for a debtor over some days (``hold.added``)
``release_hold``       a hold ended early (``hold.released``)
``log_contact``        a contact attempt made by hand (``contact``)
``approve_stage``      a person approves an open case entering a stage (``stage.approved``)
``close_task``         a collector's task done (``task.closed``)
=====================  =================================================================

The collection use cases live in ``arrears.store.cycle.collection`` (see ``docs/cycle-store.md``).
"""

from __future__ import annotations

from arrears.store.cycle.collection import (
    add_hold,
    add_promise,
    approve_stage,
    cancel_promise,
    close_task,
    log_contact,
    release_hold,
)
from arrears.store.ledger.balances import ConcurrentChange, Posting
from arrears.store.ledger.credits import apply_credit, issue_credit_note
from arrears.store.ledger.payments import post_payment, reverse_payment
from arrears.store.ledger.receivables import add_debtor, add_invoice
from arrears.store.ledger.reconcile import reconcile
from arrears.store.ledger.write_offs import write_off

__all__ = [
    "ConcurrentChange",
    "Posting",
    "add_debtor",
    "add_hold",
    "add_invoice",
    "add_promise",
    "apply_credit",
    "approve_stage",
    "cancel_promise",
    "close_task",
    "issue_credit_note",
    "log_contact",
    "post_payment",
    "reconcile",
    "release_hold",
    "reverse_payment",
    "write_off",
]
