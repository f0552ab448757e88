"""Credit notes, write-offs, reversals and applying credit, each a small ledger with the balances
expected beside it, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from arrears.domain.allocation import Applied
from arrears.domain.problems import ProblemsFound
from arrears.store import schema
from arrears.store.ledger.cases import reconcile
from test_ledger_support import Book


def test_a_credit_note_against_an_invoice(engine: Engine) -> None:
    with engine.begin() as conn:
        book = Book(conn)
        book.debtor("D1")
        book.invoice("I1", "D1", ("2026-01-31", "100.00"))
        book.invoice("I2", "D1", ("2026-02-28", "80.00"))
        note = book.credit_note("C1", "D1", "2026-02-01", "30.00", invoice="I2")
        assert note.applied == (Applied("I2", 1, 3000),)
        assert book.open("I1") == ["100.00"] and book.open("I2") == ["50.00"]
        book.credit_note("C2", "D1", "2026-02-02", "60.00", invoice="I2")
        assert book.open("I2") == ["0.00"] and book.status("I2") == "paid"
        assert book.credit("D1") == {"USD": "10.00"}
        assert reconcile(conn) == []


def test_a_credit_note_without_an_invoice_is_applied_like_a_payment(engine: Engine) -> None:
    with engine.begin() as conn:
        book = Book(conn)
        book.debtor("D1")
        book.invoice("I1", "D1", ("2026-02-28", "100.00"))
        book.invoice("I2", "D1", ("2026-01-31", "20.00"))
        book.credit_note("C1", "D1", "2026-03-01", "50.00")
        assert book.open("I2") == ["0.00"] and book.open("I1") == ["70.00"]


def test_write_off_part_then_all(engine: Engine) -> None:
    with engine.begin() as conn:
        book = Book(conn)
        book.debtor("D1")
        book.invoice("I1", "D1", ("2026-01-31", "60.00"), ("2026-02-28", "40.00"))
        book.pay("P1", "D1", "2026-02-01", "50.00")
        book.write_off("I1", "2026-06-30", "20.00", reason="settlement discount")
        assert book.open("I1") == ["0.00", "30.00"] and book.status("I1") == "open"
        book.write_off("I1", "2026-12-31")
        assert book.open("I1") == ["0.00", "0.00"] and book.status("I1") == "written_off"
        with pytest.raises(ProblemsFound, match="1 problem"):
            book.write_off("I1", "2027-01-31")
        amounts = conn.execute(
            select(schema.write_off.c.amount_minor).order_by(schema.write_off.c.id)
        ).scalars()
        assert list(amounts) == [2000, 3000]
        assert reconcile(conn) == []


def test_a_paid_invoice_has_nothing_to_write_off(engine: Engine) -> None:
    with engine.begin() as conn:
        book = Book(conn)
        book.debtor("D1")
        book.invoice("I1", "D1", ("2026-01-31", "10.00"))
        book.pay("P1", "D1", "2026-02-01", "10.00")
        with pytest.raises(ProblemsFound) as excinfo:
            book.write_off("I1", "2026-03-01")
        assert [str(p) for p in excinfo.value.problems] == [
            "write-off of invoice I1: invoice I1 has nothing open to write off"
        ]


def test_a_bounced_cheque_reopens_a_paid_invoice(engine: Engine) -> None:
    with engine.begin() as conn:
        book = Book(conn)
        book.debtor("D1")
        book.invoice("I1", "D1", ("2026-01-31", "60.00"), ("2026-02-28", "40.00"))
        book.pay("P1", "D1", "2026-02-01", "25.00")
        book.pay("P2", "D1", "2026-02-15", "75.00")
        assert book.open("I1") == ["0.00", "0.00"] and book.status("I1") == "paid"
        reversal = book.reverse("P2", "2026-02-20", reason="cheque bounced")
        assert reversal.applied == (Applied("I1", 1, 3500), Applied("I1", 2, 4000))
        assert book.open("I1") == ["35.00", "40.00"] and book.status("I1") == "open"
        assert book.credit("D1") == {}  # a reversed payment is no credit
        row = conn.execute(
            select(schema.payment.c.status, schema.payment.c.reversed_on).where(
                schema.payment.c.external_id == "P2"
            )
        ).one()
        assert (row.status, str(row.reversed_on)) == ("reversed", "2026-02-20")
        assert reconcile(conn) == []


def test_reversing_twice(engine: Engine) -> None:
    with engine.begin() as conn:
        book = Book(conn)
        book.debtor("D1")
        book.invoice("I1", "D1", ("2026-01-31", "100.00"))
        book.pay("P1", "D1", "2026-02-01", "100.00")
        assert book.reverse("P1", "2026-02-10").changed
        assert not book.reverse("P1", "2026-02-10").changed  # the same request: nothing changes
        with pytest.raises(ProblemsFound) as excinfo:
            book.reverse("P1", "2026-02-11", reason="chargeback")
        assert [str(p) for p in excinfo.value.problems] == [
            "payment P1: already reversed on 2026-02-10"
        ]
        assert book.open("I1") == ["100.00"]
        assert book.activity_kinds().count("payment.reversed") == 1


def test_reversing_a_payment_on_a_written_off_invoice_reopens_it(engine: Engine) -> None:
    with engine.begin() as conn:
        book = Book(conn)
        book.debtor("D1")
        book.invoice("I1", "D1", ("2026-01-31", "100.00"))
        book.pay("P1", "D1", "2026-02-01", "60.00")
        book.write_off("I1", "2026-03-01")
        assert book.status("I1") == "written_off"
        book.reverse("P1", "2026-03-05", reason="chargeback")
        assert book.open("I1") == ["60.00"] and book.status("I1") == "open"
        assert reconcile(conn) == []


def test_credit_is_applied_to_invoices_that_open_later(engine: Engine) -> None:
    with engine.begin() as conn:
        book = Book(conn)
        book.debtor("D1")
        book.pay("P1", "D1", "2026-01-05", "30.00")
        book.credit_note("C1", "D1", "2026-01-06", "15.00")
        book.pay("P2", "D1", "2026-01-07", "9.00", currency="EUR")
        assert book.credit("D1") == {"EUR": "9.00", "USD": "45.00"}
        book.invoice("I1", "D1", ("2026-02-28", "40.00"))
        postings = book.apply_credit("D1", "2026-02-01")
        assert [(p.document, p.applied) for p in postings] == [
            ("P1", (Applied("I1", 1, 3000),)),
            ("C1", (Applied("I1", 1, 1000),)),
        ]
        assert book.open("I1") == ["0.00"] and book.status("I1") == "paid"
        assert book.credit("D1") == {"EUR": "9.00", "USD": "5.00"}
        assert book.apply_credit("D1", "2026-02-01") == ()
        assert book.activity_kinds().count("credit.applied") == 1
        assert reconcile(conn) == []
