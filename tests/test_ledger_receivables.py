"""Adding debtors and invoices: contact points with consent, checks, idempotency."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine, select

from arrears.domain.ledger import (
    Channel,
    Consent,
    ContactKind,
    ContactPoint,
    Debtor,
    DebtorKind,
    Instalment,
    Invoice,
)
from arrears.domain.money import Money
from arrears.domain.problems import ProblemsFound
from arrears.store import schema
from arrears.store.ledger.cases import add_debtor, add_invoice
from test_ledger_support import ACTOR, AT, Book

ANA = Debtor(
    "D-ANA",
    "Ana Gómez",
    DebtorKind.PERSON,
    "CO",
    "COP",
    "America/Bogota",
    "es",
    contacts=(
        ContactPoint(ContactKind.EMAIL, "ana@example.com", {Channel.EMAIL: Consent.GRANTED}),
        ContactPoint(
            ContactKind.PHONE,
            "+573001234567",
            {Channel.SMS: Consent.DENIED, Channel.CALL: Consent.GRANTED},
        ),
    ),
    tags=("retail",),
)


def test_a_debtor_with_contact_points_and_consent(engine: Engine) -> None:
    with engine.begin() as conn:
        book = Book(conn)
        first = add_debtor(conn, ANA, actor=ACTOR, at=AT)
        assert add_debtor(conn, ANA, actor=ACTOR, at=AT) == first  # twice = once
        consents = conn.execute(
            select(schema.contact_point.c.value, schema.consent.c.channel, schema.consent.c.status)
            .join(schema.consent)
            .order_by(schema.consent.c.channel)
        ).all()
        assert [tuple(c) for c in consents] == [
            ("+573001234567", "call", "granted"),
            ("ana@example.com", "email", "granted"),
            ("+573001234567", "sms", "denied"),
        ]
        assert book.activity_kinds() == ["portfolio.created", "debtor.created"]


def test_debtor_problems_all_at_once(engine: Engine) -> None:
    bad = Debtor(
        "D-BAD",
        "Bad",
        DebtorKind.COMPANY,
        "Colombia",
        "XXY",
        "Mars/Olympus",
        "es",
        contacts=(
            ContactPoint(ContactKind.PHONE, "3001234567"),
            ContactPoint(ContactKind.EMAIL, "x@example.com", {Channel.SMS: Consent.GRANTED}),
        ),
    )
    with engine.begin() as conn:
        Book(conn)
        with pytest.raises(ProblemsFound) as excinfo:
            add_debtor(conn, bad, actor=ACTOR, at=AT)
        assert [p.message for p in excinfo.value.problems] == [
            "unknown currency 'XXY'",
            "country 'Colombia' is not an ISO 3166 code such as 'US'",
            "unknown time zone 'Mars/Olympus'",
            "phone '3001234567' is not a valid E.164 number (+15551234567)",
            "sms consent does not apply to email contact points",
        ]
        add_debtor(conn, ANA, actor=ACTOR, at=AT)
        renamed = Debtor(
            "D-ANA", "Ana María Gómez", DebtorKind.PERSON, "CO", "COP", "America/Bogota", "es"
        )
        with pytest.raises(ProblemsFound, match="1 problem"):
            add_debtor(conn, renamed, actor=ACTOR, at=AT)
        assert Book(conn).count("debtor") == 1


def _invoice(*lines: tuple[int, str, str, str], debtor: str = "D1") -> Invoice:
    return Invoice(
        "I1",
        debtor,
        "F-001",
        date(2026, 1, 1),
        tuple(
            Instalment(seq, date(2026, 1, 31), Money.of(amount, cur), Money.of(open_, cur))
            for seq, amount, open_, cur in lines
        ),
    )


def test_invoice_problems_all_at_once(engine: Engine) -> None:
    with engine.begin() as conn:
        Book(conn).debtor("D1")
        with pytest.raises(ProblemsFound) as excinfo:
            add_invoice(
                conn,
                _invoice(
                    (1, "10.00", "10.00", "USD"),
                    (1, "5.00", "5.00", "EUR"),
                    (2, "0.00", "0.00", "USD"),
                    (3, "7.00", "3.00", "USD"),
                ),
                actor=ACTOR,
                at=AT,
            )
        assert [str(p) for p in excinfo.value.problems] == [
            "invoice I1: instalment numbers [1, 1, 2, 3] must be distinct and start at 1 or more",
            "invoice I1: instalment 1 is not in USD",
            "invoice I1: instalment 2 amount must be positive",
            "invoice I1: instalment 3 must start fully open; post payments to lower it",
        ]
        with pytest.raises(ProblemsFound, match="1 problem"):
            add_invoice(
                conn, _invoice((1, "1.00", "1.00", "USD"), debtor="NOBODY"), actor=ACTOR, at=AT
            )
        assert Book(conn).count("invoice") == 0


def test_the_same_invoice_twice_is_once_and_other_details_are_a_problem(engine: Engine) -> None:
    with engine.begin() as conn:
        book = Book(conn)
        book.debtor("D1")
        first = add_invoice(conn, _invoice((1, "10.00", "10.00", "USD")), actor=ACTOR, at=AT)
        book.pay("P1", "D1", "2026-02-01", "4.00")
        assert (
            add_invoice(conn, _invoice((1, "10.00", "10.00", "USD")), actor=ACTOR, at=AT) == first
        )
        with pytest.raises(ProblemsFound) as excinfo:
            add_invoice(conn, _invoice((1, "12.00", "12.00", "USD")), actor=ACTOR, at=AT)
        assert [str(p) for p in excinfo.value.problems] == [
            "invoice I1: already exists with other details; import it to update it"
        ]
        assert book.open("I1") == ["6.00"] and book.count("instalment") == 1
