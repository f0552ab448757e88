"""Read models of the REST API's portfolio-wide lists (docs/web.md, "The REST API"): invoices,
payments and collection cases, a page at a time, newest first, filtered.

Each list pages by a cursor: the store id of the last row of a page, passed back as ``before``
for the next (older) page; a page is stable while new rows arrive. Amounts are ``Decimal`` in
the row's currency. The account page's per-debtor reads are
:mod:`arrears.services.casework.accounts`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select

from arrears.domain.actor import Actor, Permission
from arrears.domain.errors import NotFound
from arrears.domain.money import from_minor
from arrears.domain.problems import printable
from arrears.services.casework.accounts import debtor_row_id
from arrears.services.uow import SqlUnitOfWork
from arrears.store.portfolios import portfolio_id
from arrears.store.schema import collection_case, instalment, invoice, payment
from arrears.store.schema import debtor as debtor_table

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    #: pass it as ``before`` for the next (older) page; ``None`` on the last page
    next_cursor: int | None


@dataclass(frozen=True, slots=True)
class InvoiceRow:
    id: str  # the invoice's external id
    number: str
    debtor: str
    issue_date: date
    currency: str
    amount: Decimal
    open: Decimal
    status: str  # open, paid, written_off
    disputed: bool
    oldest_due: date | None  # the due date of its oldest open instalment
    cursor: int


@dataclass(frozen=True, slots=True)
class PaymentRow:
    id: str
    debtor: str
    received_on: date
    currency: str
    amount: Decimal
    unallocated: Decimal
    method: str | None
    reference: str | None
    status: str  # posted, reversed
    reversed_on: date | None
    cursor: int


@dataclass(frozen=True, slots=True)
class CaseRow:
    debtor: str
    currency: str
    opened_on: date
    closed_on: date | None
    close_reason: str | None
    stage: str
    stage_entered_on: date
    segment: str
    arm: str | None
    agency: str | None
    awaiting_approval: str | None
    paused_by: str | None
    paused_until: date | None
    cursor: int


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _maybe_day(value: Any) -> date | None:
    return None if value is None else _day(value)


def _scoped(
    uow: SqlUnitOfWork, query: Select[Any], table: Any, portfolio: str, debtor: str | None
) -> Select[Any]:
    """``query`` limited to the portfolio (and the debtor; :class:`NotFound` if unknown)."""
    query = query.where(table.c.portfolio_id == portfolio_id(uow.conn, portfolio))
    if debtor is not None:
        found = debtor_row_id(uow.conn, portfolio, debtor)
        if found is None:
            raise NotFound(printable(f"unknown debtor {debtor!r}"))
        query = query.where(table.c.debtor_id == found)
    return query


def _with_debtor(uow: SqlUnitOfWork, table: Any, portfolio: str, debtor: str | None) -> Select[Any]:
    """``table``'s rows with their debtor's external id (``debtor``), :func:`_scoped`."""
    query = select(table, debtor_table.c.external_id.label("debtor")).join(
        debtor_table, debtor_table.c.id == table.c.debtor_id
    )
    return _scoped(uow, query, table, portfolio, debtor)


def _equal(query: Select[Any], table: Any, **values: Any) -> Select[Any]:
    """``query`` where each of ``table``'s columns named in ``values`` equals its value (those
    given: ``None`` filters nothing)."""
    for name, value in values.items():
        if value is not None:
            query = query.where(table.c[name] == value)
    return query


def _page(query: Select[Any], table: Any, before: int | None, limit: int) -> Select[Any]:
    if before is not None:
        query = query.where(table.c.id < before)
    return query.order_by(table.c.id.desc()).limit(limit + 1)


def _cut(items: list[T], cursors: list[int], limit: int) -> Page[T]:
    if len(items) > limit:
        return Page(items[:limit], cursors[limit - 1])
    return Page(items, None)


def invoices(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    debtor: str | None = None,
    status: str | None = None,
    currency: str | None = None,
    disputed: bool | None = None,
    before: int | None = None,
    limit: int = 50,
) -> Page[InvoiceRow]:
    """The portfolio's invoices (``debtor``'s only), newest first, with what is open of each."""
    actor.require(Permission.READ, "read the invoices")
    open_of = (
        select(
            instalment.c.invoice_id,
            func.sum(instalment.c.open_minor).label("open_minor"),
            func.min(instalment.c.due_date).filter(instalment.c.open_minor > 0).label("oldest"),
        )
        .group_by(instalment.c.invoice_id)
        .subquery()
    )
    with uow:
        query = _scoped(
            uow,
            select(
                invoice, debtor_table.c.external_id.label("debtor"), open_of.c.open_minor,
                open_of.c.oldest,
            )
            .join(debtor_table, debtor_table.c.id == invoice.c.debtor_id)
            .outerjoin(open_of, open_of.c.invoice_id == invoice.c.id),
            invoice, portfolio, debtor,
        )  # fmt: skip
        query = _equal(query, invoice, status=status, currency=currency, disputed=disputed)
        rows = uow.conn.execute(_page(query, invoice, before, limit)).all()
    items = [
        InvoiceRow(
            str(r.external_id),
            str(r.number),
            str(r.debtor),
            _day(r.issue_date),
            str(r.currency),
            from_minor(int(r.amount_minor), str(r.currency)),
            from_minor(int(r.open_minor or 0), str(r.currency)),
            str(r.status),
            bool(r.disputed),
            _maybe_day(r.oldest),
            int(r.id),
        )
        for r in rows
    ]
    return _cut(items, [i.cursor for i in items], limit)


def payments(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    debtor: str | None = None,
    status: str | None = None,
    currency: str | None = None,
    received_from: date | None = None,
    received_to: date | None = None,
    before: int | None = None,
    limit: int = 50,
) -> Page[PaymentRow]:
    """The portfolio's payments (``debtor``'s only), newest first; ``received_from`` and
    ``received_to`` both included."""
    actor.require(Permission.READ, "read the payments")
    with uow:
        query = _with_debtor(uow, payment, portfolio, debtor)
        query = _equal(query, payment, status=status, currency=currency)
        if received_from is not None:
            query = query.where(payment.c.received_on >= received_from)
        if received_to is not None:
            query = query.where(payment.c.received_on <= received_to)
        rows = uow.conn.execute(_page(query, payment, before, limit)).all()
    items = [
        PaymentRow(
            str(r.external_id),
            str(r.debtor),
            _day(r.received_on),
            str(r.currency),
            from_minor(int(r.amount_minor), str(r.currency)),
            from_minor(int(r.unallocated_minor), str(r.currency)),
            r.method,
            r.reference,
            str(r.status),
            _maybe_day(r.reversed_on),
            int(r.id),
        )
        for r in rows
    ]
    return _cut(items, [i.cursor for i in items], limit)


def cases(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    debtor: str | None = None,
    stage: str | None = None,
    currency: str | None = None,
    is_open: bool | None = None,
    before: int | None = None,
    limit: int = 50,
) -> Page[CaseRow]:
    """The portfolio's collection cases (``debtor``'s only), newest first."""
    actor.require(Permission.READ, "read the cases")
    c = collection_case.c
    with uow:
        query = _with_debtor(uow, collection_case, portfolio, debtor)
        query = _equal(query, collection_case, stage=stage, currency=currency)
        if is_open is not None:
            query = query.where(c.closed_on.is_(None) if is_open else c.closed_on.is_not(None))
        rows = uow.conn.execute(_page(query, collection_case, before, limit)).all()
    items = [
        CaseRow(
            str(r.debtor),
            str(r.currency),
            _day(r.opened_on),
            _maybe_day(r.closed_on),
            r.close_reason,
            str(r.stage),
            _day(r.stage_entered_on),
            str(r.segment),
            r.arm,
            r.agency,
            r.awaiting_approval,
            r.paused_by,
            _maybe_day(r.paused_until),
            int(r.id),
        )
        for r in rows
    ]
    return _cut(items, [i.cursor for i in items], limit)
