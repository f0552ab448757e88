"""Checking the ledger's books: set-based SQL, one query per invariant, whatever the size.

``reconcile(conn)`` returns a :class:`Problem` for every row that breaks one of:

- an instalment's open balance is its amount minus its active (non-reversed) allocations;
- a payment's or credit note's unallocated amount is its amount minus its active allocations;
- a write-off is fully allocated, and write-off allocations are never reversed;
- a reversed payment has no active allocation;
- an allocation has its instalment's debtor and currency;
- an invoice's amount is the sum of its instalments, which carry its debtor, currency, issue date
  and dispute flag;
- an invoice's status is the one its balances call for (see ``arrears.store.ledger.balances``);
- the invoices, the payments and the credit notes of a portfolio total at most
  ``totals.MAX_TOTAL_MINOR`` per currency (beyond it, sums wrap 64-bit integers).

An empty list means the books reconcile. Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Select, Table, and_, case, exists, func, or_, select, text

from arrears.domain.ledger import SourceKind
from arrears.domain.money import MoneyError, from_minor
from arrears.domain.problems import Problem
from arrears.store import totals
from arrears.store.schema import allocation, instalment, invoice, payment, portfolio
from arrears.store.schema import credit_note as credit_note_table
from arrears.store.schema import write_off as write_off_table

ACTIVE = allocation.c.reversed.is_(False)


def _active_sum(kind: SourceKind, key: str) -> Select[tuple[int, int]]:
    column = allocation.c.instalment_id if key == "instalment" else allocation.c.source_id
    where = [ACTIVE] if key == "instalment" else [ACTIVE, allocation.c.source_kind == kind.value]
    return (
        select(column.label("key"), func.sum(allocation.c.amount_minor).label("allocated"))
        .where(*where)
        .group_by(column)
    )


def _instalment_balances(conn: Connection) -> list[Problem]:
    sums = _active_sum(SourceKind.PAYMENT, "instalment").subquery()
    expected = instalment.c.amount_minor - func.coalesce(sums.c.allocated, 0)
    rows = conn.execute(
        select(portfolio.c.code, invoice.c.external_id, instalment.c.seq, instalment.c.open_minor)
        .add_columns(expected.label("expected"))
        .select_from(
            instalment.join(invoice, invoice.c.id == instalment.c.invoice_id)
            .join(portfolio, portfolio.c.id == invoice.c.portfolio_id)
            .outerjoin(sums, sums.c.key == instalment.c.id)
        )
        .where(instalment.c.open_minor != expected)
    )
    return [
        _problem(
            r.code,
            f"invoice {r.external_id}",
            f"instalment {r.seq} open balance "
            f"{r.open_minor} (minor units) but amount minus active allocations is {r.expected}",
        )
        for r in rows
    ]


def _unallocated(conn: Connection, table: Table, kind: SourceKind, label: str) -> list[Problem]:
    sums = _active_sum(kind, "source").subquery()
    expected = table.c.amount_minor - func.coalesce(sums.c.allocated, 0)
    rows = conn.execute(
        select(portfolio.c.code, table.c.external_id, table.c.unallocated_minor)
        .add_columns(expected.label("expected"))
        .select_from(
            table.join(portfolio, portfolio.c.id == table.c.portfolio_id).outerjoin(
                sums, sums.c.key == table.c.id
            )
        )
        .where(table.c.unallocated_minor != expected)
    )
    return [
        _problem(
            r.code,
            f"{label} {r.external_id}",
            f"unallocated {r.unallocated_minor} "
            f"(minor units) but amount minus active allocations is {r.expected}",
        )
        for r in rows
    ]


def _write_offs(conn: Connection) -> list[Problem]:
    mine = and_(
        allocation.c.source_kind == SourceKind.WRITE_OFF.value,
        allocation.c.source_id == write_off_table.c.id,
    )
    allocated = select(func.coalesce(func.sum(allocation.c.amount_minor), 0)).where(mine, ACTIVE)
    reversed_any = exists().where(mine, ~ACTIVE)
    rows = conn.execute(
        select(portfolio.c.code, invoice.c.external_id, write_off_table.c.effective_on)
        .select_from(
            write_off_table.join(invoice, invoice.c.id == write_off_table.c.invoice_id).join(
                portfolio, portfolio.c.id == invoice.c.portfolio_id
            )
        )
        .where(or_(allocated.scalar_subquery() != write_off_table.c.amount_minor, reversed_any))
    )
    return [
        _problem(
            r.code,
            f"invoice {r.external_id}",
            f"the write-off of {r.effective_on} is not exactly and permanently allocated",
        )
        for r in rows
    ]


def _reversed_payments(conn: Connection) -> list[Problem]:
    active = exists().where(
        allocation.c.source_kind == SourceKind.PAYMENT.value,
        allocation.c.source_id == payment.c.id,
        ACTIVE,
    )
    rows = conn.execute(
        select(portfolio.c.code, payment.c.external_id)
        .select_from(payment.join(portfolio, portfolio.c.id == payment.c.portfolio_id))
        .where(payment.c.status == "reversed", active)
    )
    return [
        _problem(r.code, f"payment {r.external_id}", "reversed but still has active allocations")
        for r in rows
    ]


def _allocation_owner(conn: Connection) -> list[Problem]:
    rows = conn.execute(
        select(allocation.c.id, allocation.c.source_kind, allocation.c.source_id)
        .select_from(allocation.join(instalment, instalment.c.id == allocation.c.instalment_id))
        .where(
            or_(
                allocation.c.debtor_id != instalment.c.debtor_id,
                allocation.c.currency != instalment.c.currency,
            )
        )
    )
    return [
        Problem(
            f"allocation {r.id}",
            None,
            None,
            f"{r.source_kind} {r.source_id} allocated across debtors or currencies",
        )
        for r in rows
    ]


def _invoices(conn: Connection) -> list[Problem]:
    totals = (
        select(
            instalment.c.invoice_id.label("key"),
            func.sum(instalment.c.amount_minor).label("amount"),
            func.sum(instalment.c.open_minor).label("open"),
            func.sum(
                case(
                    (
                        or_(
                            instalment.c.debtor_id != invoice.c.debtor_id,
                            instalment.c.currency != invoice.c.currency,
                            instalment.c.portfolio_id != invoice.c.portfolio_id,
                        ),
                        1,
                    ),
                    else_=0,
                )
            ).label("strays"),
            func.sum(
                case(
                    (
                        or_(
                            instalment.c.issue_date != invoice.c.issue_date,
                            instalment.c.disputed != invoice.c.disputed,
                            # null-safe: both undated is the same
                            instalment.c.disputed_on.is_distinct_from(invoice.c.disputed_on),
                        ),
                        1,
                    ),
                    else_=0,
                )
            ).label("stale"),
        )
        .select_from(instalment.join(invoice, invoice.c.id == instalment.c.invoice_id))
        .group_by(instalment.c.invoice_id)
        .subquery()
    )
    written_off = exists().where(
        allocation.c.instalment_id == instalment.c.id,
        instalment.c.invoice_id == invoice.c.id,
        allocation.c.source_kind == SourceKind.WRITE_OFF.value,
        ACTIVE,
    )
    expected = case(
        (func.coalesce(totals.c.open, 0) > 0, "open"),
        (written_off, "written_off"),
        else_="paid",
    )
    rows = conn.execute(
        select(portfolio.c.code, invoice.c.external_id, invoice.c.status, invoice.c.amount_minor)
        .add_columns(expected.label("expected"), totals.c.amount, totals.c.strays, totals.c.stale)
        .select_from(
            invoice.join(portfolio, portfolio.c.id == invoice.c.portfolio_id).outerjoin(
                totals, totals.c.key == invoice.c.id
            )
        )
        .where(
            or_(
                invoice.c.status != expected,
                totals.c.amount.is_(None),
                totals.c.amount != invoice.c.amount_minor,
                totals.c.strays > 0,
                totals.c.stale > 0,
            )
        )
    )
    problems = []
    for r in rows:
        source = f"invoice {r.external_id}"
        if r.status != r.expected:
            problems.append(
                _problem(r.code, source, f"status {r.status}, balances say {r.expected}")
            )
        if r.amount != r.amount_minor:
            problems.append(_problem(r.code, source, "amount is not the sum of its instalments"))
        if r.strays:
            problems.append(_problem(r.code, source, "instalments of another debtor or currency"))
        if r.stale:
            problems.append(
                _problem(
                    r.code,
                    source,
                    "instalments disagree on its issue date or its dispute (flag or date)",
                )
            )
    return problems


def _totals(conn: Connection) -> list[Problem]:
    """A portfolio's total of invoices, payments or credit notes above the bound (a store
    filled before the bound existed, or by hand): aging and scores would wrap."""
    codes = {int(r.id): str(r.code) for r in conn.execute(select(portfolio.c.id, portfolio.c.code))}
    problems = []
    for table, what in (
        ("invoice", "invoices"),
        ("payment", "payments"),
        ("credit_note", "credit notes"),
    ):
        for pid, currency, high, low in conn.execute(text(totals.totals_sql(table))):
            total = int(high) * 10**9 + int(low)
            if total > totals.MAX_TOTAL_MINOR:
                problems.append(
                    _problem(
                        codes.get(pid, str(pid)),
                        f"{what} in {currency}",
                        f"total {_amount(total, currency)}, above "
                        f"{_amount(totals.MAX_TOTAL_MINOR, currency)}, the most arrears keeps "
                        "per portfolio and currency: sums this large wrap 64-bit integers "
                        "(aging, scores); correct the amounts or split the portfolio",
                    )
                )
    return problems


def _amount(minor: int, currency: str) -> str:
    try:
        return f"{from_minor(minor, currency):,} {currency}"
    except MoneyError:
        return f"{minor:,} minor units of {currency}"


def _problem(portfolio_code: str, source: str, message: str) -> Problem:
    where = source if portfolio_code == "default" else f"{portfolio_code}: {source}"
    return Problem(where, None, None, message)


CHECKS: tuple[Callable[[Connection], list[Problem]], ...] = (
    _instalment_balances,
    lambda conn: _unallocated(conn, payment, SourceKind.PAYMENT, "payment"),
    lambda conn: _unallocated(conn, credit_note_table, SourceKind.CREDIT_NOTE, "credit note"),
    _write_offs,
    _reversed_payments,
    _allocation_owner,
    _invoices,
    _totals,
)


def reconcile(conn: Connection) -> list[Problem]:
    """Every way the stored balances disagree with the allocations, sorted; empty when none."""
    return sorted(problem for check in CHECKS for problem in check(conn))
