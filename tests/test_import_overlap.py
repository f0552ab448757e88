"""The invoices import on PostgreSQL writes a batch on a thread while it computes the next one
(``arrears.io.importer._Loads``): still one transaction, all or nothing.

A write that fails on that thread (here the second batch's, after the first batch was written)
must reach the caller and roll back every batch; the batches' writes must happen in file order,
each once, and never while the next batch's references are being resolved.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text

from arrears.domain.columns import Kind
from arrears.io.batches import ReadOptions
from arrears.io.importer import import_files
from arrears.store.loading import invoices as load_invoices
from arrears.store.portfolios import ensure_portfolio

AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DEBTORS = "debtor_id,name\nD1,Acme\nD2,Beta\n"
INVOICES = """invoice_id,debtor_id,issue_date,due_date,amount,instalment
A,D1,2026-01-01,2026-02-01,100.00,1
A,D1,2026-01-01,2026-03-01,100.00,2
B,D2,2026-01-05,2026-02-05,10.00,1
C,D1,2026-01-07,2026-02-07,70.00,1
D,D2,2026-01-08,2026-02-08,30.00,1
"""


def _import(engine: Engine, tmp_path: Path, kind: Kind, body: str, batch_rows: int) -> Any:
    path = tmp_path / f"{kind}.csv"
    path.write_text(body, encoding="utf-8")
    options = ReadOptions(batch_rows=batch_rows)
    return import_files(engine, kind, [path], options, actor="test", at=AT)


@pytest.fixture
def debtors(engine: Engine, tmp_path: Path) -> Engine:
    with engine.begin() as conn:
        ensure_portfolio(conn, "default", name=None, base_currency="USD", actor="t")
    assert _import(engine, tmp_path, Kind.DEBTORS, DEBTORS, 100).committed
    return engine


def _invoices(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM invoice")).scalar_one())


def test_a_failed_write_of_a_later_batch_rolls_back_every_batch(
    debtors: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write = load_invoices.InvoiceLoad.write
    calls: list[str] = []

    def failing(self: load_invoices.InvoiceLoad, conn: Connection) -> Any:
        calls.append(threading.current_thread().name)
        if len(calls) == 2:
            raise RuntimeError("the server went away")
        return write(self, conn)

    monkeypatch.setattr(load_invoices.InvoiceLoad, "write", failing)
    with pytest.raises(RuntimeError, match="went away"):
        _import(debtors, tmp_path, Kind.INVOICES, INVOICES, 2)
    assert len(calls) == 2
    assert _invoices(debtors) == 0


def test_batches_are_written_in_order_once_each_and_not_while_the_next_resolves(
    debtors: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write, resolve = load_invoices.InvoiceLoad.write, load_invoices._resolve
    busy = threading.Lock()
    written: list[list[str]] = []

    def writing(self: load_invoices.InvoiceLoad, conn: Connection) -> Any:
        assert busy.acquire(blocking=False), "two threads on the connection"
        try:
            written.append(sorted(self.rows.get_column("invoice_id").unique().to_list()))
            return write(self, conn)
        finally:
            busy.release()

    def resolving(conn: Connection, rows: Any, ctx: Any) -> Any:
        assert busy.acquire(blocking=False), "two threads on the connection"
        try:
            return resolve(conn, rows, ctx)
        finally:
            busy.release()

    monkeypatch.setattr(load_invoices.InvoiceLoad, "write", writing)
    monkeypatch.setattr(load_invoices, "_resolve", resolving)
    report = _import(debtors, tmp_path, Kind.INVOICES, INVOICES, 2)
    assert report.committed and report.created == 4
    assert written == [["A"], ["B", "C"], ["D"]]
    assert _invoices(debtors) == 4
    again = _import(debtors, tmp_path, Kind.INVOICES, INVOICES, 2)
    assert again.committed and (again.created, again.unchanged) == (0, 4)


_INDEXES = (
    "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
    "WHERE indrelid IN ('invoice'::regclass, 'instalment'::regclass) ORDER BY 1"
)
_CONSTRAINTS = (
    "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
    "WHERE conrelid IN ('invoice'::regclass, 'instalment'::regclass) ORDER BY 1, 2"
)


def _schema(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return [tuple(r) for q in (_INDEXES, _CONSTRAINTS) for r in conn.execute(text(q)).all()]


@pytest.mark.postgres
def test_a_large_first_load_builds_the_same_indexes_at_its_end(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from arrears.io import importer
    from arrears.store.database import connect

    engine = connect(pg_url)
    with engine.begin() as conn:
        ensure_portfolio(conn, "default", name=None, base_currency="USD", actor="t")
    assert _import(engine, tmp_path, Kind.DEBTORS, DEBTORS, 100).committed
    before = _schema(engine)
    built: list[bool] = []
    defer = importer.defer_indexes

    def deferring(conn: Connection) -> Any:
        build = defer(conn)
        built.append(build is not None)
        return build

    monkeypatch.setattr(importer, "DEFER_INDEXES_ROWS", 2)
    monkeypatch.setattr(importer, "defer_indexes", deferring)
    bad = INVOICES + "E,D9,2026-01-09,2026-02-09,5.00,1\n"  # unknown debtor: rolled back
    assert not _import(engine, tmp_path, Kind.INVOICES, bad, 2).committed
    assert built == [True] and _schema(engine) == before and _invoices(engine) == 0
    report = _import(engine, tmp_path, Kind.INVOICES, INVOICES, 2)
    assert report.committed and report.created == 4
    assert built == [True, True] and _schema(engine) == before
    again = _import(engine, tmp_path, Kind.INVOICES, INVOICES, 2)  # not empty: kept
    assert again.committed and again.unchanged == 4 and built == [True, True, False]
    with engine.connect() as conn, pytest.raises(Exception, match="uq_invoice_external_id"):
        conn.execute(
            text(
                "INSERT INTO invoice (portfolio_id, debtor_id, external_id, number, issue_date, "
                "currency, amount_minor, row_hash, created_at, updated_at) SELECT portfolio_id, "
                "debtor_id, external_id, number, issue_date, currency, amount_minor, row_hash, "
                "created_at, updated_at FROM invoice LIMIT 1"
            )
        )
    engine.dispose()
