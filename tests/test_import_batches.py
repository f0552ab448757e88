"""A record whose rows fall into several batches of the file is still one record.

An invoice is one row per instalment and a payment may be one row per allocation line; when the
reader's batches cut through those rows (adjacent or far apart in the file), the import must give
exactly what it gives when the whole file is one batch: same invoices, instalments, balances,
allocations and counts. Each test imports the same file twice into one store, once per portfolio
(``small``: tiny batches, ``big``: one batch), and compares the two portfolios.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Engine, text

from arrears.domain.columns import Kind
from arrears.io import whole_records
from arrears.io.batches import ReadOptions
from arrears.io.importer import ImportReport, import_files
from arrears.store.portfolios import ensure_portfolio

AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

DEBTORS = """debtor_id,name
D1,Acme
D2,Beta
"""
# A (3 instalments) straddles the first batch boundaries; B's rows are far apart; C is alone
INVOICES = """invoice_id,debtor_id,issue_date,due_date,amount,instalment
A,D1,2026-01-01,2026-02-01,100.00,1
A,D1,2026-01-01,2026-03-01,100.00,2
A,D1,2026-01-01,2026-04-01,50.00,3
B,D2,2026-01-05,2026-02-05,10.00,1
C,D1,2026-01-07,2026-02-07,70.00,1
B,D2,2026-01-05,2026-03-05,20.00,2
B,D2,2026-01-05,2026-04-05,30.00,3
"""
# The same invoices, changed: A loses instalment 3, B gets a 4th far away, C changes amount
CHANGED = """invoice_id,debtor_id,issue_date,due_date,amount,instalment
B,D2,2026-01-05,2026-02-05,10.00,1
A,D1,2026-01-01,2026-02-01,100.00,1
C,D1,2026-01-07,2026-02-07,75.00,1
A,D1,2026-01-01,2026-03-01,100.00,2
B,D2,2026-01-05,2026-03-05,20.00,2
B,D2,2026-01-05,2026-04-05,30.00,3
B,D2,2026-01-05,2026-05-05,40.00,4
"""
# P1 has three allocation lines, two adjacent and one far away; P2 is one line
PAYMENTS = """payment_id,debtor_id,date,amount,invoice_id,instalment,allocated_amount
P1,D1,2026-02-10,150.00,A,1,60.00
P1,D1,2026-02-10,150.00,A,2,40.00
P2,D2,2026-02-11,15.00,B,2,15.00
P1,D1,2026-02-10,150.00,C,1,50.00
"""

SMALL, BIG = "small", "big"


@pytest.fixture
def store(engine: Engine) -> Engine:
    with engine.begin() as conn:
        for code in (SMALL, BIG):
            ensure_portfolio(conn, code, name=None, base_currency="USD", actor="t")
    return engine


def write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def run(
    engine: Engine, kind: Kind, path: Path, portfolio: str, batch_rows: int, **kw: Any
) -> ImportReport:
    options = ReadOptions(default_portfolio=portfolio, batch_rows=batch_rows)
    return import_files(engine, kind, [path], options, actor="test", at=AT, **kw)


def both(
    engine: Engine, kind: Kind, path: Path, batch_rows: int = 1
) -> tuple[ImportReport, ImportReport]:
    """Import ``path`` in tiny batches into ``small`` and as one batch into ``big``."""
    return run(engine, kind, path, SMALL, batch_rows), run(engine, kind, path, BIG, 1_000_000)


def ledger(engine: Engine, code: str) -> dict[str, list[tuple[Any, ...]]]:
    """What one portfolio holds, by external ids (comparable across portfolios)."""
    queries = {
        "invoices": "SELECT v.external_id, v.status, v.amount_minor, v.currency FROM invoice v "
        "JOIN portfolio p ON p.id = v.portfolio_id WHERE p.code = :p ORDER BY 1",
        "instalments": "SELECT v.external_id, i.seq, CAST(i.due_date AS TEXT), i.amount_minor, "
        "i.open_minor FROM instalment i JOIN invoice v ON v.id = i.invoice_id "
        "JOIN portfolio p ON p.id = v.portfolio_id WHERE p.code = :p ORDER BY 1, 2",
        "payments": "SELECT y.external_id, y.amount_minor, y.unallocated_minor FROM payment y "
        "JOIN portfolio p ON p.id = y.portfolio_id WHERE p.code = :p ORDER BY 1",
        "allocations": "SELECT y.external_id, v.external_id, i.seq, a.amount_minor, a.reversed "
        "FROM allocation a JOIN payment y ON y.id = a.source_id AND a.source_kind = 'payment' "
        "JOIN instalment i ON i.id = a.instalment_id JOIN invoice v ON v.id = i.invoice_id "
        "JOIN portfolio p ON p.id = y.portfolio_id WHERE p.code = :p ORDER BY 1, 2, 3, 5",
        "updates": "SELECT a.kind, a.subject_id FROM activity a JOIN portfolio p "
        "ON p.id = a.portfolio_id WHERE p.code = :p AND a.kind LIKE '%.updated' ORDER BY 1, 2",
    }
    with engine.connect() as conn:
        return {
            name: [tuple(r) for r in conn.execute(text(sql), {"p": code}).all()]
            for name, sql in queries.items()
        }


def counts(report: ImportReport) -> dict[str, int]:
    assert report.committed, [str(p) for p in report.problems]
    return report.counts


@pytest.fixture
def debtors(store: Engine, tmp_path: Path) -> Engine:
    path = write(tmp_path, "d.csv", DEBTORS)
    small, big = both(store, Kind.DEBTORS, path)
    assert small.committed and big.committed
    return store


@pytest.mark.parametrize("batch_rows", [1, 2])
def test_invoice_rows_in_several_batches_are_one_invoice(
    debtors: Engine, tmp_path: Path, batch_rows: int
) -> None:
    small, big = both(debtors, Kind.INVOICES, write(tmp_path, "i.csv", INVOICES), batch_rows)
    assert counts(small) == counts(big)
    assert counts(small) == {"rows": 7, "created": 3, "updated": 0, "unchanged": 0, "rejected": 0}
    held = ledger(debtors, SMALL)
    assert held == ledger(debtors, BIG)
    assert [(r[0], r[1]) for r in held["instalments"]] == [
        ("A", 1),
        ("A", 2),
        ("A", 3),
        ("B", 1),
        ("B", 2),
        ("B", 3),
        ("C", 1),
    ]
    assert [r[:3] for r in held["invoices"]] == [
        ("A", "open", 25000),
        ("B", "open", 6000),
        ("C", "open", 7000),
    ]


def test_importing_again_in_small_batches_changes_nothing(debtors: Engine, tmp_path: Path) -> None:
    path = write(tmp_path, "i.csv", INVOICES)
    both(debtors, Kind.INVOICES, path)
    before = ledger(debtors, SMALL)
    for batch_rows in (1, 2, 3):
        again = run(debtors, Kind.INVOICES, path, SMALL, batch_rows)
        assert counts(again) == {
            "rows": 7,
            "created": 0,
            "updated": 0,
            "unchanged": 3,
            "rejected": 0,
        }
        assert ledger(debtors, SMALL) == before


def test_a_changed_file_in_small_batches_changes_what_one_batch_changes(
    debtors: Engine, tmp_path: Path
) -> None:
    both(debtors, Kind.INVOICES, write(tmp_path, "i.csv", INVOICES))
    small, big = both(debtors, Kind.INVOICES, write(tmp_path, "c.csv", CHANGED), 2)
    assert counts(small) == counts(big)
    assert counts(small) == {"rows": 7, "created": 0, "updated": 3, "unchanged": 0, "rejected": 0}
    held = ledger(debtors, SMALL)
    assert held == ledger(debtors, BIG)
    assert [(r[0], r[1], r[3]) for r in held["instalments"]] == [
        ("A", 1, 10000),
        ("A", 2, 10000),
        ("B", 1, 1000),
        ("B", 2, 2000),
        ("B", 3, 3000),
        ("B", 4, 4000),
        ("C", 1, 7500),
    ]
    assert held["updates"] == [("invoice.updated", v) for v in ("A", "B", "C")]


@pytest.mark.parametrize("batch_rows", [1, 2])
def test_payment_lines_in_several_batches_are_one_payment(
    debtors: Engine, tmp_path: Path, batch_rows: int
) -> None:
    both(debtors, Kind.INVOICES, write(tmp_path, "i.csv", INVOICES))
    path = write(tmp_path, "p.csv", PAYMENTS)
    small, big = both(debtors, Kind.PAYMENTS, path, batch_rows)
    assert counts(small) == counts(big)
    assert counts(small) == {"rows": 4, "created": 2, "updated": 0, "unchanged": 0, "rejected": 0}
    held = ledger(debtors, SMALL)
    assert held == ledger(debtors, BIG)
    assert held["allocations"] == [
        ("P1", "A", 1, 6000, False),
        ("P1", "A", 2, 4000, False),
        ("P1", "C", 1, 5000, False),
        ("P2", "B", 2, 1500, False),
    ]
    assert held["payments"] == [("P1", 15000, 0), ("P2", 1500, 0)]
    again = run(debtors, Kind.PAYMENTS, path, SMALL, batch_rows)
    assert counts(again) == {"rows": 4, "created": 0, "updated": 0, "unchanged": 2, "rejected": 0}
    assert ledger(debtors, SMALL) == held


def test_a_repeated_instalment_in_a_later_batch_is_still_a_duplicate(
    debtors: Engine, tmp_path: Path
) -> None:
    body = INVOICES + "A,D1,2026-01-01,2026-05-01,10.00,2\n"
    path = write(tmp_path, "dup.csv", body)
    report = run(debtors, Kind.INVOICES, path, SMALL, 2)
    assert not report.committed
    assert [str(p) for p in report.problems] == [
        f"{path}:9:instalment: duplicate invoice 'A' instalment 2: already on row 3 "
        "(one row per instalment)"
    ]
    assert ledger(debtors, SMALL)["invoices"] == []


def test_rejects_of_a_record_from_earlier_batches_keep_every_row(
    debtors: Engine, tmp_path: Path
) -> None:
    body = INVOICES + "X,D9,2026-01-01,2026-02-01,10.00,1\nC,D1,2026-01-07,2026-03-07,1.00,2\n"
    body += "X,D9,2026-01-01,2026-03-01,10.00,2\n"
    path = write(tmp_path, "bad.csv", body)
    outcome = {}
    for code, batch_rows in ((SMALL, 1), (BIG, 1_000)):
        rejects = tmp_path / f"rejects-{code}.csv"
        report = run(
            debtors, Kind.INVOICES, path, code, batch_rows, skip_invalid=True, rejects=rejects
        )
        with rejects.open(encoding="utf-8") as handle:
            rows = sorted((r["row"], r["invoice_id"], r["reason"]) for r in csv.DictReader(handle))
        outcome[code] = (counts(report), rows)
    assert outcome[SMALL] == outcome[BIG]
    assert outcome[SMALL][1] == [
        ("11", "X", "debtor_id: unknown debtor 'D9': import it first"),
        ("9", "X", "debtor_id: unknown debtor 'D9': import it first"),
    ]
    assert ledger(debtors, SMALL) == ledger(debtors, BIG)


def test_rows_still_held_at_the_end_of_the_file_are_loaded(
    debtors: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted = whole_records.multi_row_counts

    def too_many(path: Path, kind: Kind, options: ReadOptions) -> pl.DataFrame | None:
        totals = counted(path, kind, options)
        return None if totals is None else totals.with_columns(pl.col("total") + 1)

    monkeypatch.setattr(whole_records, "multi_row_counts", too_many)
    small, big = both(debtors, Kind.INVOICES, write(tmp_path, "i.csv", INVOICES), 2)
    assert counts(small) == counts(big)
    assert ledger(debtors, SMALL) == ledger(debtors, BIG)
