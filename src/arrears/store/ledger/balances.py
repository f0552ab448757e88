"""Open balances: finding documents, applying allocations to instalments, keeping invoice status.

Shared by the ledger use cases (``arrears.store.ledger.cases``). Every function works on the
caller's connection; none commits. Writes that lower an open balance are guarded in SQL
(``open_minor >= amount``) so a concurrent change can never take an instalment below zero.

Invoice status follows from the balances alone: ``open`` while any instalment is open, otherwise
``written_off`` when an active write-off allocation closed it, otherwise ``paid``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, Table, func, insert, select, update
from sqlalchemy.exc import DBAPIError

from arrears.domain.allocation import Applied, OpenInstalment
from arrears.domain.errors import Conflict
from arrears.domain.ledger import InvoiceStatus, SourceKind
from arrears.domain.money import Money, MoneyError
from arrears.domain.problems import ProblemsFound
from arrears.store.portfolios import UnknownPortfolio, portfolio_id
from arrears.store.schema import activity, allocation, debtor, instalment, invoice


class ConcurrentChange(Conflict, RuntimeError):
    """An instalment changed under us between reading and writing; retry the use case."""


#: SQLSTATEs of a concurrent writer (PostgreSQL): a duplicate key another transaction's commit
#: created while this one waited, a deadlock, a serialization failure.
_CONFLICTS = {"23505": "the same record", "40P01": "a deadlock", "40001": "a serialization"}


@contextmanager
def conflicts(what: str, again: str) -> Iterator[None]:
    """Raise the database's word for a concurrent writer as ``ConcurrentChange``: ``what`` was
    stopped (its transaction is rolled back by the caller) and ``again`` says how to retry;
    other errors pass."""
    try:
        yield
    except DBAPIError as exc:
        state = getattr(exc.orig, "sqlstate", None)
        if state not in _CONFLICTS:
            raise
        raise ConcurrentChange(
            f"{what} stopped: another import, or a person, wrote to the same records at the "
            f"same time ({_CONFLICTS[state]}, SQLSTATE {state}); nothing of it was kept: {again}"
        ) from exc


@dataclass(frozen=True, slots=True)
class Posting:
    """What a use case did: the document, the allocations made and what is left unallocated."""

    document: str
    applied: tuple[Applied, ...]
    unallocated: Money
    changed: bool


@dataclass(frozen=True, slots=True)
class OpenLine:
    """An open instalment with its store ids."""

    instalment_id: int
    invoice_id: int
    open: OpenInstalment


def fail(source: str, *messages: str) -> ProblemsFound:
    return ProblemsFound.of(source, *messages)


def minor(amount: Money, source: str) -> int:
    """``amount`` in minor units, reported as a problem when it has too many decimals."""
    try:
        return amount.minor
    except MoneyError as exc:
        raise fail(source, str(exc)) from exc


def portfolio_of(conn: Connection, code: str, source: str) -> int:
    try:
        return portfolio_id(conn, code)
    except UnknownPortfolio as exc:
        raise fail(source, str(exc)) from exc


def already_recorded(conn: Connection, key: str) -> bool:
    """Whether an activity with this idempotency key exists (the change was made before)."""
    found = conn.execute(select(activity.c.id).where(activity.c.idempotency_key == key)).first()
    return found is not None


def repeated_posting(
    conn: Connection,
    existing: RowMapping,
    values: dict[str, Any],
    *,
    source: str,
    source_kind: SourceKind,
    currency: str,
) -> Posting:
    """A document posted again: the same details change nothing (its posting is returned);
    other details under the same id are a problem."""
    if any(existing[k] != v for k, v in values.items()):
        raise fail(source, "already exists with other details")
    return Posting(
        str(existing["external_id"]),
        allocations_of(conn, source_kind, int(existing["id"])),
        Money.from_minor(int(existing["unallocated_minor"]), currency),
        changed=False,
    )


def find_debtor(conn: Connection, pid: int, external_id: str, source: str) -> RowMapping:
    """The debtor's row, locked for the rest of the transaction (PostgreSQL) so that two
    use cases on one debtor's ledger run one after the other."""
    row = (
        conn.execute(
            select(debtor)
            .where(debtor.c.portfolio_id == pid, debtor.c.external_id == external_id)
            .with_for_update()
        )
        .mappings()
        .first()
    )
    if row is None:
        raise fail(source, f"unknown debtor {external_id!r}")
    return row


def find_invoice(conn: Connection, pid: int, external_id: str, source: str) -> RowMapping:
    row = (
        conn.execute(
            select(invoice).where(
                invoice.c.portfolio_id == pid, invoice.c.external_id == external_id
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise fail(source, f"unknown invoice {external_id!r}")
    return row


def open_lines(
    conn: Connection, debtor_id: int, currency: str, invoice_id: int | None = None
) -> list[OpenLine]:
    """The debtor's open instalments in ``currency`` (of one invoice when given)."""
    query = (
        select(
            instalment.c.id,
            instalment.c.invoice_id,
            instalment.c.seq,
            instalment.c.due_date,
            instalment.c.open_minor,
            invoice.c.external_id,
            invoice.c.issue_date,
        )
        .select_from(instalment.join(invoice, invoice.c.id == instalment.c.invoice_id))
        .where(
            instalment.c.debtor_id == debtor_id,
            instalment.c.currency == currency,
            instalment.c.open_minor > 0,
        )
        .order_by(instalment.c.id)
    )
    if invoice_id is not None:
        query = query.where(instalment.c.invoice_id == invoice_id)
    return [
        OpenLine(
            r.id,
            r.invoice_id,
            OpenInstalment(r.external_id, r.seq, r.due_date, r.issue_date, r.open_minor),
        )
        for r in conn.execute(query)
    ]


def insert_with_allocations(
    conn: Connection,
    document: Table,
    row: dict[str, Any],
    lines: Sequence[OpenLine],
    applied: Iterable[Applied],
    *,
    source_kind: SourceKind,
    debtor_id: int,
    currency: str,
    on: date,
    at: datetime,
) -> int:
    """Insert a document (payment, credit note, write-off) and the allocations it makes."""
    inserted = conn.execute(insert(document).values(**row)).inserted_primary_key
    assert inserted is not None
    source_id = int(inserted[0])
    write_allocations(
        conn,
        lines,
        applied,
        source_kind=source_kind,
        source_id=source_id,
        debtor_id=debtor_id,
        currency=currency,
        on=on,
        at=at,
    )
    return source_id


def write_allocations(
    conn: Connection,
    lines: Sequence[OpenLine],
    applied: Iterable[Applied],
    *,
    source_kind: SourceKind,
    source_id: int,
    debtor_id: int,
    currency: str,
    on: date,
    at: datetime,
) -> None:
    """Insert allocation rows, lower the instalments' open balances, refresh invoice status."""
    by_key = {(line.open.invoice, line.open.seq): line for line in lines}
    touched: set[int] = set()
    for item in applied:
        line = by_key[(item.invoice, item.seq)]
        lowered = conn.execute(
            update(instalment)
            .where(instalment.c.id == line.instalment_id)
            .where(instalment.c.open_minor >= item.amount_minor)
            .values(open_minor=instalment.c.open_minor - item.amount_minor)
        )
        if lowered.rowcount != 1:
            raise ConcurrentChange(f"instalment {item.invoice}/{item.seq} changed meanwhile")
        conn.execute(
            insert(allocation).values(
                source_kind=source_kind.value,
                source_id=source_id,
                instalment_id=line.instalment_id,
                debtor_id=debtor_id,
                currency=currency,
                amount_minor=item.amount_minor,
                allocated_on=on,
                reversed=False,
            )
        )
        touched.add(line.invoice_id)
    refresh_status(conn, touched, at=at)


def allocations_of(conn: Connection, kind: SourceKind, source_id: int) -> tuple[Applied, ...]:
    """The active allocations of one payment, credit note or write-off."""
    rows = conn.execute(
        select(invoice.c.external_id, instalment.c.seq, allocation.c.amount_minor)
        .select_from(
            allocation.join(instalment, instalment.c.id == allocation.c.instalment_id).join(
                invoice, invoice.c.id == instalment.c.invoice_id
            )
        )
        .where(
            allocation.c.source_kind == kind.value,
            allocation.c.source_id == source_id,
            allocation.c.reversed.is_(False),
        )
        .order_by(allocation.c.id)
    )
    return tuple(Applied(r.external_id, r.seq, r.amount_minor) for r in rows)


def reverse_allocations(
    conn: Connection, kind: SourceKind, source_id: int, *, on: date, at: datetime
) -> tuple[Applied, ...]:
    """Mark a source's active allocations reversed on ``on`` and give the money back to the
    instalments; returns what was restored."""
    restored = allocations_of(conn, kind, source_id)
    active = (
        allocation.c.source_kind == kind.value,
        allocation.c.source_id == source_id,
        allocation.c.reversed.is_(False),
    )
    rows = conn.execute(
        select(allocation.c.instalment_id, allocation.c.amount_minor, instalment.c.invoice_id)
        .select_from(allocation.join(instalment, instalment.c.id == allocation.c.instalment_id))
        .where(*active)
    ).all()
    for instalment_id, amount_minor, _ in rows:
        conn.execute(
            update(instalment)
            .where(instalment.c.id == instalment_id)
            .values(open_minor=instalment.c.open_minor + amount_minor)
        )
    conn.execute(update(allocation).where(*active).values(reversed=True, reversed_on=on))
    refresh_status(conn, (invoice_id for _, _, invoice_id in rows), at=at)
    return restored


def status_of(conn: Connection, invoice_id: int) -> InvoiceStatus:
    """The status an invoice's balances call for."""
    open_total = conn.execute(
        select(func.coalesce(func.sum(instalment.c.open_minor), 0)).where(
            instalment.c.invoice_id == invoice_id
        )
    ).scalar_one()
    if open_total > 0:
        return InvoiceStatus.OPEN
    written_off = conn.execute(
        select(allocation.c.id)
        .select_from(allocation.join(instalment, instalment.c.id == allocation.c.instalment_id))
        .where(
            instalment.c.invoice_id == invoice_id,
            allocation.c.source_kind == SourceKind.WRITE_OFF.value,
            allocation.c.reversed.is_(False),
        )
        .limit(1)
    ).first()
    return InvoiceStatus.WRITTEN_OFF if written_off else InvoiceStatus.PAID


def refresh_status(conn: Connection, invoice_ids: Iterable[int], *, at: datetime) -> None:
    """Write the status each invoice's balances call for (see the module docstring)."""
    for invoice_id in sorted(set(invoice_ids)):
        status = status_of(conn, invoice_id).value
        conn.execute(
            update(invoice)
            .where(invoice.c.id == invoice_id, invoice.c.status != status)
            .values(status=status, updated_at=at)
        )


def applied_payload(applied: Iterable[Applied], currency: str) -> list[dict[str, str | int]]:
    """Allocations as activity payload: amounts as decimal text, never floats."""
    return [
        {
            "invoice": a.invoice,
            "instalment": a.seq,
            "amount": str(Money.from_minor(a.amount_minor, currency).amount),
        }
        for a in applied
    ]
