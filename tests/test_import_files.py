"""Importing files: atomic by default, --skip-invalid with rejects, idempotent, one transaction."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from arrears.domain.columns import Kind
from arrears.io.batches import ReadOptions
from arrears.io.importer import import_files
from arrears.store.portfolios import ensure_portfolio

AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

DEBTORS = """debtor_id,name,email,phone,country
D1,Acme,ap@acme.test,+12125550100,US
D2,Beta,,,CO
"""
INVOICES = """invoice_id,debtor_id,issue_date,due_date,amount
A,D1,2026-01-01,2026-02-01,100.00
B,D2,2026-01-01,2026-02-01,50.00
C,D9,2026-01-01,2026-02-01,50.00
"""
PAYMENTS = """payment_id,debtor_id,date,amount
P1,D1,2026-02-10,60.00
P2,D2,2026-02-11,80.00
"""


@pytest.fixture
def store(engine: Engine) -> Engine:
    with engine.begin() as conn:
        ensure_portfolio(conn, "default", name=None, base_currency="USD", actor="t")
    return engine


def write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def run(engine: Engine, kind: Kind, path: Path, **kw):  # type: ignore[no-untyped-def]
    return import_files(engine, kind, [path], ReadOptions(), actor="test", at=AT, **kw)


def count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_a_file_with_a_problem_imports_nothing(store: Engine, tmp_path: Path) -> None:
    assert run(store, Kind.DEBTORS, write(tmp_path, "d.csv", DEBTORS)).committed
    path = write(tmp_path, "i.csv", INVOICES)
    report = run(store, Kind.INVOICES, path)
    assert not report.committed
    assert [str(p) for p in report.problems] == [
        f"{path}:4:debtor_id: unknown debtor 'D9': import it first"
    ]
    assert count(store, "invoice") == 0
    assert count(store, "import_batch") == 1  # only the debtors' batch


def test_skip_invalid_imports_the_rest_and_writes_rejects(store: Engine, tmp_path: Path) -> None:
    run(store, Kind.DEBTORS, write(tmp_path, "d.csv", DEBTORS))
    rejects = tmp_path / "rejects.csv"
    report = run(
        store, Kind.INVOICES, write(tmp_path, "i.csv", INVOICES), skip_invalid=True, rejects=rejects
    )
    assert report.committed
    assert report.counts == {"rows": 3, "created": 2, "updated": 0, "unchanged": 0, "rejected": 1}
    assert count(store, "invoice") == 2
    with rejects.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["invoice_id"], r["reason"]) for r in rows] == [
        ("C", "debtor_id: unknown debtor 'D9': import it first")
    ]


def test_importing_the_same_files_again_changes_nothing(store: Engine, tmp_path: Path) -> None:
    files = {
        Kind.DEBTORS: write(tmp_path, "d.csv", DEBTORS),
        Kind.INVOICES: write(tmp_path, "i.csv", INVOICES.replace("C,D9", "C,D2")),
        Kind.PAYMENTS: write(tmp_path, "p.csv", PAYMENTS),
    }
    for kind, path in files.items():
        assert run(store, kind, path).problems == []
    with store.connect() as conn:
        before = conn.execute(text("SELECT id, open_minor FROM instalment ORDER BY id")).all()
    assert [r[1] for r in before] == [4_000, 0, 2_000]
    for kind, path in files.items():
        again = run(store, kind, path)
        assert (again.created, again.updated, again.unchanged) == (0, 0, again.rows)
    with store.connect() as conn:
        assert (
            conn.execute(text("SELECT id, open_minor FROM instalment ORDER BY id")).all() == before
        )
        applied = conn.execute(
            text("SELECT payload FROM activity WHERE kind = 'import.applied' ORDER BY id")
        ).all()
    assert len(applied) == 6
    assert count(store, "allocation") == 3


def test_file_level_problems_are_reported_not_raised(store: Engine, tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", "nombre,pais\nAcme,US\n")
    report = run(store, Kind.DEBTORS, path)
    assert not report.committed
    assert report.problems and all(str(p).startswith(str(path)) for p in report.problems)
    assert count(store, "debtor") == 0


def test_several_files_are_one_transaction(store: Engine, tmp_path: Path) -> None:
    run(store, Kind.DEBTORS, write(tmp_path, "d.csv", DEBTORS))
    good = write(tmp_path, "good.csv", INVOICES.replace("C,D9", "C,D2"))
    bad = write(tmp_path, "bad.csv", INVOICES.replace("A,D1", "X,D1"))
    report = import_files(store, Kind.INVOICES, [good, bad], ReadOptions(), actor="t", at=AT)
    assert not report.committed
    assert [str(p) for p in report.problems] == [
        f"{bad}:4:debtor_id: unknown debtor 'D9': import it first"
    ]
    assert count(store, "invoice") == 0
