"""``arrears payment / credit-note / write-off / ledger / activity`` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import update

from arrears.cli.app import main
from arrears.store import schema
from arrears.store.database import connect
from test_ledger_support import Book


@pytest.fixture
def ws(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A workspace whose ledger holds debtor D1 with invoice I1 (60 + 40 USD) and I2 (50 USD)."""
    root = tmp_path / "ws"
    assert main(["init", str(root)]) == 0
    engine = connect(f"sqlite:///{root / 'arrears.db'}")
    with engine.begin() as conn:
        book = Book(conn)
        book.debtor("D1")
        book.invoice("I1", "D1", ("2026-01-31", "60.00"), ("2026-02-28", "40.00"))
        book.invoice("I2", "D1", ("2026-03-31", "50.00"))
    engine.dispose()
    capsys.readouterr()
    return root


def run(ws: Path, *args: str) -> int:
    return main(["-w", str(ws), *args])


def open_balances(ws: Path) -> dict[str, list[str]]:
    engine = connect(f"sqlite:///{ws / 'arrears.db'}")
    with engine.connect() as conn:
        book = Book.__new__(Book)
        book.conn = conn
        result = {i: book.open(i) for i in ("I1", "I2")}
    engine.dispose()
    return result


def test_post_reverse_credit_write_off_and_check(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pay = ["payment", "add", "--debtor", "D1", "--id", "P1", "--on", "2026-02-01"]
    assert run(ws, *pay, "--amount", "70.00", "--currency", "USD") == 0
    assert "applied to I1/1 60.00, I1/2 10.00; unallocated 0.00 USD" in capsys.readouterr().out
    assert open_balances(ws) == {"I1": ["0.00", "30.00"], "I2": ["50.00"]}
    assert run(ws, *pay, "--amount", "70.00", "--currency", "USD") == 0
    assert "already recorded; nothing changed" in capsys.readouterr().out

    assert run(ws, "payment", "reverse", "P1", "--on", "2026-02-10", "--reason", "bounced") == 0
    assert open_balances(ws) == {"I1": ["60.00", "40.00"], "I2": ["50.00"]}

    note = ["credit-note", "add", "--debtor", "D1", "--id", "C1", "--on", "2026-02-11"]
    assert run(ws, *note, "--amount", "5", "--currency", "usd", "--invoice", "I2") == 0
    assert run(ws, "write-off", "I2", "--on", "2026-03-01", "--reason", "goodwill") == 0
    assert "45.00 USD written off" in capsys.readouterr().out
    assert open_balances(ws) == {"I1": ["60.00", "40.00"], "I2": ["0.00"]}

    assert run(ws, "ledger", "check") == 0
    assert "the ledger reconciles" in capsys.readouterr().out


def test_activity_lists_the_newest_first(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pay = ["payment", "add", "--debtor", "D1", "--id", "P1", "--on", "2026-02-01"]
    assert run(ws, *pay, "--amount", "10.00", "--currency", "USD") == 0
    capsys.readouterr()
    assert run(ws, "activity", "--debtor", "D1", "--limit", "2", "--format", "json") == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["kind"] for r in records] == ["payment.posted", "invoice.created"]
    assert records[0]["subject"] == "payment P1"
    assert json.loads(records[0]["payload"])["amount"] == "10.00"
    assert run(ws, "activity", "--format", "csv") == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "occurred_at,kind,actor,portfolio,debtor,subject,payload"
    assert len(out.splitlines()) == 1 + 5  # portfolio, debtor, two invoices, payment


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--amount", "1O.00", "--currency", "USD"], "error: --amount: '1O.00' is not a number"),
        (["--amount", "-3", "--currency", "USD"], "amount must be positive, not -3"),
        (["--amount", "10.001", "--currency", "USD"], "10.001 has more than 2 decimals for USD"),
        (["--amount", "10", "--currency", "XXY"], "error: --amount: unknown currency 'XXY'"),
        (
            ["--amount", "10", "--currency", "EUR", "--invoice", "I1"],
            "error: payment P9: invoice I1 is in USD, not EUR: no conversion",
        ),
    ],
)
def test_bad_payments_exit_1_with_one_clear_line(
    ws: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    pay = ["payment", "add", "--debtor", "D1", "--id", "P9", "--on", "2026-02-01"]
    assert run(ws, *pay, *args) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err and "Traceback" not in err
    assert open_balances(ws) == {"I1": ["60.00", "40.00"], "I2": ["50.00"]}


def test_other_user_errors_exit_1(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(ws, "payment", "reverse", "P0", "--on", "2026-02-30", "--reason", "x") == 1
    assert "error: --on: '2026-02-30' is not a date (YYYY-MM-DD)" in capsys.readouterr().err
    assert run(ws, "payment", "reverse", "P0", "--on", "2026-02-01", "--reason", "x") == 1
    assert "error: payment P0: unknown payment 'P0'" in capsys.readouterr().err
    assert run(ws, "write-off", "I1", "--on", "2026-02-01", "--reason", "x", "--amount", "101") == 1
    assert "exceeds the open balance 100.00 USD" in capsys.readouterr().err
    assert run(ws, "payment", "add", "--debtor", "D1") == 2  # missing options: a usage error


def test_ledger_check_lists_problems_and_exits_1(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = connect(f"sqlite:///{ws / 'arrears.db'}")
    with engine.begin() as conn:
        conn.execute(update(schema.instalment).values(open_minor=1))
    engine.dispose()
    assert run(ws, "ledger", "check") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3
    assert err[0].startswith("error: invoice I1: instalment 1 open balance 1 (minor units)")
