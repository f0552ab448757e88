"""The import's ``disputed`` flag mapped onto disputes, set-based, after an invoice import.

The loader (``store/loading``) writes each invoice's ``disputed`` flag as its file says. Then
:func:`sync`, in three statements over the whole store (plus one read per kind of change for
the activity records):

1. an invoice flagged that no open dispute holds gets a dispute of its own with the reason
   ``from_erp`` (key ``dispute:erp:<portfolio>:<invoice>:<day>``), opened on the import's day;
2. an open ``from_erp`` dispute whose invoice is no longer flagged is closed (``closed``: the
   ERP resolved it; what it decided is the ERP's and reaches arrears as its credit notes);
3. an invoice in an open dispute opened in arrears that the import unflagged is flagged again
   (with the dispute's day): the ERP does not know of that dispute yet.

Running it again finds nothing to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, and_, exists, func, insert, literal, select, update
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Exists

from arrears.domain import disputes as rules
from arrears.domain.money import Money
from arrears.store.activity_log import Entry, record
from arrears.store.schema import debtor, dispute, dispute_invoice, instalment, invoice, portfolio


@dataclass(frozen=True, slots=True)
class Synced:
    opened: int  # from_erp disputes opened
    closed: int  # from_erp disputes closed
    reflagged: int  # invoices of arrears' own open disputes flagged again


def _open_dispute_holds(invoice_id: ColumnElement[Any]) -> Exists:
    return exists(
        select(dispute_invoice.c.invoice_id)
        .join(dispute, dispute.c.id == dispute_invoice.c.dispute_id)
        .where(dispute_invoice.c.invoice_id == invoice_id, dispute.c.status == rules.Status.OPEN)
    )


def sync(conn: Connection, *, actor: str, on: date, at: datetime, due_on: date) -> Synced:
    """See the module's docstring; ``due_on``: when a new ``from_erp`` dispute is due."""
    opened = _open_flagged(conn, actor=actor, on=on, at=at, due_on=due_on)
    closed = _close_cleared(conn, actor=actor, on=on, at=at)
    reflagged = _reflag(conn)
    return Synced(opened, closed, reflagged)


def _key(day: date) -> ColumnElement[str]:
    return (
        literal("dispute:erp:")
        + portfolio.c.code
        + literal(":")
        + invoice.c.external_id
        + literal(f":{day.isoformat()}")
    )


def _open_flagged(conn: Connection, *, actor: str, on: date, at: datetime, due_on: date) -> int:
    open_minor = (
        select(func.coalesce(func.sum(instalment.c.open_minor), 0))
        .where(instalment.c.invoice_id == invoice.c.id)
        .scalar_subquery()
    )
    flagged = invoice.join(portfolio, portfolio.c.id == invoice.c.portfolio_id).join(
        debtor, debtor.c.id == invoice.c.debtor_id
    )
    new = and_(
        invoice.c.disputed.is_(True),
        ~_open_dispute_holds(invoice.c.id),
        ~exists(select(dispute.c.id).where(dispute.c.key == _key(on))),
    )
    rows = (
        conn.execute(
            select(
                invoice.c.id,
                invoice.c.portfolio_id,
                invoice.c.debtor_id,
                invoice.c.currency,
                invoice.c.external_id,
                portfolio.c.code.label("portfolio"),
                debtor.c.external_id.label("debtor"),
                open_minor.label("open_minor"),
                _key(on).label("key"),
            )
            .select_from(flagged)
            .where(new)
        )
        .mappings()
        .all()
    )
    if not rows:
        return 0
    conn.execute(
        insert(dispute),
        [
            {
                "key": r["key"],
                "portfolio_id": r["portfolio_id"],
                "debtor_id": r["debtor_id"],
                "currency": r["currency"],
                "status": rules.Status.OPEN,
                "reason": rules.Reason.FROM_ERP,
                "owner": None,
                "due_on": due_on,
                "opened_on": on,
                "opened_by": actor,
                "created_at": at,
            }
            for r in rows
        ],
    )
    made = conn.execute(
        select(dispute.c.key, dispute.c.id).where(
            dispute.c.reason == rules.Reason.FROM_ERP,
            dispute.c.opened_on == on,
            dispute.c.created_at == at,
        )
    ).all()
    ids = {str(key): int(i) for key, i in made}
    conn.execute(
        insert(dispute_invoice),
        [
            {"dispute_id": ids[r["key"]], "invoice_id": r["id"], "open_minor": r["open_minor"]}
            for r in rows
        ],
    )
    # the flag stays as the loader dated it (``disputed_on``: the import's day, or null for an
    # invoice that came in disputed)
    record(
        conn,
        [
            Entry(
                rules.DisputeOpened(
                    occurred_at=at,
                    actor=actor,
                    portfolio=str(r["portfolio"]),
                    debtor=str(r["debtor"]),
                    subject_kind="dispute",
                    subject_id=str(ids[r["key"]]),
                    payload={
                        "invoices": [r["external_id"]],
                        "currency": r["currency"],
                        "amount": str(Money.from_minor(int(r["open_minor"]), r["currency"]).amount),
                        "reason": rules.Reason.FROM_ERP.value,
                        "due_on": due_on.isoformat(),
                        "on": on.isoformat(),
                    },
                    idempotency_key=str(r["key"]),
                ),
                int(r["portfolio_id"]),
                int(r["debtor_id"]),
            )
            for r in rows
        ],
    )
    return len(rows)


def _close_cleared(conn: Connection, *, actor: str, on: date, at: datetime) -> int:
    cleared = exists(
        select(dispute_invoice.c.invoice_id)
        .join(invoice, invoice.c.id == dispute_invoice.c.invoice_id)
        .where(dispute_invoice.c.dispute_id == dispute.c.id, invoice.c.disputed.is_(False))
    )
    which = and_(
        dispute.c.status == rules.Status.OPEN, dispute.c.reason == rules.Reason.FROM_ERP, cleared
    )
    rows = (
        conn.execute(
            select(
                dispute.c.id,
                dispute.c.key,
                dispute.c.portfolio_id,
                dispute.c.debtor_id,
                portfolio.c.code.label("portfolio"),
                debtor.c.external_id.label("debtor"),
            )
            .join(portfolio, portfolio.c.id == dispute.c.portfolio_id)
            .join(debtor, debtor.c.id == dispute.c.debtor_id)
            .where(which)
        )
        .mappings()
        .all()
    )
    if not rows:
        return 0
    status = rules.transition(rules.Status.OPEN, rules.Outcome.CLOSE)
    conn.execute(
        update(dispute)
        .where(dispute.c.id.in_([r["id"] for r in rows]))
        .values(status=status, resolved_on=on, resolved_by=actor, resolution="cleared by the ERP")
    )
    record(
        conn,
        [
            Entry(
                rules.DisputeClosed(
                    occurred_at=at,
                    actor=actor,
                    portfolio=str(r["portfolio"]),
                    debtor=str(r["debtor"]),
                    subject_kind="dispute",
                    subject_id=str(r["id"]),
                    payload={"on": on.isoformat(), "note": "cleared by the ERP"},
                    idempotency_key=f"{r['key']}:{status}",
                ),
                int(r["portfolio_id"]),
                int(r["debtor_id"]),
            )
            for r in rows
        ],
    )
    return len(rows)


def _reflag(conn: Connection) -> int:
    opened_on = (
        select(func.max(dispute.c.opened_on))
        .join(dispute_invoice, dispute_invoice.c.dispute_id == dispute.c.id)
        .where(
            dispute_invoice.c.invoice_id == invoice.c.id,
            dispute.c.status == rules.Status.OPEN,
            dispute.c.reason != rules.Reason.FROM_ERP,
        )
        .scalar_subquery()
    )
    lost = conn.execute(
        select(invoice.c.id, opened_on.label("on")).where(
            invoice.c.disputed.is_(False), opened_on.is_not(None)
        )
    ).all()
    for invoice_id, day in lost:  # (rare: an ERP file that does not know of arrears' disputes)
        values = {"disputed": True, "disputed_on": day}
        conn.execute(update(invoice).where(invoice.c.id == invoice_id).values(**values))
        conn.execute(
            update(instalment).where(instalment.c.invoice_id == invoice_id).values(**values)
        )
    return len(lost)
