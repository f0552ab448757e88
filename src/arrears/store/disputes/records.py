"""Disputes and their invoices: the SQL, on the caller's connection (no commit here).

While an invoice is in an open dispute its ``disputed`` flag (and ``disputed_on``, the day the
dispute was opened) is set on the invoice and its instalments; resolving the dispute clears it
(:func:`flag`). Everything that reads the flag (the cycle's snapshot, scoring, the dispatcher,
the account page) sees open disputes through it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Connection, and_, func, insert, select, update

from arrears.store.schema import (
    debtor,
    dispute,
    dispute_attachment,
    dispute_invoice,
    instalment,
    invoice,
)


def invoices(conn: Connection, pid: int, external_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The portfolio's invoices of those external ids (those that exist), with their debtor,
    open amount (``open_minor``) and whether an open dispute holds them (``dispute_id``)."""
    if not external_ids:
        return []
    open_minor = (
        select(func.coalesce(func.sum(instalment.c.open_minor), 0))
        .where(instalment.c.invoice_id == invoice.c.id)
        .scalar_subquery()
    )
    in_dispute = (
        select(func.max(dispute.c.id))
        .join(dispute_invoice, dispute_invoice.c.dispute_id == dispute.c.id)
        .where(dispute_invoice.c.invoice_id == invoice.c.id, dispute.c.status == "open")
        .scalar_subquery()
    )
    rows = conn.execute(
        select(
            invoice.c.id,
            invoice.c.external_id,
            invoice.c.number,
            invoice.c.debtor_id,
            invoice.c.currency,
            invoice.c.status,
            debtor.c.external_id.label("debtor"),
            open_minor.label("open_minor"),
            in_dispute.label("dispute_id"),
        )
        .join(debtor, debtor.c.id == invoice.c.debtor_id)
        .where(invoice.c.portfolio_id == pid, invoice.c.external_id.in_(list(external_ids)))
    ).mappings()
    return [dict(r) for r in rows]


def insert_dispute(conn: Connection, values: dict[str, Any], lines: list[dict[str, Any]]) -> int:
    """A dispute and its invoices (``invoice_id``, ``open_minor``); returns its id."""
    key = conn.execute(insert(dispute).values(**values)).inserted_primary_key
    assert key is not None
    dispute_id = int(key[0])
    conn.execute(insert(dispute_invoice), [{**line, "dispute_id": dispute_id} for line in lines])
    return dispute_id


def by_key(conn: Connection, key: str) -> dict[str, Any] | None:
    row = conn.execute(select(dispute).where(dispute.c.key == key)).mappings().first()
    return None if row is None else dict(row)


def find(conn: Connection, dispute_id: int) -> dict[str, Any] | None:
    """The dispute with its debtor's external id, or ``None``."""
    row = (
        conn.execute(
            select(dispute, debtor.c.external_id.label("debtor"))
            .join(debtor, debtor.c.id == dispute.c.debtor_id)
            .where(dispute.c.id == dispute_id)
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


def lines(conn: Connection, dispute_ids: Collection[int]) -> dict[int, list[dict[str, Any]]]:
    """Each dispute's invoices: external id, number, open amount now and when disputed, the
    credit posted on it."""
    now = (
        select(func.coalesce(func.sum(instalment.c.open_minor), 0))
        .where(instalment.c.invoice_id == invoice.c.id)
        .scalar_subquery()
    )
    rows = conn.execute(
        select(
            dispute_invoice,
            invoice.c.external_id.label("invoice"),
            invoice.c.number,
            now.label("open_now_minor"),
        )
        .join(invoice, invoice.c.id == dispute_invoice.c.invoice_id)
        .where(dispute_invoice.c.dispute_id.in_(list(dispute_ids)))
        .order_by(dispute_invoice.c.dispute_id, invoice.c.external_id)
    ).mappings()
    found: dict[int, list[dict[str, Any]]] = {int(i): [] for i in dispute_ids}
    for r in rows:
        found[int(r["dispute_id"])].append(dict(r))
    return found


def listing(
    conn: Connection,
    pid: int,
    *,
    status: str | None,
    owner: str | None,
    debtor_id: int | None,
    overdue_on: date | None,
) -> list[dict[str, Any]]:
    """The portfolio's disputes, oldest first: of one status, owner and debtor when given;
    ``overdue_on``: only the open ones due before that day."""
    query = (
        select(dispute, debtor.c.external_id.label("debtor"))
        .join(debtor, debtor.c.id == dispute.c.debtor_id)
        .where(dispute.c.portfolio_id == pid)
        .order_by(dispute.c.opened_on, dispute.c.id)
    )
    if status is not None:
        query = query.where(dispute.c.status == status)
    if owner is not None:
        query = query.where(dispute.c.owner == owner)
    if debtor_id is not None:
        query = query.where(dispute.c.debtor_id == debtor_id)
    if overdue_on is not None:
        query = query.where(dispute.c.status == "open", dispute.c.due_on < overdue_on)
    return [dict(r) for r in conn.execute(query).mappings()]


def resolve(conn: Connection, dispute_id: int, **values: Any) -> bool:
    """Mark an open dispute resolved (``status``, ``resolved_on``, ...); ``False``: it was no
    longer open (a concurrent resolution)."""
    done = conn.execute(
        update(dispute)
        .where(dispute.c.id == dispute_id, dispute.c.status == "open")
        .values(**values)
    )
    return done.rowcount == 1


def credited(conn: Connection, dispute_id: int, invoice_id: int, minor: int, note: str) -> None:
    conn.execute(
        update(dispute_invoice)
        .where(
            and_(
                dispute_invoice.c.dispute_id == dispute_id,
                dispute_invoice.c.invoice_id == invoice_id,
            )
        )
        .values(credit_minor=minor, credit_note=note)
    )


def flag(conn: Connection, invoice_ids: Collection[int], on: date | None) -> None:
    """Set the invoices' (and their instalments') ``disputed`` flag as of ``on``; ``None``:
    clear it (no open dispute holds them any more)."""
    if not invoice_ids:
        return
    ids = sorted(invoice_ids)
    values = {"disputed": on is not None, "disputed_on": on}
    conn.execute(update(invoice).where(invoice.c.id.in_(ids)).values(**values))
    conn.execute(update(instalment).where(instalment.c.invoice_id.in_(ids)).values(**values))


# Attachments ------------------------------------------------------------------------------------

_META = (
    dispute_attachment.c.id,
    dispute_attachment.c.dispute_id,
    dispute_attachment.c.file_name,
    dispute_attachment.c.media_type,
    dispute_attachment.c.size_bytes,
    dispute_attachment.c.sha256,
    dispute_attachment.c.uploaded_by,
    dispute_attachment.c.uploaded_at,
)


def attachment_by_hash(conn: Connection, dispute_id: int, sha256: str) -> int | None:
    """The id of the dispute's attachment with that content, if it has one."""
    found = conn.execute(
        select(dispute_attachment.c.id).where(
            dispute_attachment.c.dispute_id == dispute_id, dispute_attachment.c.sha256 == sha256
        )
    ).scalar()
    return None if found is None else int(found)


def insert_attachment(conn: Connection, values: dict[str, Any]) -> int:
    key = conn.execute(insert(dispute_attachment).values(**values)).inserted_primary_key
    assert key is not None
    return int(key[0])


def attachments(conn: Connection, dispute_ids: Collection[int]) -> dict[int, list[dict[str, Any]]]:
    """Each dispute's attachments (without their content), oldest first."""
    found: dict[int, list[dict[str, Any]]] = {int(i): [] for i in dispute_ids}
    if not dispute_ids:
        return found
    rows = conn.execute(
        select(*_META)
        .where(dispute_attachment.c.dispute_id.in_(sorted(dispute_ids)))
        .order_by(dispute_attachment.c.dispute_id, dispute_attachment.c.id)
    ).mappings()
    for r in rows:
        found[int(r["dispute_id"])].append(dict(r))
    return found


def attachment(conn: Connection, dispute_id: int, attachment_id: int) -> dict[str, Any] | None:
    """One attachment of the dispute, with its ``content``, or ``None``."""
    row = (
        conn.execute(
            select(*_META, dispute_attachment.c.content).where(
                dispute_attachment.c.id == attachment_id,
                dispute_attachment.c.dispute_id == dispute_id,
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)
