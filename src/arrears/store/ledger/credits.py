"""Use cases for credit: issuing a credit note, and applying a debtor's unallocated credit.

A credit note lowers what a debtor owes without money changing hands. It is applied like a
payment: to the invoice it names (or by the allocation rule over the debtor's open instalments in
its currency); what is left is credit. ``apply_credit`` later spends the unallocated remainder of
posted payments and credit notes, oldest first, on instalments opened since.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Table, select, update

from arrears.domain.activity import CreditApplied, CreditNoteIssued
from arrears.domain.allocation import AllocationRule, allocate
from arrears.domain.ledger import Allocation, CreditNote, PaymentStatus, SourceKind
from arrears.domain.money import Money
from arrears.store import totals
from arrears.store.activity_log import Entry, record
from arrears.store.ledger.applying import check_amount, plan, target_invoice
from arrears.store.ledger.balances import (
    Posting,
    applied_payload,
    find_debtor,
    insert_with_allocations,
    open_lines,
    portfolio_of,
    repeated_posting,
    write_allocations,
)
from arrears.store.ledger.receivables import row_hash
from arrears.store.schema import credit_note, payment


def issue_credit_note(
    conn: Connection,
    note: CreditNote,
    *,
    allocations: Sequence[Allocation] = (),
    rule: AllocationRule = AllocationRule.OLDEST_DUE_FIRST,
    actor: str,
    at: datetime,
) -> Posting:
    """Issue a credit note and apply it; issuing the same note again changes nothing."""
    source = f"credit note {note.external_id}"
    amount_minor = check_amount(note.amount, source)
    currency = note.amount.currency
    pid = portfolio_of(conn, note.portfolio, source)
    owner = find_debtor(conn, pid, note.debtor, source)
    invoice_id = (
        None
        if note.invoice is None
        else target_invoice(conn, pid, note.invoice, owner, currency, source)
    )
    values: dict[str, Any] = {
        "debtor_id": owner["id"],
        "issued_on": note.issued_on,
        "currency": currency,
        "amount_minor": amount_minor,
        "invoice_id": invoice_id,
        "reason": note.reason,
    }
    existing = (
        conn.execute(
            select(credit_note).where(
                credit_note.c.portfolio_id == pid, credit_note.c.external_id == note.external_id
            )
        )
        .mappings()
        .first()
    )
    if existing is not None:
        return repeated_posting(
            conn,
            existing,
            values,
            source=source,
            source_kind=SourceKind.CREDIT_NOTE,
            currency=currency,
        )
    totals.check_posting(conn, "credit_note", pid, currency, amount_minor, source)
    lines, result = plan(
        conn,
        source=source,
        owner=owner,
        amount=note.amount,
        explicit=allocations,
        rule=rule,
        invoice_id=invoice_id,
    )
    insert_with_allocations(
        conn,
        credit_note,
        {
            "portfolio_id": pid,
            "external_id": note.external_id,
            "unallocated_minor": result.unallocated_minor,
            "row_hash": row_hash(values),
            "created_at": at,
            "updated_at": at,
            **values,
        },
        lines,
        result.applied,
        source_kind=SourceKind.CREDIT_NOTE,
        debtor_id=int(owner["id"]),
        currency=currency,
        on=note.issued_on,
        at=at,
    )
    unallocated = Money.from_minor(result.unallocated_minor, currency)
    activity = CreditNoteIssued(
        occurred_at=at,
        actor=actor,
        portfolio=note.portfolio,
        debtor=note.debtor,
        subject_kind="credit_note",
        subject_id=note.external_id,
        payload={
            "issued_on": note.issued_on.isoformat(),
            "amount": str(note.amount.amount),
            "currency": currency,
            "invoice": note.invoice,
            "reason": note.reason,
            "allocations": applied_payload(result.applied, currency),
            "unallocated": str(unallocated.amount),
        },
        idempotency_key=f"credit_note.issued:{note.portfolio}:{note.external_id}",
    )
    record(conn, [Entry(activity, pid, int(owner["id"]))])
    return Posting(note.external_id, result.applied, unallocated, changed=True)


def _credit_sources(conn: Connection, debtor_id: int) -> list[tuple[SourceKind, Table, Any]]:
    """The debtor's documents with unallocated credit, oldest first (payments before notes)."""
    sources: list[tuple[date, int, SourceKind, Table, Any]] = []
    for kind, table, day in (
        (SourceKind.PAYMENT, payment, payment.c.received_on),
        (SourceKind.CREDIT_NOTE, credit_note, credit_note.c.issued_on),
    ):
        query = select(
            table.c.id,
            table.c.external_id,
            table.c.currency,
            table.c.unallocated_minor,
            day.label("day"),
        ).where(table.c.debtor_id == debtor_id, table.c.unallocated_minor > 0)
        if table is payment:
            query = query.where(payment.c.status == PaymentStatus.POSTED.value)
        order = 0 if kind is SourceKind.PAYMENT else 1
        sources.extend((r.day, order, kind, table, r) for r in conn.execute(query))
    sources.sort(key=lambda s: (s[0], s[1], s[4].id))
    return [(kind, table, r) for _, _, kind, table, r in sources]


def apply_credit(
    conn: Connection,
    debtor: str,
    *,
    portfolio: str = "default",
    on: date,
    rule: AllocationRule = AllocationRule.OLDEST_DUE_FIRST,
    actor: str,
    at: datetime,
) -> tuple[Posting, ...]:
    """Apply the debtor's unallocated credit to its open instalments, currency by currency.

    Returns one posting per document whose credit was used; applying again changes nothing
    until new instalments open or new credit arrives.
    """
    source = f"debtor {debtor}"
    pid = portfolio_of(conn, portfolio, source)
    owner = find_debtor(conn, pid, debtor, source)
    debtor_id = int(owner["id"])
    postings: list[Posting] = []
    trail: list[dict[str, Any]] = []
    for kind, table, doc in _credit_sources(conn, debtor_id):
        lines = open_lines(conn, debtor_id, doc.currency)
        result = allocate(doc.unallocated_minor, [line.open for line in lines], rule=rule)
        if not result.applied:
            continue
        write_allocations(
            conn,
            lines,
            result.applied,
            source_kind=kind,
            source_id=doc.id,
            debtor_id=debtor_id,
            currency=doc.currency,
            on=on,
            at=at,
        )
        conn.execute(
            update(table)
            .where(table.c.id == doc.id)
            .values(unallocated_minor=result.unallocated_minor, updated_at=at)
        )
        left = Money.from_minor(result.unallocated_minor, doc.currency)
        postings.append(Posting(doc.external_id, result.applied, left, changed=True))
        trail.append(
            {
                "kind": kind.value,
                "document": doc.external_id,
                "currency": doc.currency,
                "credit_before": str(Money.from_minor(doc.unallocated_minor, doc.currency).amount),
                "allocations": applied_payload(result.applied, doc.currency),
            }
        )
    if trail:
        digest = hashlib.sha256(json.dumps(trail, sort_keys=True).encode()).hexdigest()[:16]
        activity = CreditApplied(
            occurred_at=at,
            actor=actor,
            portfolio=portfolio,
            debtor=debtor,
            subject_kind="debtor",
            subject_id=debtor,
            payload={"applied_on": on.isoformat(), "documents": trail},
            idempotency_key=f"credit.applied:{portfolio}:{debtor}:{digest}",
        )
        record(conn, [Entry(activity, pid, debtor_id)])
    return tuple(postings)
