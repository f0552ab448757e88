"""No total of money wraps a 64-bit integer (SQLite and PostgreSQL, through ``arrears``).

Each amount is within the reader's bound (15 digits before the decimals), but ten thousand of
them for one debtor added up, before the bound on totals, to an aging of minus 84 quadrillion
that ``ledger check`` passed. Now a portfolio's invoices (and its payments, and its credit
notes) total at most 10^17 minor units per currency: an import that would go past it is
refused at the record that crosses it, counting what the store holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arrears.cli.app import main
from arrears.store import totals

LARGEST = "9999999999999.99"  # 999,999,999,999,999 minor units: 100 of them fit, 101 do not
INVOICES = "invoice_id,debtor_id,issue_date,due_date,amount\n"
PAYMENTS = "payment_id,debtor_id,date,amount\n"
MESSAGE = (
    "takes the total of its portfolio in USD above 1,000,000,000,000,000.00 USD, the most "
    "arrears keeps (larger sums would overflow)"
)


@pytest.fixture
def ws(tmp_path: Path, store_url: str, capsys: pytest.CaptureFixture[str]) -> Path:
    root = tmp_path / "ws"
    assert main(["init", str(root), "--database-url", store_url]) == 0
    assert _import(root, "debtors", "debtor_id,name\nD1,Acme\n") == 0
    capsys.readouterr()
    return root


def _import(ws: Path, kind: str, body: str, *args: str) -> int:
    path = ws.parent / f"{kind}.csv"
    path.write_text(body, encoding="utf-8")
    return main(["-w", str(ws), "import", kind, str(path), *args])


def _invoices(first: int, count: int) -> str:
    lines = (f"I{n},D1,2026-01-01,2026-02-01,{LARGEST}\n" for n in range(first, first + count))
    return INVOICES + "".join(lines)


def _aging_total(ws: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    capsys.readouterr()
    assert main(["-w", str(ws), "aging", "--as-of", "2026-03-01", "--format", "json"]) == 0
    return [str(row["total"]) for row in json.loads(capsys.readouterr().out)]


def test_ten_thousand_of_the_largest_invoices_are_refused(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _import(ws, "invoices", _invoices(0, 10_000)) == 1
    err = capsys.readouterr().err
    invoices = ws.parent / "invoices.csv"
    assert f"{invoices}:101:amount: invoice 'I99'" not in err
    assert f"{invoices}:102:amount: invoice 'I100' {MESSAGE}" in err
    assert f"{invoices}:10001:amount: invoice 'I9999' {MESSAGE}" in err
    assert "9900 problem(s): nothing was imported" in err
    assert "Traceback" not in err
    assert _aging_total(ws, capsys) == []
    assert main(["-w", str(ws), "ledger", "check"]) == 0


def test_the_bound_counts_what_the_store_holds(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _import(ws, "invoices", _invoices(0, 60)) == 0
    assert _import(ws, "invoices", _invoices(60, 60)) == 1
    err = capsys.readouterr().err
    assert ":41:amount: invoice 'I99'" not in err
    assert f":42:amount: invoice 'I100' {MESSAGE}" in err
    assert "20 problem(s)" in err
    # the 40 that fit are imported with --skip-invalid; aging adds them up exactly
    assert _import(ws, "invoices", _invoices(60, 60), "--skip-invalid") == 0
    assert _aging_total(ws, capsys) == ["999999999999999.00"]  # 100 of the largest
    # re-importing the same invoices changes nothing and fits
    assert _import(ws, "invoices", _invoices(0, 60)) == 0
    assert main(["-w", str(ws), "ledger", "check"]) == 0


def test_payments_are_bounded_too(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _import(ws, "invoices", INVOICES + "I1,D1,2026-01-01,2026-02-01,100.00\n") == 0
    lines = "".join(f"P{n},D1,2026-02-05,{LARGEST}\n" for n in range(101))
    assert _import(ws, "payments", PAYMENTS + lines) == 1
    err = capsys.readouterr().err
    assert f":102:amount: payment 'P100' {MESSAGE}" in err
    assert "1 problem(s): nothing was imported" in err


def test_ledger_check_reports_a_total_beyond_the_bound(
    ws: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a store filled before the bound existed: its total wraps a 64-bit integer
    monkeypatch.setattr(totals, "MAX_TOTAL_MINOR", 10**20)
    assert _import(ws, "invoices", _invoices(0, 10_000)) == 0
    monkeypatch.undo()
    capsys.readouterr()
    assert main(["-w", str(ws), "ledger", "check"]) == 1
    err = capsys.readouterr().err
    assert (
        "invoices in USD: total 99,999,999,999,999,900.00 USD, above "
        "1,000,000,000,000,000.00 USD, the most arrears keeps per portfolio and currency"
    ) in err
    # one more invoice is refused, the store's total read exactly
    assert _import(ws, "invoices", _invoices(10_000, 1)) == 1
    assert f":2:amount: invoice 'I10000' {MESSAGE}" in capsys.readouterr().err


def test_a_payment_posted_by_hand_is_bounded(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = "".join(f"P{n},D1,2026-02-05,{LARGEST}\n" for n in range(100))
    assert _import(ws, "payments", PAYMENTS + lines) == 0  # 100 fit, 1.00 USD short of it
    pay = ["-w", str(ws), "payment", "add", "--debtor", "D1", "--on", "2026-02-06"]
    capsys.readouterr()
    assert main([*pay, "--id", "H1", "--amount", "99999999999999999999", "--currency", "USD"]) == 1
    assert main([*pay, "--id", "H2", "--amount", "1.01", "--currency", "USD"]) == 1
    err = capsys.readouterr().err
    assert (
        err.count(
            "takes the total of its portfolio's payments in USD above 1,000,000,000,000,000.00 USD"
        )
        == 2
    )
    assert "Traceback" not in err
    assert main([*pay, "--id", "H3", "--amount", "1.00", "--currency", "USD"]) == 0
    assert main(["-w", str(ws), "ledger", "check"]) == 0
