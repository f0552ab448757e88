"""Use cases that add what is owed: a debtor, and an invoice with its due instalments.

Each takes the caller's connection, validates the whole request first (all problems at once, as
``ProblemsFound``), then writes the rows and their activity record. Adding the same debtor or
invoice again (same external id, same details) changes nothing; the same id with other details
is a problem: updating a record is the importer's job, which logs what changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from sqlalchemy import Connection, RowMapping, insert, select

from arrears.domain.activity import DebtorCreated, InvoiceCreated
from arrears.domain.ledger import CHANNELS_BY_CONTACT_KIND, ContactKind, Debtor, Invoice
from arrears.domain.money import is_currency
from arrears.store.activity_log import Entry, record
from arrears.store.ledger.balances import fail, find_debtor, minor, portfolio_of
from arrears.store.schema import consent, contact_point, debtor, instalment, invoice


def row_hash(values: Mapping[str, Any]) -> str:
    text = json.dumps(values, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _debtor_problems(new: Debtor) -> list[str]:
    problems = []
    if not is_currency(new.currency):
        problems.append(f"unknown currency {new.currency!r}")
    if len(new.country) != 2 or not new.country.isupper():
        problems.append(f"country {new.country!r} is not an ISO 3166 code such as 'US'")
    try:
        ZoneInfo(new.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"unknown time zone {new.timezone!r}")
    if new.credit_limit is not None and new.credit_limit.currency != new.currency:
        problems.append(f"credit limit in {new.credit_limit.currency}, debtor in {new.currency}")
    for contact in new.contacts:
        if contact.kind is ContactKind.PHONE and not _is_e164(contact.value):
            problems.append(f"phone {contact.value!r} is not a valid E.164 number (+15551234567)")
        for channel in contact.consent:
            if channel not in CHANNELS_BY_CONTACT_KIND[contact.kind]:
                problems.append(
                    f"{channel} consent does not apply to {contact.kind} contact points"
                )
    return problems


def _is_e164(value: str) -> bool:
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return False
    formatted = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return phonenumbers.is_valid_number(parsed) and formatted == value


def _debtor_values(new: Debtor, pid: int, source: str) -> dict[str, Any]:
    return {
        "portfolio_id": pid,
        "external_id": new.external_id,
        "name": new.name,
        "kind": new.kind.value,
        "country": new.country,
        "region": new.region,
        "timezone": new.timezone,
        "language": new.language,
        "currency": new.currency,
        "credit_limit_minor": None if new.credit_limit is None else minor(new.credit_limit, source),
        "credit_status": new.credit_status.value,
        "do_not_contact": new.do_not_contact,
        "bankrupt": new.bankrupt,
        "deceased": new.deceased,
        "legal_representative": new.legal_representative,
        "tags": list(new.tags),
        "attributes": dict(new.attributes),
    }


def add_debtor(conn: Connection, new: Debtor, *, actor: str, at: datetime) -> int:
    """Add a debtor with its contact points and consents; returns the debtor's id."""
    source = f"debtor {new.external_id}"
    problems = _debtor_problems(new)
    if problems:
        raise fail(source, *problems)
    pid = portfolio_of(conn, new.portfolio, source)
    values = _debtor_values(new, pid, source)
    existing = (
        conn.execute(
            select(debtor).where(
                debtor.c.portfolio_id == pid, debtor.c.external_id == new.external_id
            )
        )
        .mappings()
        .first()
    )
    if existing is not None:
        if any(existing[k] != v for k, v in values.items()):
            raise fail(source, "already exists with other details; import it to update it")
        return int(existing["id"])
    new_id = conn.execute(
        insert(debtor).values(**values, row_hash=row_hash(values), created_at=at, updated_at=at)
    ).inserted_primary_key
    assert new_id is not None
    debtor_id = int(new_id[0])
    for contact in new.contacts:
        point = conn.execute(
            insert(contact_point).values(
                debtor_id=debtor_id,
                kind=contact.kind.value,
                value=contact.value,
                is_primary=contact.primary,
                status="valid",
                created_at=at,
            )
        ).inserted_primary_key
        assert point is not None
        for channel, status in contact.consent.items():
            conn.execute(
                insert(consent).values(
                    contact_point_id=int(point[0]),
                    channel=channel.value,
                    status=status.value,
                    recorded_at=at,
                    source=actor,
                )
            )
    payload = {"name": new.name, "kind": new.kind.value, "currency": new.currency}
    activity = DebtorCreated(
        occurred_at=at,
        actor=actor,
        portfolio=new.portfolio,
        debtor=new.external_id,
        subject_kind="debtor",
        subject_id=new.external_id,
        payload=payload,
        idempotency_key=f"debtor.created:{new.portfolio}:{new.external_id}",
    )
    record(conn, [Entry(activity, pid, debtor_id)])
    return debtor_id


def _invoice_problems(new: Invoice) -> list[str]:
    if not new.instalments:
        return ["an invoice needs at least one instalment"]
    problems = []
    seqs = [i.seq for i in new.instalments]
    if len(set(seqs)) != len(seqs) or min(seqs) < 1:
        problems.append(f"instalment numbers {seqs} must be distinct and start at 1 or more")
    for inst in new.instalments:
        if inst.amount.currency != new.currency or inst.open.currency != new.currency:
            problems.append(f"instalment {inst.seq} is not in {new.currency}")
        elif not inst.amount.is_positive():
            problems.append(f"instalment {inst.seq} amount must be positive")
        elif inst.open != inst.amount:
            problems.append(
                f"instalment {inst.seq} must start fully open; post payments to lower it"
            )
    return problems


def _same_invoice(conn: Connection, existing: RowMapping, values: dict[str, Any]) -> bool:
    if any(existing[k] != v for k, v in values.items() if k != "instalments"):
        return False
    rows = conn.execute(
        select(instalment.c.seq, instalment.c.due_date, instalment.c.amount_minor)
        .where(instalment.c.invoice_id == existing["id"])
        .order_by(instalment.c.seq)
    ).all()
    return bool([tuple(r) for r in rows] == values["instalments"])


def add_invoice(conn: Connection, new: Invoice, *, actor: str, at: datetime) -> int:
    """Add an invoice with its instalments, fully open; returns the invoice's id."""
    source = f"invoice {new.external_id}"
    problems = _invoice_problems(new)
    if problems:
        raise fail(source, *problems)
    pid = portfolio_of(conn, new.portfolio, source)
    owner = find_debtor(conn, pid, new.debtor, source)
    lines = sorted((i.seq, i.due_date, minor(i.amount, source)) for i in new.instalments)
    values: dict[str, Any] = {
        "debtor_id": owner["id"],
        "number": new.number,
        "issue_date": new.issue_date,
        "currency": new.currency,
        "amount_minor": sum(amount for _, _, amount in lines),
        "disputed": new.disputed,
        "reference": new.reference,
        "instalments": lines,
    }
    existing = (
        conn.execute(
            select(invoice).where(
                invoice.c.portfolio_id == pid, invoice.c.external_id == new.external_id
            )
        )
        .mappings()
        .first()
    )
    if existing is not None:
        if not _same_invoice(conn, existing, values):
            raise fail(source, "already exists with other details; import it to update it")
        return int(existing["id"])
    columns = {k: v for k, v in values.items() if k != "instalments"}
    new_id = conn.execute(
        insert(invoice).values(
            portfolio_id=pid,
            external_id=new.external_id,
            status="open",
            row_hash=row_hash(values),
            created_at=at,
            updated_at=at,
            **columns,
        )
    ).inserted_primary_key
    assert new_id is not None
    invoice_id = int(new_id[0])
    conn.execute(
        insert(instalment),
        [
            {
                "invoice_id": invoice_id,
                "seq": seq,
                "portfolio_id": pid,
                "debtor_id": owner["id"],
                "currency": new.currency,
                "issue_date": new.issue_date,
                "disputed": new.disputed,
                "due_date": due,
                "amount_minor": amount,
                "open_minor": amount,
            }
            for seq, due, amount in lines
        ],
    )
    activity = InvoiceCreated(
        occurred_at=at,
        actor=actor,
        portfolio=new.portfolio,
        debtor=new.debtor,
        subject_kind="invoice",
        subject_id=new.external_id,
        payload={
            "number": new.number,
            "amount": str(new.amount.amount),
            "currency": new.currency,
            "instalments": [
                {"seq": i.seq, "due_date": i.due_date.isoformat(), "amount": str(i.amount.amount)}
                for i in new.instalments
            ],
        },
        idempotency_key=f"invoice.created:{new.portfolio}:{new.external_id}",
    )
    record(conn, [Entry(activity, pid, int(owner["id"]))])
    return invoice_id
