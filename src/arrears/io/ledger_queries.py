"""One SQL query per exportable kind, read straight into Polars (no ORM objects).

Each query returns the ledger's rows under the canonical column names of
:mod:`arrears.domain.columns`, with amounts still in integer minor units (``*_minor``); JSON
columns are cast to text so that SQLite and PostgreSQL return the same thing.
"""

from __future__ import annotations

from sqlalchemy import Select, Text, and_, cast, false, func, select
from sqlalchemy.sql.elements import ColumnElement

from arrears.domain.columns import Kind
from arrears.domain.ledger import CONTACT_KIND_OF_CHANNEL
from arrears.store.schema import (
    allocation,
    consent,
    contact_point,
    credit_note,
    debtor,
    instalment,
    invoice,
    payment,
    portfolio,
)

#: Which contact point carries the consent of each channel.
CONSENT_CONTACT = {str(c): str(k) for c, k in CONTACT_KIND_OF_CHANNEL.items()}


def _contact(kind: str) -> ColumnElement[str]:
    return (
        select(contact_point.c.value)
        .where(contact_point.c.debtor_id == debtor.c.id, contact_point.c.kind == kind)
        .order_by(contact_point.c.is_primary.desc(), contact_point.c.id)
        .limit(1)
        .scalar_subquery()
    )


def _consent(channel: str) -> ColumnElement[str]:
    return (
        select(consent.c.status)
        .join(contact_point, consent.c.contact_point_id == contact_point.c.id)
        .where(
            contact_point.c.debtor_id == debtor.c.id,
            contact_point.c.kind == CONSENT_CONTACT[channel],
            consent.c.channel == channel,
        )
        .order_by(contact_point.c.is_primary.desc(), contact_point.c.id)
        .limit(1)
        .scalar_subquery()
    )


def debtors() -> Select[tuple[object, ...]]:
    return (
        select(
            debtor.c.external_id.label("debtor_id"),
            debtor.c.name,
            debtor.c.kind,
            debtor.c.country,
            debtor.c.region,
            debtor.c.timezone,
            debtor.c.language,
            debtor.c.currency,
            _contact("email").label("email"),
            _contact("phone").label("phone"),
            _contact("postal").label("address"),
            *(_consent(ch).label(f"consent_{ch}") for ch in CONSENT_CONTACT),
            debtor.c.credit_limit_minor,
            debtor.c.credit_status,
            debtor.c.do_not_contact,
            debtor.c.bankrupt,
            debtor.c.deceased,
            debtor.c.legal_representative,
            cast(debtor.c.tags, Text).label("tags"),
            cast(debtor.c.attributes, Text).label("attributes"),
            portfolio.c.code.label("portfolio"),
        )
        .join(portfolio, debtor.c.portfolio_id == portfolio.c.id)
        .order_by(portfolio.c.code, debtor.c.external_id)
    )


def invoices() -> Select[tuple[object, ...]]:
    return (
        select(
            invoice.c.external_id.label("invoice_id"),
            debtor.c.external_id.label("debtor_id"),
            invoice.c.issue_date,
            instalment.c.due_date,
            instalment.c.amount_minor,
            invoice.c.currency,
            invoice.c.number,
            instalment.c.seq.label("instalment"),
            invoice.c.disputed,
            invoice.c.reference,
            portfolio.c.code.label("portfolio"),
            instalment.c.open_minor.label("open_amount_minor"),
            invoice.c.status,
        )
        .join(instalment, instalment.c.invoice_id == invoice.c.id)
        .join(debtor, invoice.c.debtor_id == debtor.c.id)
        .join(portfolio, invoice.c.portfolio_id == portfolio.c.id)
        .order_by(portfolio.c.code, invoice.c.external_id, instalment.c.seq)
    )


def payments() -> Select[tuple[object, ...]]:
    lines = (
        select(
            allocation.c.source_id,
            allocation.c.instalment_id,
            func.sum(allocation.c.amount_minor).label("allocated_minor"),
        )
        .where(allocation.c.source_kind == "payment", allocation.c.reversed == false())
        .group_by(allocation.c.source_id, allocation.c.instalment_id)
        .subquery()
    )
    return (
        select(
            payment.c.external_id.label("payment_id"),
            debtor.c.external_id.label("debtor_id"),
            payment.c.received_on.label("date"),
            payment.c.amount_minor,
            payment.c.currency,
            payment.c.method,
            payment.c.reference,
            invoice.c.external_id.label("invoice_id"),
            instalment.c.seq.label("instalment"),
            lines.c.allocated_minor.label("allocated_amount_minor"),
            portfolio.c.code.label("portfolio"),
            payment.c.status,
            payment.c.reversed_on,
            payment.c.unallocated_minor.label("unallocated_amount_minor"),
        )
        .join(debtor, payment.c.debtor_id == debtor.c.id)
        .join(portfolio, payment.c.portfolio_id == portfolio.c.id)
        .outerjoin(lines, lines.c.source_id == payment.c.id)
        .outerjoin(instalment, lines.c.instalment_id == instalment.c.id)
        .outerjoin(invoice, and_(instalment.c.invoice_id == invoice.c.id))
        .order_by(portfolio.c.code, payment.c.external_id, invoice.c.external_id, instalment.c.seq)
    )


def credit_notes() -> Select[tuple[object, ...]]:
    return (
        select(
            credit_note.c.external_id.label("credit_note_id"),
            debtor.c.external_id.label("debtor_id"),
            credit_note.c.issued_on.label("date"),
            credit_note.c.amount_minor,
            credit_note.c.currency,
            invoice.c.external_id.label("invoice_id"),
            credit_note.c.reason,
            portfolio.c.code.label("portfolio"),
            credit_note.c.unallocated_minor.label("unallocated_amount_minor"),
        )
        .join(debtor, credit_note.c.debtor_id == debtor.c.id)
        .join(portfolio, credit_note.c.portfolio_id == portfolio.c.id)
        .outerjoin(invoice, credit_note.c.invoice_id == invoice.c.id)
        .order_by(portfolio.c.code, credit_note.c.external_id)
    )


QUERIES = {
    Kind.DEBTORS: debtors,
    Kind.INVOICES: invoices,
    Kind.PAYMENTS: payments,
    Kind.CREDIT_NOTES: credit_notes,
}


def for_portfolio(
    query: Select[tuple[object, ...]], code: str | None
) -> Select[tuple[object, ...]]:
    return query if code is None else query.where(portfolio.c.code == code)
