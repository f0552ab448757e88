"""Use cases for money received: posting a payment and reversing one (bounced cheque, chargeback).

A payment is applied to the debtor's open instalments in its own currency: explicit allocations
first, then the allocation rule (``arrears.domain.allocation``), limited to one invoice when the
payment names one. What cannot be applied stays unallocated: the debtor's credit. No amount is
ever converted between currencies.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, select, update

from arrears.domain.activity import PaymentPosted, PaymentReversed
from arrears.domain.allocation import AllocationRule
from arrears.domain.ledger import Allocation, Payment, PaymentStatus, SourceKind
from arrears.domain.money import Money
from arrears.store import totals
from arrears.store.activity_log import Entry, record
from arrears.store.ledger.applying import check_amount, plan, target_invoice
from arrears.store.ledger.balances import (
    Posting,
    applied_payload,
    fail,
    find_debtor,
    insert_with_allocations,
    portfolio_of,
    repeated_posting,
    reverse_allocations,
)
from arrears.store.ledger.receivables import row_hash
from arrears.store.schema import debtor, payment


def _payment_row(conn: Connection, pid: int, external_id: str) -> RowMapping | None:
    query = select(payment).where(
        payment.c.portfolio_id == pid, payment.c.external_id == external_id
    )
    return conn.execute(query).mappings().first()


def post_payment(
    conn: Connection,
    new: Payment,
    *,
    allocations: Sequence[Allocation] = (),
    invoice: str | None = None,
    rule: AllocationRule = AllocationRule.OLDEST_DUE_FIRST,
    actor: str,
    at: datetime,
) -> Posting:
    """Post a payment and apply it; posting the same payment again changes nothing."""
    source = f"payment {new.external_id}"
    amount_minor = check_amount(new.amount, source)
    pid = portfolio_of(conn, new.portfolio, source)
    owner = find_debtor(conn, pid, new.debtor, source)
    values: dict[str, Any] = {
        "debtor_id": owner["id"],
        "received_on": new.received_on,
        "currency": new.amount.currency,
        "amount_minor": amount_minor,
        "method": new.method,
        "reference": new.reference,
    }
    existing = _payment_row(conn, pid, new.external_id)
    if existing is not None:
        return repeated_posting(
            conn,
            existing,
            values,
            source=source,
            source_kind=SourceKind.PAYMENT,
            currency=new.amount.currency,
        )
    totals.check_posting(conn, "payment", pid, new.amount.currency, amount_minor, source)
    invoice_id = (
        None
        if invoice is None
        else target_invoice(conn, pid, invoice, owner, new.amount.currency, source)
    )
    lines, result = plan(
        conn,
        source=source,
        owner=owner,
        amount=new.amount,
        explicit=allocations,
        rule=rule,
        invoice_id=invoice_id,
    )
    insert_with_allocations(
        conn,
        payment,
        {
            "portfolio_id": pid,
            "external_id": new.external_id,
            "unallocated_minor": result.unallocated_minor,
            "status": PaymentStatus.POSTED.value,
            "row_hash": row_hash(values),
            "created_at": at,
            "updated_at": at,
            **values,
        },
        lines,
        result.applied,
        source_kind=SourceKind.PAYMENT,
        debtor_id=int(owner["id"]),
        currency=new.amount.currency,
        on=new.received_on,
        at=at,
    )
    unallocated = Money.from_minor(result.unallocated_minor, new.amount.currency)
    activity = PaymentPosted(
        occurred_at=at,
        actor=actor,
        portfolio=new.portfolio,
        debtor=new.debtor,
        subject_kind="payment",
        subject_id=new.external_id,
        payload={
            "received_on": new.received_on.isoformat(),
            "amount": str(new.amount.amount),
            "currency": new.amount.currency,
            "allocations": applied_payload(result.applied, new.amount.currency),
            "unallocated": str(unallocated.amount),
        },
        idempotency_key=f"payment.posted:{new.portfolio}:{new.external_id}",
    )
    record(conn, [Entry(activity, pid, int(owner["id"]))])
    return Posting(new.external_id, result.applied, unallocated, changed=True)


def reverse_payment(
    conn: Connection,
    external_id: str,
    *,
    portfolio: str = "default",
    on: date,
    reason: str,
    actor: str,
    at: datetime,
) -> Posting:
    """Reverse a payment: its allocations are reversed on ``on`` and the instalments reopen.

    Repeating the same reversal changes nothing; reversing a reversed payment otherwise is a
    problem.
    """
    source = f"payment {external_id}"
    pid = portfolio_of(conn, portfolio, source)
    row = _payment_row(conn, pid, external_id)
    if row is None:
        raise fail(source, f"unknown payment {external_id!r}")
    currency = str(row["currency"])
    amount = Money.from_minor(int(row["amount_minor"]), currency)
    if row["status"] == PaymentStatus.REVERSED.value:
        if row["reversed_on"] == on and row["reversal_reason"] == reason:
            return Posting(external_id, (), amount, changed=False)
        raise fail(source, f"already reversed on {row['reversed_on']}")
    problems = []
    if on < row["received_on"]:
        problems.append(
            f"cannot be reversed on {on}, before it was received ({row['received_on']})"
        )
    if not reason.strip():
        problems.append("a reversal needs a reason (bounced cheque, chargeback...)")
    if problems:
        raise fail(source, *problems)
    owner = conn.execute(
        select(debtor.c.external_id).where(debtor.c.id == row["debtor_id"]).with_for_update()
    ).scalar_one()
    restored = reverse_allocations(conn, SourceKind.PAYMENT, int(row["id"]), on=on, at=at)
    conn.execute(
        update(payment)
        .where(payment.c.id == row["id"])
        .values(
            status=PaymentStatus.REVERSED.value,
            reversed_on=on,
            reversal_reason=reason,
            unallocated_minor=row["amount_minor"],
            updated_at=at,
        )
    )
    activity = PaymentReversed(
        occurred_at=at,
        actor=actor,
        portfolio=portfolio,
        debtor=owner,
        subject_kind="payment",
        subject_id=external_id,
        payload={
            "reversed_on": on.isoformat(),
            "reason": reason,
            "amount": str(amount.amount),
            "currency": currency,
            "restored": applied_payload(restored, currency),
        },
        idempotency_key=f"payment.reversed:{portfolio}:{external_id}",
    )
    record(conn, [Entry(activity, pid, int(row["debtor_id"]))])
    return Posting(external_id, restored, amount, changed=True)
