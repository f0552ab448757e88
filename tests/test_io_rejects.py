"""The rejects file: raw rows with problems, their reasons, appended batch after batch."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from arrears.domain.columns import Kind
from arrears.domain.problems import Problem
from arrears.io.batches import ReadOptions
from arrears.io.reading import read_file
from arrears.io.rejects import write_rejects


def test_rejects_hold_the_raw_rows_and_every_reason(tmp_path: Path) -> None:
    source = tmp_path / "inv.csv"
    source.write_text(
        "invoice_id,debtor_id,issue_date,due_date,amount\n"
        "I1,D1,2026-01-01,2026-02-01,10\n"
        "I2,D1,2026-02-30,2026-02-01,-5\n"
        "I3,D1,2026-01-01;2026-02-01;7\n"
        "I4,,2026-01-01,2026-02-01, 1.234 \n"
        "I1,D1,2026-01-01,2026-02-01,10\n",
        encoding="utf-8",
    )
    out = tmp_path / "rejects.csv"
    written = 0
    for batch in read_file(source, Kind.INVOICES, ReadOptions(batch_rows=2)):
        written += write_rejects(out, batch.raw, batch.problems)
    rejects = pl.read_csv(out, infer_schema=False)
    assert written == 4
    assert rejects.columns == [
        "row",
        "invoice_id",
        "debtor_id",
        "issue_date",
        "due_date",
        "amount",
        "reason",
    ]
    assert rejects.rows() == [
        (
            "3",
            "I2",
            "D1",
            "2026-02-30",
            "2026-02-01",
            "-5",
            "issue_date: '2026-02-30' is not a real date (no such day in the calendar); "
            "amount: '-5' is negative: it must be more than 0",
        ),
        ("4", None, None, None, None, None, rejects["reason"][1]),
        (
            "5",
            "I4",
            "",
            "2026-01-01",
            "2026-02-01",
            " 1.234 ",  # exactly as in the file
            "debtor_id: is empty; debtor_id is required: The debtor's id, as in the debtors file.; "
            "amount: '1.234' has more decimals than USD allows (2): round it",
        ),
        ("6", "I1", "D1", "2026-01-01", "2026-02-01", "10", rejects["reason"][3]),
    ]
    assert rejects["reason"][1].startswith("has 3 fields but the header has 5")
    assert rejects["reason"][3].startswith("invoice_id: duplicate invoice 'I1' instalment 1")


def test_nothing_to_reject_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "rejects.csv"
    raw = pl.DataFrame({"a": ["x"], "row": [2]})
    assert write_rejects(out, raw, [Problem("f.csv", None, None, "file-level")]) == 0
    assert not out.exists()


def test_a_credit_notes_reason_column_is_kept(tmp_path: Path) -> None:
    out = tmp_path / "rejects.csv"
    raw = pl.DataFrame({"credit_note_id": ["C1"], "reason": ["returned goods"], "row": [2]})
    write_rejects(out, raw, [Problem("c.csv", 2, "amount", "missing")])
    rows = pl.read_csv(out, infer_schema=False).rows(named=True)
    assert rows == [
        {
            "row": "2",
            "credit_note_id": "C1",
            "reason": "returned goods",
            "reject_reason": "amount: missing",
        }
    ]
