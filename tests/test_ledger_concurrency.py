"""Two clerks post payments for one debtor at the same time (PostgreSQL): the second waits for
the first to commit and then sees its balances, so nothing is allocated twice."""

from __future__ import annotations

import threading
import time

import pytest

from arrears.domain.allocation import Applied
from arrears.store.database import connect
from arrears.store.ledger.cases import reconcile
from test_ledger_support import Book


@pytest.mark.postgres
def test_the_second_payment_waits_for_the_first(pg_url: str) -> None:
    engine = connect(pg_url)
    with engine.begin() as conn:
        book = Book(conn)
        book.debtor("D1")
        book.invoice("I1", "D1", ("2026-01-31", "100.00"))
    first_posted = threading.Event()
    results: dict[str, object] = {}

    def clerk_one() -> None:
        with engine.begin() as conn:
            results["P1"] = Book(conn).pay("P1", "D1", "2026-02-01", "70.00").applied
            first_posted.set()
            time.sleep(0.5)  # still uncommitted while the second clerk starts

    def clerk_two() -> None:
        first_posted.wait(5)
        with engine.begin() as conn:
            results["P2"] = Book(conn).pay("P2", "D1", "2026-02-01", "50.00").applied

    threads = [threading.Thread(target=clerk_one), threading.Thread(target=clerk_two)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == {"P1": (Applied("I1", 1, 7000),), "P2": (Applied("I1", 1, 3000),)}
    with engine.begin() as conn:
        book = Book(conn)
        assert book.open("I1") == ["0.00"] and book.credit("D1") == {"USD": "20.00"}
        assert reconcile(conn) == []
    engine.dispose()
