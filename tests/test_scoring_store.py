"""The scoring history read (``read_history``): equal to a row-by-row read of the same tables,
and the same on SQLite and on PostgreSQL.

A generated portfolio is imported twice (portfolios ``default`` and ``other``: the read keeps to
one), then some payments are reversed and some invoices written off through the normal use
cases, so the history holds reversal days and every kind of allocation.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sqlalchemy import Engine, select

from arrears.demo.generate import generate
from arrears.domain.allocation import AllocationRule
from arrears.domain.columns import Kind
from arrears.domain.problems import ProblemsFound
from arrears.io.batches import ReadOptions
from arrears.io.importer import import_files
from arrears.scoring.frames import HISTORY_ALLOCATION_SCHEMA, HISTORY_INSTALMENT_SCHEMA, History
from arrears.store.database import connect
from arrears.store.ledger.payments import reverse_payment
from arrears.store.ledger.write_offs import write_off
from arrears.store.portfolios import UnknownPortfolio, ensure_portfolio, portfolio_id
from arrears.store.schema import allocation, instalment
from arrears.store.scoring.history import read_history

END = date(2026, 3, 31)
AT = datetime(2026, 4, 1, tzinfo=UTC)


def row_by_row(engine: Engine, portfolio: str) -> History:
    """The reference: the read as it was, row by row through SQLAlchemy."""
    with engine.connect() as conn:
        pid = portfolio_id(conn, portfolio)
        inst_rows = conn.execute(
            select(
                instalment.c.id,
                instalment.c.invoice_id,
                instalment.c.debtor_id,
                instalment.c.currency,
                instalment.c.issue_date,
                instalment.c.due_date,
                instalment.c.amount_minor,
                instalment.c.disputed,
                instalment.c.disputed_on,
            )
            .where(instalment.c.portfolio_id == pid)
            .order_by(instalment.c.id)
        ).all()
        alloc_rows = conn.execute(
            select(
                allocation.c.instalment_id,
                allocation.c.source_kind,
                allocation.c.amount_minor,
                allocation.c.allocated_on,
                allocation.c.reversed_on,
            )
            .join(instalment, instalment.c.id == allocation.c.instalment_id)
            .where(instalment.c.portfolio_id == pid)
            .order_by(allocation.c.id)
        ).all()
    return History(
        pl.DataFrame([tuple(r) for r in inst_rows], schema=HISTORY_INSTALMENT_SCHEMA, orient="row"),
        pl.DataFrame(
            [tuple(r) for r in alloc_rows], schema=HISTORY_ALLOCATION_SCHEMA, orient="row"
        ),
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A generated portfolio's files, and a copy of them for portfolio ``other``."""
    out = tmp_path_factory.mktemp("generated")
    generate(150, 8, 5, END, out)
    other = out / "other"
    other.mkdir()
    for kind in ("debtors", "invoices", "payments"):
        frame = pl.read_csv(out / f"{kind}.csv", infer_schema=False)
        frame.with_columns(pl.lit("other").alias("portfolio")).write_csv(other / f"{kind}.csv")
    return {"default": out, "other": other}


def load(url: str, files: dict[str, Path]) -> Engine:
    engine = connect(url)
    with engine.begin() as conn:
        for code in files:
            ensure_portfolio(conn, code, name=None, base_currency="USD", actor="test")
    for folder in files.values():
        for kind in ("debtors", "invoices", "payments"):
            report = import_files(
                engine,
                Kind(kind),
                [folder / f"{kind}.csv"],
                ReadOptions(),
                actor="test",
                rule=AllocationRule.OLDEST_DUE_FIRST,
                at=AT,
            )
            assert not report.problems, report.problems[:3]
    payments = pl.read_csv(files["default"] / "payments.csv", infer_schema=False)
    invoices = pl.read_csv(files["default"] / "invoices.csv", infer_schema=False)
    with engine.begin() as conn:
        for external_id in payments["payment_id"].unique().sort()[::9].to_list():
            reverse_payment(conn, external_id, on=END, reason="bounced", actor="test", at=AT)
    written = 0
    for number in invoices["invoice_id"].unique().sort()[::7].to_list():
        try:
            with engine.begin() as conn:
                write_off(conn, number, on=END, reason="small balance", actor="test", at=AT)
            written += 1
        except ProblemsFound:  # nothing open: paid in full
            pass
    assert written > 5
    return engine


def _check(engine: Engine) -> History:
    history = read_history(engine, portfolio="default")
    reference = row_by_row(engine, "default")
    assert_frame_equal(history.instalments, reference.instalments, check_exact=True)
    assert_frame_equal(history.allocations, reference.allocations, check_exact=True)
    kinds = set(history.allocations["source_kind"])
    assert {"payment", "write_off"} <= kinds, kinds
    assert history.allocations["reversed_on"].null_count() < history.allocations.height
    assert history.allocations["reversed_on"].null_count() > 0
    assert history.instalments["disputed"].any()
    other = read_history(engine, portfolio="other")
    assert other.instalments.height == history.instalments.height
    assert set(other.instalments["instalment_id"]).isdisjoint(history.instalments["instalment_id"])
    with pytest.raises(UnknownPortfolio):
        read_history(engine, portfolio="nowhere")
    return history


def test_read_history_equals_the_row_by_row_read(sqlite_url: str, files: dict[str, Path]) -> None:
    engine = load(sqlite_url, files)
    _check(engine)
    engine.dispose()


def test_an_empty_portfolio_reads_empty_frames(sqlite_url: str) -> None:
    engine = connect(sqlite_url)
    with engine.begin() as conn:
        ensure_portfolio(conn, "default", name=None, base_currency="USD", actor="test")
    history = read_history(engine, portfolio="default")
    assert history.instalments.is_empty() and history.allocations.is_empty()
    assert history.instalments.schema == pl.Schema(HISTORY_INSTALMENT_SCHEMA)
    assert history.allocations.schema == pl.Schema(HISTORY_ALLOCATION_SCHEMA)


@pytest.mark.postgres
def test_postgres_reads_the_same_history_as_sqlite(
    sqlite_url: str, pg_url: str, files: dict[str, Path]
) -> None:
    lite = load(sqlite_url, files)
    pg = load(pg_url, files)
    from_sqlite = _check(lite)
    from_pg = _check(pg)
    assert_frame_equal(from_pg.instalments, from_sqlite.instalments, check_exact=True)
    assert_frame_equal(from_pg.allocations, from_sqlite.allocations, check_exact=True)
    lite.dispose()
    pg.dispose()
