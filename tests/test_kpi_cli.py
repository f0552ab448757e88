"""``arrears kpi`` on a small imported workspace, as a user runs it (SQLite and PostgreSQL).

The ledger is tests/test_kpi.py's book, imported from CSV files and posted through the CLI (a
payment that bounces, a credit note, a write-off); the figures expected are that book's, computed
by hand there and in docs/kpi.md: USD DSO 52.5, countback 53.4, BPDSO 22.5, ADD 30.0, CEI 73.3 %,
bad debt 33.3 %, cure rate 25.0 %.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arrears.cli.app import main

DEBTORS = """debtor_id,name,currency,segment
D1,Uno,USD,retail
D2,Dos,USD,retail
D3,Tres,USD,wholesale
"""
INVOICES = """invoice_id,debtor_id,issue_date,due_date,amount,currency
I1,D1,2025-12-01,2025-12-31,100.00,USD
I2,D1,2026-01-15,2026-02-14,200.00,USD
I3,D2,2025-11-15,2025-12-15,300.00,USD
I4,D1,2026-03-01,2026-03-31,150.00,USD
I5,D3,2026-02-10,2026-03-12,250.00,USD
I6,D3,2026-01-10,2026-02-09,80.00,EUR
"""
PAYMENTS = """payment_id,debtor_id,date,amount,currency,invoice_id,allocated_amount
P1,D1,2026-01-20,100.00,USD,I1,100.00
P2,D1,2026-02-20,50.00,USD,I2,50.00
P4,D2,2025-12-20,100.00,USD,I3,100.00
P5,D3,2026-04-02,30.00,EUR,I6,30.00
"""
#: After P2 bounced (the import checks each allocation against the open balance).
LATER_PAYMENTS = """payment_id,debtor_id,date,amount,currency,invoice_id,allocated_amount
P3,D1,2026-03-20,200.00,USD,I2,200.00
"""
PERIOD = ["--from", "2026-01-01", "--to", "2026-03-31"]

EXPECTED_TABLE = """\
│ receivables at start    │  0.00 │ 300.00 │
│ credit sales            │ 80.00 │ 600.00 │
│ collected               │  0.00 │ 300.00 │
│ credited                │  0.00 │  50.00 │
│ written off             │  0.00 │ 200.00 │
│ receivables at end      │ 80.00 │ 350.00 │
│   current               │  0.00 │ 150.00 │
│   past due              │ 80.00 │ 200.00 │
│ DSO, days               │  90.0 │   52.5 │
│ countback DSO, days     │  90.0 │   53.4 │
│ best-possible DSO, days │   0.0 │   22.5 │
│ average days delinquent │  90.0 │   30.0 │
│ CEI %                   │   0.0 │   73.3 │
│ bad-debt ratio %        │   0.0 │   33.3 │
│ cure rate %             │   0.0 │   25.0 │
"""


def build(tmp_path: Path, url: str, *, promises: bool = False) -> Path:
    """The workspace (with ``[rates]``: 1 EUR = 1.10 USD) and its ledger, imported and posted;
    with ``promises``, D1's promise of 150.00 by 03-20 (kept: it paid 200.00 on 03-20) and
    D3's of 200.00 by 03-10 (broken), judged by the daily run of 03-31."""
    root = tmp_path / "ws"
    assert main(["init", str(root), "--database-url", url]) == 0
    config = root / "arrears.toml"
    config.write_text(config.read_text() + "\n[rates]\nUSD = 1\nEUR = 1.10\n")
    for name, text in [
        ("debtors", DEBTORS),
        ("invoices", INVOICES),
        ("payments", PAYMENTS),
        ("later", LATER_PAYMENTS),
    ]:
        (tmp_path / f"{name}.csv").write_text(text, encoding="utf-8")
    for kind, name in [("debtors", "debtors"), ("invoices", "invoices"), ("payments", "payments")]:
        assert run(root, "import", kind, str(tmp_path / f"{name}.csv")) == 0
    assert run(root, "payment", "reverse", "P2", "--on", "2026-02-25", "--reason", "bounced") == 0
    assert run(root, "import", "payments", str(tmp_path / "later.csv")) == 0
    note = ["credit-note", "add", "--debtor", "D3", "--id", "C1", "--on", "2026-03-01"]
    assert run(root, *note, "--amount", "50", "--currency", "USD", "--invoice", "I5") == 0
    assert run(root, "write-off", "I3", "--on", "2026-03-15", "--reason", "insolvent") == 0
    if promises:
        promise = ["promise", "add", "--currency", "USD"]
        assert run(root, *promise, "D1", "150.00", "--due", "2026-03-20", "--on", "2026-03-15") == 0
        assert run(root, *promise, "D3", "200.00", "--due", "2026-03-10", "--on", "2026-03-05") == 0
        assert run(root, "run", "--as-of", "2026-03-31") == 0
    return root


@pytest.fixture
def any_ws(tmp_path: Path, store_url: str, capsys: pytest.CaptureFixture[str]) -> Path:
    """On SQLite and on PostgreSQL."""
    root = build(tmp_path, store_url)
    capsys.readouterr()
    return root


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite workspace for the tests that only read it (imports cost seconds)."""
    tmp = tmp_path_factory.mktemp("kpi")
    return build(tmp, f"sqlite:///{tmp / 'arrears.db'}", promises=True)


@pytest.fixture
def ws(built: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    capsys.readouterr()
    return built


def run(ws: Path, *args: str) -> int:
    return main(["-w", str(ws), *args])


def test_the_table_a_user_reads(any_ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(any_ws, "kpi", *PERIOD) == 0
    out = capsys.readouterr().out
    assert "KPIs of default, 2026-01-01 to 2026-03-31" in out and "(90 days)" in out
    assert EXPECTED_TABLE in out


def test_json_by_segment_and_in_one_currency(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(ws, "kpi", *PERIOD, "--by", "segment", "--format", "json") == 0
    rows = {(r["segment"], r["currency"]): r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {("retail", "USD"), ("wholesale", "EUR"), ("wholesale", "USD")}
    retail, wholesale = rows["retail", "USD"], rows["wholesale", "USD"]
    assert (retail["sales"], retail["closing"], retail["written_off"]) == (
        "350.00",
        "150.00",
        "200.00",
    )
    assert (retail["dso"], retail["cei"], retail["bad_debt_ratio"]) == (38.57, 100.0, 0.5714)
    assert (wholesale["dso"], wholesale["cei"], wholesale["cure_rate"]) == (72.0, 20.0, None)

    assert run(ws, "kpi", *PERIOD, "--in", "usd", "--format", "csv") == 0
    header, row, end = capsys.readouterr().out.split("\n")
    values = dict(zip(header.split(","), row.split(","), strict=True))
    assert (values["currency"], values["sales"], values["closing"]) == ("USD", "688.00", "438.00")
    assert values["dso"] == "57.3"  # 438/688 × 90 = 57.297
    assert end == ""


def test_the_roll_matrix(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(ws, "kpi", *PERIOD, "--roll", "--buckets", "0,30,60,90") == 0
    out = capsys.readouterr().out
    assert "│ current │  550.00 │    18.2 │ 81.8 │       │       │             │" in out
    assert "│ 1-30    │  400.00 │    50.0 │      │  50.0 │       │             │" in out
    assert "│ 61-90   │  200.00 │         │      │       │       │       100.0 │" in out
    assert run(ws, "kpi", *PERIOD, "--roll", "--buckets", "0,30,60,90", "--format", "json") == 0
    moves = [m for m in json.loads(capsys.readouterr().out) if m["currency"] == "USD"]
    assert moves[1] == {
        "currency": "USD",
        "from_bucket": "current",
        "to_bucket": "1-30",
        "count": 2,
        "amount": "450.00",
        "rate": 0.8182,
    }


def test_bad_input_is_reported_at_once(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["kpi", "--from", "2026-13-01", "--to", "soon", "--by", "colour", "--buckets", "x"]
    assert run(ws, *args) == 1
    err = capsys.readouterr().err
    for what in ("--to 'soon'", "--from '2026-13-01'", "--buckets 'x'", "--by 'colour'"):
        assert what in err
    assert run(ws, "kpi", "--from", "2026-04-01", "--to", "2026-03-31") == 1
    assert "--from 2026-04-01 is after --to 2026-03-31" in capsys.readouterr().err
    assert run(ws, "kpi", *PERIOD, "--in", "GBP") == 1
    assert "no rate for GBP" in capsys.readouterr().err
    assert run(ws, "kpi", *PERIOD, "--portfolio", "nope") == 1
    assert "nope" in capsys.readouterr().err


def test_spanish_locale_formats_the_figures(
    ws: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARREARS_LOCALE", "es_CO")
    assert run(ws, "kpi", *PERIOD) == 0
    out = capsys.readouterr().out
    lines = {line.split("│")[1].strip(): line for line in out.splitlines() if "│" in line}
    assert lines["cartera al cierre"].split("│")[2:4] == [" 80,00 ", " 350,00 "]
    assert lines["CEI %"].split("│")[2:4] == ["   0,0 ", "   73,3 "]
    assert "receivables" not in out


def test_promises_judged_in_the_period(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two judged: one kept, one broken; 150.00 paid of 350.00 promised (42.9 %)."""
    assert run(ws, "kpi", *PERIOD) == 0
    out = capsys.readouterr().out
    assert "│ promises judged         │     0 │      2 │" in out
    assert "│   kept %                │   n/a │   50.0 │" in out
    assert "│   kept in part %        │   n/a │    0.0 │" in out
    assert "│   paid of promised %    │   n/a │   42.9 │" in out
    assert run(ws, "kpi", "--from", "2026-04-01", "--to", "2026-04-30", "--format", "json") == 0
    assert {r["currency"]: r["promises_judged"] for r in json.loads(capsys.readouterr().out)} == {
        "EUR": 0,
        "USD": 0,
    }


def test_an_empty_workspace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "empty"
    assert main(["init", str(root)]) == 0
    capsys.readouterr()
    assert run(root, "kpi", "--to", "2026-03-31") == 0
    out = capsys.readouterr().out
    assert "2026-01-01 to 2026-03-31" in out and "nothing to measure" in out  # a quarter
    assert run(root, "kpi", "--roll", "--format", "json") == 0
    assert json.loads(capsys.readouterr().out) == []
