"""The ledger's use cases as a person makes them by hand: payments, reversals, credit notes,
credit applied, write-offs; and what the ledger reads back (the activity log, the books' check).

Each use case checks the actor's role (``WORK`` to post money in and out, ``APPROVE`` to write
off, ``READ`` to look), runs in one transaction of its unit of work and writes its activity
record there, naming the actor (the store's functions in :mod:`arrears.store.ledger.cases`
write the rows and the record). Problems in the request are ``ProblemsFound`` (every one, before
anything is written); a concurrent writer is ``ConcurrentChange``, a
:class:`~arrears.domain.errors.Conflict`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from arrears.domain.actor import Actor, Permission
from arrears.domain.allocation import AllocationRule
from arrears.domain.ledger import CreditNote, Payment
from arrears.domain.money import Money
from arrears.domain.problems import Problem
from arrears.services.uow import SqlUnitOfWork
from arrears.store.history import recent_activity as store_recent_activity
from arrears.store.ledger import cases
from arrears.store.ledger.balances import Posting, find_invoice, portfolio_of

__all__ = [
    "ActivityRecord",
    "Posting",
    "WrittenOff",
    "add_credit_note",
    "apply_credit",
    "check_ledger",
    "recent_activity",
    "record_payment",
    "reverse_payment",
    "write_off",
]


@dataclass(frozen=True, slots=True)
class WrittenOff:
    """A write-off: how much of ``invoice`` it closed (nothing when it was already recorded)."""

    invoice: str
    amount: Money
    changed: bool


@dataclass(frozen=True, slots=True)
class ActivityRecord:
    """One line of the activity log: what happened, when (UTC), who did it, to what."""

    occurred_at: datetime
    kind: str
    actor: str
    portfolio: str | None
    debtor: str | None
    subject_kind: str
    subject_id: str
    payload: Any


def record_payment(
    uow: SqlUnitOfWork,
    actor: Actor,
    payment: Payment,
    *,
    invoice: str | None = None,
    rule: AllocationRule = AllocationRule.OLDEST_DUE_FIRST,
    at: datetime,
) -> Posting:
    """Post ``payment``, applied to ``invoice`` alone or by ``rule``; the same payment posted
    again changes nothing (``changed`` is false)."""
    actor.require(Permission.WORK, "record a payment")
    with uow:
        return cases.post_payment(
            uow.conn, payment, invoice=invoice, rule=rule, actor=actor.name, at=at
        )


def reverse_payment(
    uow: SqlUnitOfWork,
    actor: Actor,
    payment: str,
    *,
    portfolio: str,
    on: date,
    reason: str,
    at: datetime,
) -> Posting:
    """Reverse a bounced or charged-back payment: its allocations (``applied``) are undone and
    the invoices reopen."""
    actor.require(Permission.WORK, "reverse a payment")
    with uow:
        return cases.reverse_payment(
            uow.conn, payment, portfolio=portfolio, on=on, reason=reason, actor=actor.name, at=at
        )


def add_credit_note(
    uow: SqlUnitOfWork,
    actor: Actor,
    note: CreditNote,
    *,
    rule: AllocationRule = AllocationRule.OLDEST_DUE_FIRST,
    at: datetime,
) -> Posting:
    """Issue ``note``, applied to its invoice (or by ``rule`` when it names none)."""
    actor.require(Permission.WORK, "issue a credit note")
    with uow:
        return cases.issue_credit_note(uow.conn, note, rule=rule, actor=actor.name, at=at)


def apply_credit(
    uow: SqlUnitOfWork,
    actor: Actor,
    debtor: str,
    *,
    portfolio: str,
    on: date,
    rule: AllocationRule = AllocationRule.OLDEST_DUE_FIRST,
    at: datetime,
) -> tuple[Posting, ...]:
    """Apply the debtor's unallocated payments and credit notes to its open instalments: one
    posting per document whose credit was used (none: nothing changed)."""
    actor.require(Permission.WORK, "apply a debtor's credit")
    with uow:
        return cases.apply_credit(
            uow.conn, debtor, portfolio=portfolio, on=on, rule=rule, actor=actor.name, at=at
        )


def write_off(
    uow: SqlUnitOfWork,
    actor: Actor,
    invoice: str,
    *,
    portfolio: str,
    amount: Decimal | None = None,
    on: date,
    reason: str,
    at: datetime,
) -> WrittenOff:
    """Write off ``amount`` (in the invoice's currency) of the invoice's open balance, all of it
    when ``None``; the same write-off again changes nothing."""
    actor.require(Permission.APPROVE, "write off an invoice")
    with uow:
        source = f"write-off of invoice {invoice}"
        pid = portfolio_of(uow.conn, portfolio, source)
        currency = str(find_invoice(uow.conn, pid, invoice, source)["currency"])
        posting = cases.write_off(
            uow.conn,
            invoice,
            portfolio=portfolio,
            amount=None if amount is None else Money(amount, currency),
            on=on,
            reason=reason,
            actor=actor.name,
            at=at,
        )
    total = sum(a.amount_minor for a in posting.applied)
    return WrittenOff(invoice, Money.from_minor(total, currency), posting.changed)


def check_ledger(uow: SqlUnitOfWork, actor: Actor) -> list[Problem]:
    """Every way the balances disagree with their allocations (none: the ledger reconciles)."""
    actor.require(Permission.READ, "check the ledger")
    with uow:
        return cases.reconcile(uow.conn)


def recent_activity(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str | None = None,
    debtor: str | None = None,
    limit: int = 50,
) -> list[ActivityRecord]:
    """The newest ``limit`` records of the activity log, newest first; of one debtor (of
    ``portfolio``) when ``debtor`` is given."""
    actor.require(Permission.READ, "read the activity log")
    with uow:
        rows = store_recent_activity(uow.conn, portfolio_code=portfolio, debtor=debtor, limit=limit)
    return [
        ActivityRecord(
            occurred_at=row["occurred_at"],  # type: ignore[arg-type]
            kind=str(row["kind"]),
            actor=str(row["actor"]),
            portfolio=None if row["portfolio"] is None else str(row["portfolio"]),
            debtor=None if row["debtor"] is None else str(row["debtor"]),
            subject_kind=str(row["subject_kind"]),
            subject_id=str(row["subject_id"]),
            payload=row["payload"],
        )
        for row in rows
    ]
