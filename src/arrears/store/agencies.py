"""The store's side of agency placements: agencies, placements, the placement file's rows and
the agencies' remittances (migration 0013; see ``docs/agreements.md``, "Agencies").

Plain SQL on the caller's connection; the caller (a use case of ``services.arrangements.agencies``)
owns the
transaction and writes the activity records. A placement marks the debtor's open case in its
currency with the agency (``collection_case.agency``, the label the cycle's
``place_with_agency`` step sets) and puts the debtor's credit on hold; a recall clears both.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, func, select, update

from arrears.store.schema import (
    agency,
    agency_remittance,
    collection_case,
    contact_point,
    debtor,
    instalment,
    invoice,
    payment,
    placement,
    portfolio,
)


def _id(result: Any) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def find_agency(conn: Connection, code: str) -> RowMapping | None:
    return conn.execute(select(agency).where(agency.c.code == code)).mappings().first()


def add_agency(conn: Connection, values: dict[str, object]) -> int:
    return _id(conn.execute(agency.insert().values(**values)))


def agencies(conn: Connection) -> list[RowMapping]:
    """Every agency with its number of active placements."""
    active = (
        select(func.count())
        .where(placement.c.agency_id == agency.c.id, placement.c.recalled_on.is_(None))
        .scalar_subquery()
    )
    query = select(agency, active.label("placed")).order_by(agency.c.code)
    return list(conn.execute(query).mappings())


def position(conn: Connection, debtor_id: int, currency: str, on: date) -> tuple[int, int]:
    """What the debtor owes in ``currency`` and the days past due of its oldest overdue
    instalment on ``on`` (0: nothing overdue)."""
    row = conn.execute(
        select(
            func.coalesce(func.sum(instalment.c.open_minor), 0),
            func.min(instalment.c.due_date).filter(instalment.c.due_date < on),
        ).where(
            instalment.c.debtor_id == debtor_id,
            instalment.c.currency == currency,
            instalment.c.open_minor > 0,
        )
    ).one()
    oldest = row[1]
    return int(row[0]), 0 if oldest is None else (on - oldest).days


def open_case(conn: Connection, debtor_id: int, currency: str) -> RowMapping | None:
    return (
        conn.execute(
            select(collection_case).where(
                collection_case.c.debtor_id == debtor_id,
                collection_case.c.currency == currency,
                collection_case.c.closed_on.is_(None),
            )
        )
        .mappings()
        .first()
    )


_PLACEMENT = select(
    placement,
    agency.c.code.label("agency"),
    debtor.c.external_id.label("debtor"),
    debtor.c.name.label("debtor_name"),
    portfolio.c.code.label("portfolio"),
).select_from(
    placement.join(agency, agency.c.id == placement.c.agency_id)
    .join(debtor, debtor.c.id == placement.c.debtor_id)
    .join(portfolio, portfolio.c.id == placement.c.portfolio_id)
)


def active_placement(conn: Connection, debtor_id: int, currency: str) -> RowMapping | None:
    query = _PLACEMENT.where(
        placement.c.debtor_id == debtor_id,
        placement.c.currency == currency,
        placement.c.recalled_on.is_(None),
    )
    return conn.execute(query).mappings().first()


def find_placement(conn: Connection, placement_id: int) -> RowMapping | None:
    return conn.execute(_PLACEMENT.where(placement.c.id == placement_id)).mappings().first()


def placements(
    conn: Connection, portfolio_code: str, *, agency_code: str | None, active: bool
) -> list[RowMapping]:
    """The portfolio's placements (of one agency; only the active ones), oldest first, with
    what was collected on each."""
    collected = (
        select(func.coalesce(func.sum(agency_remittance.c.amount_minor), 0))
        .where(agency_remittance.c.placement_id == placement.c.id)
        .scalar_subquery()
    )
    commission = (
        select(func.coalesce(func.sum(agency_remittance.c.commission_minor), 0))
        .where(agency_remittance.c.placement_id == placement.c.id)
        .scalar_subquery()
    )
    query = (
        _PLACEMENT.add_columns(collected.label("collected"), commission.label("commission"))
        .where(portfolio.c.code == portfolio_code)
        .order_by(placement.c.id)
    )
    if agency_code is not None:
        query = query.where(agency.c.code == agency_code)
    if active:
        query = query.where(placement.c.recalled_on.is_(None))
    return list(conn.execute(query).mappings())


def insert_placement(conn: Connection, values: dict[str, object]) -> int:
    return _id(conn.execute(placement.insert().values(**values)))


def label_case(conn: Connection, case_id: int | None, agency_code: str | None, on: date) -> None:
    """Mark the open case placed with ``agency_code`` (``None``: back in house)."""
    if case_id is not None:
        conn.execute(
            update(collection_case)
            .where(collection_case.c.id == case_id)
            .values(agency=agency_code, updated_on=on)
        )


def recalled_by_cycle(conn: Connection, case_id: int | None, agency_code: str) -> bool:
    """Whether the placement's case is still open but no longer marked with its agency (the
    cycle's ``recall_from_agency`` step ran)."""
    if case_id is None:
        return False
    found = conn.execute(
        select(collection_case.c.agency, collection_case.c.closed_on).where(
            collection_case.c.id == case_id
        )
    ).first()
    return found is not None and found.closed_on is None and found.agency != agency_code


def set_credit(conn: Connection, debtor_id: int, *, before: str, after: str, at: datetime) -> bool:
    """Move the debtor's credit status from ``before`` to ``after``; whether it moved."""
    done = conn.execute(
        update(debtor)
        .where(debtor.c.id == debtor_id, debtor.c.credit_status == before)
        .values(credit_status=after, updated_at=at)
    )
    return done.rowcount == 1


def credit_status(conn: Connection, debtor_id: int) -> str:
    return str(
        conn.execute(select(debtor.c.credit_status).where(debtor.c.id == debtor_id)).scalar_one()
    )


def other_active_placements(conn: Connection, debtor_id: int, placement_id: int) -> int:
    return int(
        conn.execute(
            select(func.count()).where(
                placement.c.debtor_id == debtor_id,
                placement.c.id != placement_id,
                placement.c.recalled_on.is_(None),
            )
        ).scalar_one()
    )


def mark_recalled(
    conn: Connection, placement_id: int, *, on: date, actor: str, reason: str
) -> None:
    conn.execute(
        update(placement)
        .where(placement.c.id == placement_id, placement.c.recalled_on.is_(None))
        .values(recalled_on=on, recalled_by=actor, recall_reason=reason)
    )


def last_payment_on(conn: Connection, debtor_id: int, currency: str) -> date | None:
    """The day of the debtor's last posted payment in ``currency``."""
    found: date | None = conn.execute(
        select(func.max(payment.c.received_on)).where(
            payment.c.debtor_id == debtor_id,
            payment.c.currency == currency,
            payment.c.status == "posted",
        )
    ).scalar_one()
    return found


def cases_labelled(conn: Connection, portfolio_code: str, agency_code: str) -> list[RowMapping]:
    """Open cases the cycle placed with the agency (``place_with_agency``) that have no active
    placement yet."""
    active = (
        select(placement.c.id)
        .where(
            placement.c.debtor_id == collection_case.c.debtor_id,
            placement.c.currency == collection_case.c.currency,
            placement.c.recalled_on.is_(None),
        )
        .exists()
    )
    query = (
        select(collection_case, debtor.c.external_id.label("debtor"))
        .select_from(
            collection_case.join(debtor, debtor.c.id == collection_case.c.debtor_id).join(
                portfolio, portfolio.c.id == collection_case.c.portfolio_id
            )
        )
        .where(
            portfolio.c.code == portfolio_code,
            collection_case.c.agency == agency_code,
            collection_case.c.closed_on.is_(None),
            ~active,
        )
        .order_by(collection_case.c.id)
    )
    return list(conn.execute(query).mappings())


def file_rows(conn: Connection, placement_ids: list[int], on: date) -> list[dict[str, Any]]:
    """One row per open instalment of each placement: what the agency needs to collect it."""
    if not placement_ids:
        return []
    contacts: dict[tuple[int, str], str] = {}
    for c in conn.execute(
        select(contact_point.c.debtor_id, contact_point.c.kind, contact_point.c.value)
        .join(placement, placement.c.debtor_id == contact_point.c.debtor_id)
        .where(placement.c.id.in_(placement_ids), contact_point.c.status == "valid")
        .order_by(contact_point.c.is_primary.desc(), contact_point.c.id)
    ):
        contacts.setdefault((int(c.debtor_id), str(c.kind)), str(c.value))
    query = (
        select(
            placement.c.id.label("placement"),
            placement.c.debtor_id,
            debtor.c.external_id.label("debtor"),
            debtor.c.name,
            invoice.c.number.label("invoice"),
            instalment.c.seq,
            instalment.c.due_date,
            instalment.c.currency,
            instalment.c.amount_minor,
            instalment.c.open_minor,
        )
        .select_from(
            placement.join(debtor, debtor.c.id == placement.c.debtor_id)
            .join(
                instalment,
                and_(
                    instalment.c.debtor_id == placement.c.debtor_id,
                    instalment.c.currency == placement.c.currency,
                ),
            )
            .join(invoice, invoice.c.id == instalment.c.invoice_id)
        )
        .where(placement.c.id.in_(placement_ids), instalment.c.open_minor > 0)
        .order_by(placement.c.id, instalment.c.due_date, invoice.c.number, instalment.c.seq)
    )
    rows = []
    for r in conn.execute(query).mappings():
        row = dict(r)
        for kind in ("email", "phone", "postal"):
            row[kind] = contacts.get((int(r["debtor_id"]), kind))
        row["days_past_due"] = max((on - r["due_date"]).days, 0)
        rows.append(row)
    return rows


def remittance(conn: Connection, agency_id: int, reference: str) -> RowMapping | None:
    query = select(agency_remittance).where(
        agency_remittance.c.agency_id == agency_id, agency_remittance.c.reference == reference
    )
    return conn.execute(query).mappings().first()


def remitted_minor(conn: Connection, placement_id: int) -> int:
    return int(
        conn.execute(
            select(func.coalesce(func.sum(agency_remittance.c.amount_minor), 0)).where(
                agency_remittance.c.placement_id == placement_id
            )
        ).scalar_one()
    )


def insert_remittance(conn: Connection, values: dict[str, object]) -> int:
    return _id(conn.execute(agency_remittance.insert().values(**values)))


def payment_id(conn: Connection, portfolio_id: int, external_id: str) -> int:
    return int(
        conn.execute(
            select(payment.c.id).where(
                payment.c.portfolio_id == portfolio_id, payment.c.external_id == external_id
            )
        ).scalar_one()
    )
