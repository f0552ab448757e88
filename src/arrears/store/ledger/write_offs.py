"""The write-off use case: giving up on (part of) an invoice's open balance.

A write-off is its own document (a ``write_off`` row with its reason and actor) applied to the
invoice's open instalments, oldest due first, as allocations of kind ``write_off``. An invoice
that a write-off closes gets status ``written_off``. Write-offs have no external id, so their
idempotency key is made of the request itself: invoice, date, amount (or "all") and reason.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime

from sqlalchemy import Connection, RowMapping, func, select, update

from arrears.domain.activity import WriteOffPosted
from arrears.domain.allocation import AllocationRule, allocate
from arrears.domain.ledger import SourceKind
from arrears.domain.money import Money
from arrears.domain.write_offs import WriteOffRecovered
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
from arrears.store.schema import activity, collection_case, debtor, invoice, portfolio, task
from arrears.store.schema import write_off as write_off_table
from arrears.store.schema import write_off_proposal as proposal_table


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


# Proposals (migration 0013): a write-off waiting for approval, then posted or refused --------


def open_minor_of(conn: Connection, debtor_id: int, currency: str, invoice_id: int | None) -> int:
    """What the debtor owes in ``currency`` (of one invoice when given), due or not."""
    return sum(line.open.open_minor for line in open_lines(conn, debtor_id, currency, invoice_id))


def find_proposal(conn: Connection, proposal_id: int) -> RowMapping | None:
    """The proposal with its debtor's and invoice's external ids and its portfolio's code."""
    query = (
        select(
            proposal_table,
            debtor.c.external_id.label("debtor"),
            invoice.c.external_id.label("invoice"),
            portfolio.c.code.label("portfolio"),
        )
        .select_from(
            proposal_table.join(debtor, debtor.c.id == proposal_table.c.debtor_id)
            .join(portfolio, portfolio.c.id == proposal_table.c.portfolio_id)
            .outerjoin(invoice, invoice.c.id == proposal_table.c.invoice_id)
        )
        .where(proposal_table.c.id == proposal_id)
    )
    return conn.execute(query).mappings().first()


def proposal_by_key(conn: Connection, key: str) -> int | None:
    found = conn.execute(select(proposal_table.c.id).where(proposal_table.c.key == key)).first()
    return None if found is None else int(found[0])


def insert_proposal(conn: Connection, values: dict[str, object]) -> int:
    key = conn.execute(proposal_table.insert().values(**values)).inserted_primary_key
    assert key is not None
    return int(key[0])


def decide(conn: Connection, proposal_id: int, values: dict[str, object]) -> None:
    """Record a decision on a pending proposal (guarded: a concurrent decision wins once)."""
    done = conn.execute(
        update(proposal_table)
        .where(proposal_table.c.id == proposal_id, proposal_table.c.status == "pending")
        .values(**values)
    )
    if done.rowcount != 1:
        raise fail(f"write-off proposal {proposal_id}", "it was decided meanwhile; look again")


def proposals(
    conn: Connection, portfolio_code: str, *, status: str | None = None
) -> list[RowMapping]:
    """The portfolio's proposals, newest first (of one status when given)."""
    query = (
        select(
            proposal_table,
            debtor.c.external_id.label("debtor"),
            invoice.c.external_id.label("invoice"),
        )
        .select_from(
            proposal_table.join(debtor, debtor.c.id == proposal_table.c.debtor_id)
            .join(portfolio, portfolio.c.id == proposal_table.c.portfolio_id)
            .outerjoin(invoice, invoice.c.id == proposal_table.c.invoice_id)
        )
        .where(portfolio.c.code == portfolio_code)
        .order_by(proposal_table.c.id.desc())
    )
    if status is not None:
        query = query.where(proposal_table.c.status == status)
    return list(conn.execute(query).mappings())


def post_proposal(
    conn: Connection, proposal: RowMapping, *, on: date, actor: str, at: datetime
) -> int:
    """Post what a proposal gives up, through :func:`write_off`: its invoice, or the debtor's
    open invoices oldest due first, up to its amount and what is still open (a payment may have
    come in meanwhile). Returns the minor units written off."""
    currency = str(proposal["currency"])
    left = min(
        int(proposal["amount_minor"]),
        open_minor_of(conn, int(proposal["debtor_id"]), currency, proposal["invoice_id"]),
    )
    reason = f"{proposal['reason']} (write-off proposal {proposal['id']})"
    invoices: dict[str, int] = {}
    lines = open_lines(conn, int(proposal["debtor_id"]), currency, proposal["invoice_id"])
    for line in sorted(lines, key=lambda x: (x.open.due_date, x.open.issue_date, x.instalment_id)):
        invoices[line.open.invoice] = invoices.get(line.open.invoice, 0) + line.open.open_minor
    posted = 0
    for number, open_minor in invoices.items():
        take = min(open_minor, left - posted)
        if take <= 0:
            break
        write_off(
            conn,
            number,
            portfolio=str(proposal["portfolio"]),
            amount=None if take == open_minor else Money.from_minor(take, currency),
            on=on,
            reason=reason,
            actor=actor,
            at=at,
        )
        posted += take
    return posted


def written_off_minor(conn: Connection, debtor_id: int, currency: str) -> int:
    """Everything ever written off of the debtor in ``currency``."""
    total = conn.execute(
        select(func.coalesce(func.sum(write_off_table.c.amount_minor), 0)).where(
            write_off_table.c.debtor_id == debtor_id, write_off_table.c.currency == currency
        )
    ).scalar_one()
    return int(total)


def recovered_minor(conn: Connection, debtor_id: int, currency: str) -> int:
    """What was recovered after write-offs of the debtor in ``currency`` (the log's records)."""
    rows = conn.execute(
        select(activity.c.payload).where(
            activity.c.debtor_id == debtor_id, activity.c.kind == WriteOffRecovered.kind
        )
    ).scalars()
    return sum(int(p["recovered_minor"]) for p in rows if p.get("currency") == currency)


def note_recovery(
    conn: Connection,
    *,
    portfolio: str,
    debtor_id: int,
    debtor_external_id: str,
    payment: str,
    unallocated_minor: int,
    currency: str,
    on: date,
    actor: str,
    at: datetime,
) -> int:
    """Record the part of a payment that found nothing open as a **recovery** of what was
    written off (up to what was written off and not yet recovered); returns that part."""
    remaining = written_off_minor(conn, debtor_id, currency) - recovered_minor(
        conn, debtor_id, currency
    )
    recovered = min(unallocated_minor, max(remaining, 0))
    if recovered <= 0:
        return 0
    key = f"write_off.recovered:{portfolio}:{payment}"
    if already_recorded(conn, key):
        return 0
    pid = portfolio_of(conn, portfolio, f"payment {payment}")
    entry = WriteOffRecovered(
        occurred_at=at,
        actor=actor,
        portfolio=portfolio,
        debtor=debtor_external_id,
        subject_kind="payment",
        subject_id=payment,
        payload={
            "payment": payment,
            "on": on.isoformat(),
            "currency": currency,
            "recovered": str(Money.from_minor(recovered, currency).amount),
            "recovered_minor": recovered,
            "written_off": str(
                Money.from_minor(written_off_minor(conn, debtor_id, currency), currency).amount
            ),
        },
        idempotency_key=key,
    )
    record(conn, [Entry(entry, pid, debtor_id)])
    return recovered


def cycle_write_off_tasks(conn: Connection, portfolio_code: str) -> list[RowMapping]:
    """The open ``write_off`` tasks the policy's ``propose_write_off`` steps created, with their
    case's debtor and currency."""
    query = (
        select(
            task.c.key,
            task.c.step_id,
            task.c.created_on,
            collection_case.c.debtor_id,
            collection_case.c.currency,
            debtor.c.external_id.label("debtor"),
        )
        .select_from(
            task.join(collection_case, collection_case.c.id == task.c.case_id)
            .join(debtor, debtor.c.id == collection_case.c.debtor_id)
            .join(portfolio, portfolio.c.id == task.c.portfolio_id)
        )
        .where(task.c.kind == "write_off", task.c.status == "open")
        .where(portfolio.c.code == portfolio_code)
        .order_by(task.c.id)
    )
    return list(conn.execute(query).mappings())


def debtor_external_id(conn: Connection, debtor_id: int) -> str:
    return str(
        conn.execute(select(debtor.c.external_id).where(debtor.c.id == debtor_id)).scalar_one()
    )
