"""Aging of the example ledger (``tests/test_snapshot.py``) through the snapshot and the CLI,
on SQLite and PostgreSQL. As of 2026-06-30, by hand from the ledger's table:

    currency  count  current    1-30   31-60   61-90  91-120    120+    total
    EUR           4   200.00  250.00  150.00    0.00   40.00    0.00   640.00
    JPY           2        0       0       0       0    5000     700     5700
    USD           7   100.00   40.00  125.00   60.00    0.00   80.00   405.00

USD: current = INV-1/3; 1-30 = INV-2 (50 - credit 20) + INV-11 (dpd 1); 31-60 = INV-1/2 + INV-5
(paid only after the as-of date); 61-90 = INV-1/1 (100 - 40); 120+ = INV-3 (payment bounced
before the as-of date). INV-4 was paid then (bounced later): nothing open. INV-6 is not issued yet.
EUR 1-30 = INV-8 less a payment dated on the as-of date; INV-9's payment bounced on that date.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine

from arrears.cli.app import main
from arrears.kpi.aging import aging
from arrears.store.cycle.snapshot import read_snapshot
from test_snapshot import AS_OF, write_example_ledger

EXPECTED_TOTALS = [
    # cur   count current  1-30   31-60  61-90  91-120  120+    total
    ("EUR", 4, 200_00, 250_00, 150_00, 0, 40_00, 0, 640_00),
    ("JPY", 2, 0, 0, 0, 0, 5000, 700, 5700),
    ("USD", 7, 100_00, 40_00, 125_00, 60_00, 0, 80_00, 405_00),
]

EXPECTED_CSV = """\
currency,count,current,1-30,31-60,61-90,91-120,120+,total,share %
EUR,4,200.00,250.00,150.00,0.00,40.00,0.00,640.00,100.0
JPY,2,0,0,0,0,5000,700,5700,100.0
USD,7,100.00,40.00,125.00,60.00,0.00,80.00,405.00,100.0
"""


def test_aging_of_the_example_ledger(engine: Engine) -> None:
    write_example_ledger(engine)
    snap = read_snapshot(engine, portfolio="default", as_of=AS_OF)
    report = aging(snap.instalments, snap.as_of)
    assert report.drop("share").rows() == EXPECTED_TOTALS
    by_debtor = aging(snap.instalments, snap.as_of, by="debtor")
    assert by_debtor.select("debtor_external_id", "total", "oldest_days_past_due").rows() == [
        ("B", 640_00, 120),
        ("C", 5700, 121),
        ("A", 405_00, 122),
    ]


@pytest.fixture
def workspace(tmp_path: Path, store_url: str, engine: Engine) -> Path:
    ws = tmp_path / "ws"
    assert main(["init", str(ws), "--database-url", store_url]) == 0
    write_example_ledger(engine)
    return ws


def test_cli_csv(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["-w", str(workspace), "aging", "--as-of", "2026-06-30", "--format", "csv"]) == 0
    assert capsys.readouterr().out == EXPECTED_CSV


def test_cli_json_by_debtor_top_and_currency(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    args = ["-w", str(workspace), "aging", "--as-of", "2026-06-30", "--by", "debtor"]
    assert main([*args, "--currency", "usd", "--top", "1", "--format", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["debtor_external_id"] == "A" and row["total"] == "405.00"
    assert row["61-90"] == "60.00" and row["oldest_days_past_due"] == 122
    assert main([*args, "--buckets", "0,90"]) == 0  # table
    out = capsys.readouterr().out
    assert "91-120" not in out and "90+" in out and "USD" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as-of", "2026-02-30"], "--as-of '2026-02-30' is not a date"),
        (["--buckets", "0,60,30"], "increasing order"),
        (["--buckets", "0,x"], "whole days separated by commas"),
        (["--currency", "ZZZ"], "not an ISO 4217"),
        (["--by", "region"], "choose one of total, debtor, invoice, segment"),
        (["--portfolio", "nope"], "no portfolio 'nope'"),
    ],
)
def test_cli_user_errors_are_one_line(
    workspace: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    capsys.readouterr()
    assert main(["-w", str(workspace), "aging", *args]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
