"""``reconcile`` finds every way stored balances disagree with the allocations."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, select, update

from arrears.store import schema
from arrears.store.ledger.cases import reconcile
from test_ledger_support import Book


def _ledger(book: Book) -> None:
    book.debtor("D1")
    book.invoice("I1", "D1", ("2026-01-31", "60.00"), ("2026-02-28", "40.00"))
    book.invoice("I2", "D1", ("2026-01-15", "10.00"))
    book.pay("P1", "D1", "2026-02-01", "30.00")
    book.credit_note("C1", "D1", "2026-02-02", "5.00")
    book.write_off("I1", "2026-03-01", "1.00")


def test_a_ledger_kept_by_the_use_cases_reconciles(engine: Engine) -> None:
    with engine.begin() as conn:
        _ledger(Book(conn))
        assert reconcile(conn) == []


def test_tampered_balances_are_each_reported(engine: Engine) -> None:
    with engine.begin() as conn:
        _ledger(Book(conn))
        conn.execute(
            update(schema.instalment)
            .where(schema.instalment.c.seq == 2)
            .values(open_minor=schema.instalment.c.open_minor - 100)
        )
        conn.execute(update(schema.payment).values(unallocated_minor=500))
        conn.execute(update(schema.credit_note).values(unallocated_minor=1))
        conn.execute(
            update(schema.invoice).where(schema.invoice.c.external_id == "I2").values(status="open")
        )
        conn.execute(update(schema.write_off).values(amount_minor=99))
        assert [str(p) for p in reconcile(conn)] == [
            "credit note C1: unallocated 1 (minor units) but amount minus active allocations is 0",
            "invoice I1: instalment 2 open balance 3900 (minor units) but amount minus active "
            "allocations is 4000",
            "invoice I1: the write-off of 2026-03-01 is not exactly and permanently allocated",
            "invoice I2: status open, balances say paid",
            "payment P1: unallocated 500 (minor units) but amount minus active allocations is 0",
        ]


def test_a_reversed_payment_with_live_allocations_is_reported(engine: Engine) -> None:
    with engine.begin() as conn:
        _ledger(Book(conn))
        conn.execute(update(schema.payment).values(status="reversed", reversed_on=None))
        assert [str(p) for p in reconcile(conn)] == [
            "payment P1: reversed but still has active allocations"
        ]


def test_instalments_out_of_step_with_their_invoice_are_reported(engine: Engine) -> None:
    with engine.begin() as conn:
        book = Book(conn)
        _ledger(book)
        book.invoice("I3", "D1", ("2026-01-20", "5.00"))
        invoices = update(schema.invoice)
        conn.execute(invoices.where(schema.invoice.c.external_id == "I1").values(disputed=True))
        conn.execute(
            invoices.where(schema.invoice.c.external_id == "I2").values(
                issue_date=date(2025, 12, 1)
            )
        )
        conn.execute(  # the date of a dispute, on the invoice only
            invoices.where(schema.invoice.c.external_id == "I3").values(
                disputed=True, disputed_on=date(2026, 2, 1)
            )
        )
        conn.execute(
            update(schema.instalment)
            .where(
                schema.instalment.c.invoice_id
                == select(schema.invoice.c.id)
                .where(schema.invoice.c.external_id == "I3")
                .scalar_subquery()
            )
            .values(disputed=True)
        )
        message = "instalments disagree on its issue date or its dispute (flag or date)"
        assert [str(p) for p in reconcile(conn)] == [
            f"invoice I1: {message}",
            f"invoice I2: {message}",
            f"invoice I3: {message}",
        ]
