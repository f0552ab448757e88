"""End to end through the store: payments loaded in one batch are allocated as the reference
rule allocates them payment by payment in date order, and the balances reconcile."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from arrears.domain.allocation import OpenInstalment, allocate
from arrears.domain.columns import Kind
from arrears.store.database import connect, upgrade
from arrears.store.loading.entry import LoadContext, load_frame, open_batch
from arrears.store.portfolios import ensure_portfolio

AT = datetime(2026, 11, 23, tzinfo=UTC)
DAY0 = date(2026, 1, 1)
_example = itertools.count()


@pytest.fixture(scope="module")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    url = f"sqlite:///{tmp_path_factory.mktemp('alloc') / 'a.db'}"
    upgrade(url)
    engine = connect(url)
    with engine.begin() as conn:
        ensure_portfolio(conn, "default", name=None, base_currency="USD", actor="t")
    return engine


def _load(engine: Engine, kind: Kind, rows: list[dict[str, object]]) -> None:
    frame = pl.DataFrame(
        [{**r, "source": "f.csv", "row": n + 2} for n, r in enumerate(rows)],
        infer_schema_length=None,
    )
    with engine.begin() as conn:
        batch = open_batch(conn, kind, file_name="f", file_sha256="x", actor="t", at=AT)
        assert load_frame(conn, kind, frame, LoadContext(batch, "t", AT)).problems == []


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.integers(0, 40), st.integers(1, 3), st.integers(1, 900)),
        min_size=1,
        max_size=6,
    ),
    st.lists(st.tuples(st.integers(0, 60), st.integers(1, 1500)), min_size=1, max_size=5),
)
def test_store_allocations_match_the_reference(sqlite_engine: Engine, invoices, payments) -> None:  # type: ignore[no-untyped-def]
    n = next(_example)
    debtor = f"D{n}"
    _load(sqlite_engine, Kind.DEBTORS, [{"debtor_id": debtor, "name": debtor}])
    inv_rows = [
        {
            "invoice_id": f"{n}-I{k}",
            "debtor_id": debtor,
            "issue_date": DAY0,
            "due_date": DAY0 + timedelta(days=due),
            "amount_minor": amount,
            "instalment": seq,
        }
        for k, (due, seq, amount) in enumerate(invoices)
    ]
    _load(sqlite_engine, Kind.INVOICES, inv_rows)
    pay_rows = [
        {
            "payment_id": f"{n}-P{k}",
            "debtor_id": debtor,
            "date": DAY0 + timedelta(days=day),
            "amount_minor": amount,
        }
        for k, (day, amount) in enumerate(payments)
    ]
    _load(sqlite_engine, Kind.PAYMENTS, pay_rows)

    open_by = {(r["invoice_id"], r["instalment"]): r["amount_minor"] for r in inv_rows}
    expected = set()
    for p in sorted(pay_rows, key=lambda p: (p["date"], p["payment_id"])):
        lines = [
            OpenInstalment(r["invoice_id"], r["instalment"], r["due_date"], DAY0, open_by[key])
            for r in inv_rows
            if open_by[key := (r["invoice_id"], r["instalment"])] > 0
        ]
        for a in allocate(int(p["amount_minor"]), lines).applied:  # type: ignore[call-overload]
            open_by[(a.invoice, a.seq)] -= a.amount_minor
            expected.add((p["payment_id"], a.invoice, a.seq, a.amount_minor))
    with sqlite_engine.connect() as conn:
        got = {
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT p.external_id, v.external_id, i.seq, a.amount_minor FROM allocation a "
                    "JOIN payment p ON p.id = a.source_id "
                    "JOIN instalment i ON i.id = a.instalment_id "
                    "JOIN invoice v ON v.id = i.invoice_id WHERE v.external_id LIKE :prefix"
                ),
                {"prefix": f"{n}-%"},
            )
        }
        stored_open = {
            (r[0], r[1]): r[2]
            for r in conn.execute(
                text(
                    "SELECT v.external_id, i.seq, i.open_minor FROM instalment i "
                    "JOIN invoice v ON v.id = i.invoice_id WHERE v.external_id LIKE :prefix"
                ),
                {"prefix": f"{n}-%"},
            )
        }
    assert got == expected
    assert stored_open == open_by
