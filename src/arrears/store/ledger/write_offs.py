"""The write-off use case: giving up on (part of) an invoice's open balance.

A write-off is its own document (a ``write_off`` row with its reason and actor) applied to the
invoice's open instalments, oldest due first, as allocations of kind ``write_off``. An invoice
that a write-off closes gets status ``written_off``. Write-offs have no external id, so their
idempotency key is made of the request itself: invoice, date, amount (or "all") and reason.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime

from sqlalchemy import Connection, select

from arrears.domain.activity import WriteOffPosted
from arrears.domain.allocation import AllocationRule, allocate
from arrears.domain.ledger import SourceKind
from arrears.domain.money import Money
from arrears.store.activity_log import Entry, record
from arrears.store.ledger.balances import (
    Posting,
    already_recorded,
    applied_payload,
    fail,
    find_invoice,
    insert_with_allocations,
    minor,
    open_lines,
    portfolio_of,
)
from arrears.store.schema import debtor
from arrears.store.schema import write_off as write_off_table


def write_off_key(
    portfolio: str, invoice: str, on: date, amount_minor: int | None, reason: str
) -> str:
    how_much = "all" if amount_minor is None else str(amount_minor)
    why = hashlib.sha256(reason.encode("utf-8")).hexdigest()[:12]
    return f"write_off.posted:{portfolio}:{invoice}:{on.isoformat()}:{how_much}:{why}"


def write_off(
    conn: Connection,
    invoice: str,
    *,
    portfolio: str = "default",
    amount: Money | None = None,
    on: date,
    reason: str,
    actor: str,
    at: datetime,
) -> Posting:
    """Write off ``amount`` of the invoice (all that is open when ``None``)."""
    source = f"write-off of invoice {invoice}"
    pid = portfolio_of(conn, portfolio, source)
    row = find_invoice(conn, pid, invoice, source)
    currency = str(row["currency"])
    problems = []
    if not reason.strip():
        problems.append("a write-off needs a reason")
    if amount is not None and amount.currency != currency:
        problems.append(f"amount in {amount.currency}, invoice in {currency}: no conversion")
    elif amount is not None and not amount.is_positive():
        problems.append(f"amount must be positive, not {amount.amount}")
    if problems:
        raise fail(source, *problems)
    amount_minor = None if amount is None else minor(amount, source)
    key = write_off_key(portfolio, invoice, on, amount_minor, reason)
    if already_recorded(conn, key):
        return Posting(invoice, (), Money.zero(currency), changed=False)
    owner = conn.execute(
        select(debtor.c.external_id).where(debtor.c.id == row["debtor_id"]).with_for_update()
    ).scalar_one()
    lines = open_lines(conn, int(row["debtor_id"]), currency, int(row["id"]))
    open_minor = sum(line.open.open_minor for line in lines)
    if open_minor == 0:
        raise fail(source, f"invoice {invoice} has nothing open to write off")
    wanted = open_minor if amount_minor is None else amount_minor
    if wanted > open_minor:
        raise fail(
            source,
            f"{Money.from_minor(wanted, currency)} exceeds the open balance "
            f"{Money.from_minor(open_minor, currency)}",
        )
    result = allocate(wanted, [line.open for line in lines], rule=AllocationRule.OLDEST_DUE_FIRST)
    insert_with_allocations(
        conn,
        write_off_table,
        {
            "portfolio_id": pid,
            "debtor_id": row["debtor_id"],
            "invoice_id": row["id"],
            "effective_on": on,
            "currency": currency,
            "amount_minor": wanted,
            "reason": reason,
            "actor": actor,
            "created_at": at,
        },
        lines,
        result.applied,
        source_kind=SourceKind.WRITE_OFF,
        debtor_id=int(row["debtor_id"]),
        currency=currency,
        on=on,
        at=at,
    )
    written = Money.from_minor(wanted, currency)
    activity = WriteOffPosted(
        occurred_at=at,
        actor=actor,
        portfolio=portfolio,
        debtor=owner,
        subject_kind="invoice",
        subject_id=invoice,
        payload={
            "effective_on": on.isoformat(),
            "amount": str(written.amount),
            "currency": currency,
            "reason": reason,
            "allocations": applied_payload(result.applied, currency),
        },
        idempotency_key=key,
    )
    record(conn, [Entry(activity, pid, int(row["debtor_id"]))])
    return Posting(invoice, result.applied, Money.zero(currency), changed=True)
