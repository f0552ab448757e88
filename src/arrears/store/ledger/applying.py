"""Deciding how a payment or credit note is applied to a debtor's open instalments.

``plan`` checks the explicit allocations (known invoice, the debtor's, same currency, within each
instalment's open balance and together within the amount), reporting every problem at once in
money rather than minor units; then it runs the reference rule
(``arrears.domain.allocation.allocate``) on what is left, limited to one invoice when asked.
Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import Connection, RowMapping, select

from arrears.domain.allocation import AllocationResult, AllocationRule, Applied, allocate
from arrears.domain.ledger import Allocation
from arrears.domain.money import Money, is_currency
from arrears.store.ledger.balances import OpenLine, fail, find_invoice, minor, open_lines
from arrears.store.schema import invoice


def check_amount(amount: Money, source: str) -> int:
    """The positive amount in minor units of a known currency, or a problem."""
    if not is_currency(amount.currency):
        raise fail(source, f"unknown currency {amount.currency!r}")
    if not amount.is_positive():
        raise fail(source, f"amount must be positive, not {amount.amount}")
    return minor(amount, source)


def target_invoice(
    conn: Connection, pid: int, external_id: str, owner: RowMapping, currency: str, source: str
) -> int:
    """The id of the invoice a document is for, checked to be the debtor's, in its currency."""
    row = find_invoice(conn, pid, external_id, source)
    if row["debtor_id"] != owner["id"]:
        raise fail(source, f"invoice {external_id} belongs to another debtor")
    if row["currency"] != currency:
        raise fail(
            source, f"invoice {external_id} is in {row['currency']}, not {currency}: no conversion"
        )
    return int(row["id"])


def plan(
    conn: Connection,
    *,
    source: str,
    owner: RowMapping,
    amount: Money,
    explicit: Sequence[Allocation],
    rule: AllocationRule,
    invoice_id: int | None,
) -> tuple[list[OpenLine], AllocationResult]:
    """Decide the allocations: explicit ones (checked), then the rule; all problems at once."""
    lines = open_lines(conn, int(owner["id"]), amount.currency)
    problems = _explicit_problems(conn, owner, amount.currency, explicit, lines)
    wanted = [
        Applied(a.instalment.invoice, a.instalment.seq, minor(a.amount, source))
        for a in explicit
        if a.amount.currency == amount.currency
    ]
    problems += _fit_problems(amount, wanted, lines)
    if problems:
        raise fail(source, *problems)
    first = allocate(
        amount.minor, [line.open for line in lines], explicit=wanted, rule=AllocationRule.NONE
    )
    if first.problems:
        raise fail(source, *first.problems)
    taken: dict[tuple[str, int], int] = {}
    for item in first.applied:
        taken[(item.invoice, item.seq)] = taken.get((item.invoice, item.seq), 0) + item.amount_minor
    candidates = [
        replace(
            line.open,
            open_minor=line.open.open_minor - taken.get((line.open.invoice, line.open.seq), 0),
        )
        for line in lines
        if invoice_id is None or line.invoice_id == invoice_id
    ]
    rest = (
        allocate(first.unallocated_minor, candidates, rule=rule)
        if first.unallocated_minor
        else AllocationResult((), 0)
    )
    return lines, AllocationResult(first.applied + rest.applied, rest.unallocated_minor)


def _explicit_problems(
    conn: Connection,
    owner: RowMapping,
    currency: str,
    explicit: Sequence[Allocation],
    lines: Sequence[OpenLine],
) -> list[str]:
    """Explicit allocations to an unknown invoice, another debtor's or another currency's."""
    problems = []
    open_invoices = {line.open.invoice for line in lines}
    for item in explicit:
        ref = f"{item.instalment.invoice}/{item.instalment.seq}"
        if item.amount.currency != currency:
            problems.append(f"allocation to {ref} is in {item.amount.currency}, not {currency}")
            continue
        if item.instalment.invoice in open_invoices:
            continue
        row = conn.execute(
            select(invoice.c.debtor_id, invoice.c.currency).where(
                invoice.c.portfolio_id == owner["portfolio_id"],
                invoice.c.external_id == item.instalment.invoice,
            )
        ).first()
        if row is None:
            problems.append(f"unknown invoice {item.instalment.invoice!r}")
        elif row.debtor_id != owner["id"]:
            problems.append(f"invoice {item.instalment.invoice} belongs to another debtor")
        elif row.currency != currency:
            problems.append(
                f"invoice {item.instalment.invoice} is in {row.currency}, not {currency}: "
                "no conversion"
            )
        else:
            problems.append(f"invoice {item.instalment.invoice} has nothing open")
    return problems


def _fit_problems(amount: Money, wanted: Sequence[Applied], lines: Sequence[OpenLine]) -> list[str]:
    """Explicit allocations above an instalment's open balance or, together, above the amount."""
    currency = amount.currency
    open_by_key = {(line.open.invoice, line.open.seq): line.open.open_minor for line in lines}
    asked: dict[tuple[str, int], int] = {}
    for item in wanted:
        asked[(item.invoice, item.seq)] = asked.get((item.invoice, item.seq), 0) + item.amount_minor
    problems = []
    open_invoices = {external_id for external_id, _ in open_by_key}
    for (external_id, seq), total in asked.items():
        if external_id not in open_invoices:
            continue  # reported by _explicit_problems
        if total <= 0:
            problems.append(f"allocation to {external_id}/{seq} must be positive")
        elif (external_id, seq) not in open_by_key:
            problems.append(f"invoice {external_id} instalment {seq} is not open")
        elif total > open_by_key[(external_id, seq)]:
            problems.append(
                f"allocation of {Money.from_minor(total, currency)} to {external_id}/{seq} exceeds "
                f"its open balance {Money.from_minor(open_by_key[(external_id, seq)], currency)}"
            )
    if sum(asked.values()) > amount.minor:
        problems.append(
            f"allocations of {Money.from_minor(sum(asked.values()), currency)} exceed the amount "
            f"{amount}"
        )
    return problems
