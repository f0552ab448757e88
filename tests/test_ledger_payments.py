"""Posting payments: partial, oldest due first, explicit, per invoice, per currency; idempotent;
problems reported with nothing applied; the activity record in the same transaction.

Each test is a small ledger with the balances expected beside it, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, insert
from sqlalchemy.exc import IntegrityError

from arrears.domain.allocation import AllocationRule, Applied
from arrears.domain.money import Money
from arrears.domain.problems import ProblemsFound
from arrears.store import schema
from arrears.store.ledger.cases import reconcile
from test_ledger_support import AT, Book


def test_partial_payments_leave_the_rest_open(engine: Engine) -> None:
    with engine.begin() as conn:
        book = Book(conn)
        book.debtor("D1")
        book.invoice("I1", "D1", ("2026-01-31", "100.00"))
        book.pay("P1", "D1", "2026-02-05", "30.00")
        assert book.open("I1") == ["70.00"]
        book.pay("P2", "D1", "2026-02-10", "50.25")
        assert book.open("I1") == ["19.75"] and book.status("I1") == "open"
        book.pay("P3", "D1", "2026-02-20", "19.75")
        assert book.open("I1") == ["0.00"] and book.status("I1") == "paid"
        assert book.credit("D1") == {}
        assert reconcile(conn) == []


def test_oldest_due_first_across_invoices_and_instalments(engine: Engine) -> None:
    with engine.begin() as conn:
        book = Book(conn)
        book.debtor("D1")
        #                       instalment 1           instalment 2
        book.invoice("I1", "D1", ("2026-03-31", "60.00"), ("2026-04-30", "40.00"))
        book.invoice("I2", "D1", ("2026-03-15", "50.00"))
        posted = book.pay("P1", "D1", "2026-04-01", "80.00")
        assert posted.applied == (Applied("I2", 1, 5000), Applied("I1", 1, 3000))
        assert book.open("I2") == ["0.00"] and book.status("I2") == "paid"
        assert book.open("I1") == ["30.00", "40.00"]
        book.pay("P2", "D1", "2026-05-01", "45.00")
        assert book.open("I1") == ["0.00", "25.00"]


def test_newest_due_first_and_no_rule(engine: Engine) -> None:
    with engine.begin() as conn:
        book = Book(conn)
        book.debtor("D1")
        book.invoice("I1", "D1", ("2026-03-31", "60.00"), ("2026-04-30", "40.00"))
        book.pay("P1", "D1", "2026-04-01", "50.00", rule=AllocationRule.NEWEST_DUE_FIRST)
        assert book.open("I1") == ["50.00", "0.00"]
        book.pay("P2", "D1", "2026-04-02", "10.00", rule=AllocationRule.NONE)
        assert book.open("I1") == ["50.00", "0.00"] and book.credit("D1") == {"USD": "10.00"}


def test_explicit_allocations_first_then_the_rule(engine: Engine) -> None:
    with engine.begin() as conn:
        book = Book(conn)
        book.debtor("D1")
        book.invoice("I1", "D1", ("2026-01-31", "100.00"))
        book.invoice("I2", "D1", ("2026-02-28", "100.00"), ("2026-03-31", "100.00"))
        posted = book.pay("P1", "D1", "2026-04-01", "150.00", to={("I2", 2): "80.00"})
        assert posted.applied == (Applied("I2", 2, 8000), Applied("I1", 1, 7000))
        assert book.open("I1") == ["30.00"]
        assert book.open("I2") == ["100.00", "20.00"]


def test_a_payment_for_one_invoice_keeps_the_rest_as_credit(engine: Engine) -> None:
    with engine.begin() as conn:
        book = Book(conn)
        book.debtor("D1")
        book.invoice("I1", "D1", ("2026-01-31", "100.00"))
        book.invoice("I2", "D1", ("2026-02-28", "50.00"))
        posted = book.pay("P1", "D1", "2026-03-01", "70.00", invoice="I2")
        assert book.open("I1") == ["100.00"] and book.open("I2") == ["0.00"]
        assert posted.unallocated == Money.of("20.00", "USD")
        assert book.credit("D1") == {"USD": "20.00"}


def test_a_usd_payment_never_touches_eur_invoices(engine: Engine) -> None:
    with engine.begin() as conn:
        book = Book(conn)
        book.debtor("D1", currency="EUR")
        book.invoice("E1", "D1", ("2026-01-31", "100.00"), currency="EUR")
        book.invoice("U1", "D1", ("2026-02-28", "40.00"))
        book.pay("P1", "D1", "2026-03-01", "100.00", currency="USD")
        assert book.open("E1") == ["100.00"]
        assert book.open("U1") == ["0.00"]
        assert book.credit("D1") == {"USD": "60.00"}
        book.pay("P2", "D1", "2026-03-01", "10.00", currency="EUR")
        assert book.open("E1") == ["90.00"]
        assert reconcile(conn) == []


def test_jpy_has_no_minor_digits(engine: Engine) -> None:
    with engine.begin() as conn:
        book = Book(conn)
        book.debtor("D1", currency="JPY")
        book.invoice("J1", "D1", ("2026-01-31", "10000"), currency="JPY")
        book.pay("P1", "D1", "2026-02-01", "2500", currency="JPY")
        assert book.open("J1") == ["7500"]


def _ledger_with_everything(book: Book) -> None:
    book.debtor("D1")
    book.invoice("I1", "D1", ("2026-01-31", "100.00"), ("2026-02-28", "100.00"))
    book.invoice("I2", "D1", ("2026-01-15", "30.00"))
    book.invoice("I3", "D1", ("2026-06-30", "10.00"))
    book.pay("P1", "D1", "2026-02-01", "50.00")
    book.pay("P2", "D1", "2026-02-02", "500.00", to={("I1", 2): "10.00"})
    book.credit_note("C1", "D1", "2026-02-03", "5.00", invoice="I1")
    book.reverse("P2", "2026-02-10")
    book.write_off("I3", "2026-02-11")
    book.write_off("I1", "2026-02-11", "1.00")
    book.apply_credit("D1", "2026-02-12")


def test_each_use_case_twice_changes_nothing_the_second_time(engine: Engine) -> None:
    tables = ("debtor", "invoice", "instalment", "payment", "credit_note", "write_off")
    with engine.begin() as conn:
        book = Book(conn)
        _ledger_with_everything(book)
        before = (
            [book.count(t) for t in (*tables, "allocation", "activity")],
            [book.open(i) for i in ("I1", "I2", "I3")],
            [book.status(i) for i in ("I1", "I2", "I3")],
            book.credit("D1"),
        )
        assert before[1] == [["74.00", "100.00"], ["0.00"], ["0.00"]]
        assert before[2] == ["open", "paid", "written_off"]
        _ledger_with_everything(book)
        after = (
            [book.count(t) for t in (*tables, "allocation", "activity")],
            [book.open(i) for i in ("I1", "I2", "I3")],
            [book.status(i) for i in ("I1", "I2", "I3")],
            book.credit("D1"),
        )
        assert after == before
        assert reconcile(conn) == []


def _problems(excinfo: pytest.ExceptionInfo[ProblemsFound]) -> list[str]:
    return [str(p) for p in excinfo.value.problems]


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (
            lambda b: b.pay("P9", "NOBODY", "2026-02-01", "10.00"),
            "payment P9: unknown debtor 'NOBODY'",
        ),
        (
            lambda b: b.pay("P9", "D1", "2026-02-01", "0.00"),
            "payment P9: amount must be positive, not 0.00",
        ),
        (
            lambda b: b.pay("P9", "D1", "2026-02-01", "-5.00"),
            "payment P9: amount must be positive, not -5.00",
        ),
        (
            lambda b: b.pay("P9", "D1", "2026-02-01", "10.00", invoice="NOPE"),
            "payment P9: unknown invoice 'NOPE'",
        ),
        (
            lambda b: b.pay("P9", "D1", "2026-02-01", "10.00", "EUR", invoice="I1"),
            "payment P9: invoice I1 is in USD, not EUR: no conversion",
        ),
        (
            lambda b: b.pay("P9", "D1", "2026-02-01", "10.00", to={("I1", 1): "20.00"}),
            "payment P9: allocations of 20.00 USD exceed the amount 10.00 USD",
        ),
        (
            lambda b: b.pay("P9", "D1", "2026-02-01", "500.00", to={("I1", 1): "150.00"}),
            "payment P9: allocation of 150.00 USD to I1/1 exceeds its open balance 90.00 USD",
        ),
        (
            lambda b: b.pay("P1", "D1", "2026-02-01", "99.00"),
            "payment P1: already exists with other details",
        ),
        (lambda b: b.reverse("NOPE", "2026-02-01"), "payment NOPE: unknown payment 'NOPE'"),
        (
            lambda b: b.reverse("P1", "2025-12-31"),
            "payment P1: cannot be reversed on 2025-12-31, before it was received (2026-01-15)",
        ),
        (
            lambda b: b.credit_note("C9", "D1", "2026-02-01", "5.00", "EUR", invoice="I1"),
            "credit note C9: invoice I1 is in USD, not EUR: no conversion",
        ),
        (
            lambda b: b.write_off("I1", "2026-02-01", "500.00"),
            "write-off of invoice I1: 500.00 USD exceeds the open balance 90.00 USD",
        ),
        (
            lambda b: b.write_off("I1", "2026-02-01", "5.00", currency="EUR"),
            "write-off of invoice I1: amount in EUR, invoice in USD: no conversion",
        ),
        (
            lambda b: b.write_off("NOPE", "2026-02-01"),
            "write-off of invoice NOPE: unknown invoice 'NOPE'",
        ),
    ],
)
def test_problems_are_reported_and_nothing_is_applied(
    engine: Engine, request_: object, expected: str
) -> None:
    with engine.begin() as conn:
        book = Book(conn)
        book.debtor("D1")
        book.invoice("I1", "D1", ("2026-01-31", "100.00"))
        book.pay("P1", "D1", "2026-01-15", "10.00")
    tables = ("payment", "credit_note", "write_off", "allocation", "activity")
    with engine.begin() as conn:
        book = Book(conn)
        before = [book.count(t) for t in tables], book.open("I1"), book.status("I1")
        with pytest.raises(ProblemsFound) as excinfo:
            request_(book)  # type: ignore[operator]
        assert _problems(excinfo) == [expected]
        assert ([book.count(t) for t in tables], book.open("I1"), book.status("I1")) == before


def test_all_problems_of_a_request_at_once(engine: Engine) -> None:
    with engine.begin() as conn:
        book = Book(conn)
        book.debtor("D1")
        book.invoice("I1", "D1", ("2026-01-31", "100.00"))
        with pytest.raises(ProblemsFound) as excinfo:
            book.pay(
                "P1", "D1", "2026-02-01", "10.00", to={("NOPE", 1): "1.00", ("I1", 1): "200.00"}
            )
        assert _problems(excinfo) == [
            "payment P1: unknown invoice 'NOPE'",
            "payment P1: allocation of 200.00 USD to I1/1 exceeds its open balance 100.00 USD",
            "payment P1: allocations of 201.00 USD exceed the amount 10.00 USD",
        ]
        with pytest.raises(ProblemsFound) as excinfo:
            book.reverse("P0", "2026-02-01", reason=" ")
        assert _problems(excinfo) == ["payment P0: unknown payment 'P0'"]


def test_the_change_and_its_activity_commit_or_roll_back_together(engine: Engine) -> None:
    with engine.begin() as conn:
        book = Book(conn)
        book.debtor("D1")
        book.invoice("I1", "D1", ("2026-01-31", "100.00"))
    # A failure after the change (here: in the caller) rolls back both.
    with pytest.raises(RuntimeError), engine.begin() as conn:
        Book(conn).pay("P1", "D1", "2026-02-01", "40.00")
        raise RuntimeError("the caller fails after the use case")
    # A failure writing the activity record (its key already taken) rolls back the change.
    with engine.begin() as conn:
        conn.execute(
            insert(schema.activity).values(
                occurred_at=AT,
                kind="test",
                actor="t",
                subject_kind="x",
                subject_id="x",
                payload={},
                idempotency_key="payment.posted:default:P1",
            )
        )
    with pytest.raises(IntegrityError), engine.begin() as conn:
        Book(conn).pay("P1", "D1", "2026-02-01", "40.00")
    with engine.begin() as conn:
        book = Book(conn)
        assert book.count("payment") == 0 and book.count("allocation") == 0
        assert book.open("I1") == ["100.00"]
        assert book.activity_kinds().count("payment.posted") == 0
