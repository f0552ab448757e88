"""A bounced payment stays bounced, and a written-off invoice stays true to its balances, when
the ERP's files are imported again (SQLite and PostgreSQL, through the ``arrears`` command).

The bank's export still lists the cheque that bounced, sometimes with a new reference: the
import may note the new reference, but only a person brings the money back
(``arrears payment reverse`` is not undone by a file)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from arrears.cli.app import main

DEBTORS = "debtor_id,name\nD1,Acme\n"
INVOICES = "invoice_id,debtor_id,issue_date,due_date,amount,reference\n"
PAYMENTS = "payment_id,debtor_id,date,amount,reference\n"


@pytest.fixture
def ws(tmp_path: Path, store_url: str, capsys: pytest.CaptureFixture[str]) -> Path:
    """A workspace with debtor D1 and invoice I1 of 100.00 USD."""
    root = tmp_path / "ws"
    assert main(["init", str(root), "--database-url", store_url]) == 0
    assert _import(root, "debtors", DEBTORS) == 0
    assert _import(root, "invoices", INVOICES + "I1,D1,2026-01-01,2026-02-01,100.00,\n") == 0
    capsys.readouterr()
    return root


def _import(ws: Path, kind: str, body: str, *args: str) -> int:
    path = ws.parent / f"{kind}-{abs(hash(body))}.csv"
    path.write_text(body, encoding="utf-8")
    return main(["-w", str(ws), "import", kind, str(path), *args])


def _run(ws: Path, *args: str) -> int:
    return main(["-w", str(ws), *args])


def _state(engine: Engine) -> tuple[list[tuple[str, str]], list[tuple[str, int, str | None]]]:
    with engine.connect() as conn:
        invoices = [
            (str(r[0]), str(r[1]))
            for r in conn.execute(text("SELECT external_id, status FROM invoice ORDER BY 1"))
        ]
        payments = [
            (str(r[0]), int(r[1]), r[2])
            for r in conn.execute(
                text(
                    "SELECT p.status, (SELECT COUNT(*) FROM allocation a WHERE a.source_id = p.id "
                    "AND a.source_kind = 'payment' AND NOT a.reversed), p.reference FROM payment p"
                )
            )
        ]
    return invoices, payments


def test_a_bounced_payment_is_not_applied_again_by_a_new_reference(
    ws: Path, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _import(ws, "payments", PAYMENTS + "P1,D1,2026-02-05,100.00,CHQ-1\n") == 0
    assert _run(ws, "payment", "reverse", "P1", "--on", "2026-02-10", "--reason", "bounced") == 0
    assert _state(engine) == ([("I1", "open")], [("reversed", 0, "CHQ-1")])

    # the bank's next export: the same cheque, its reference annotated
    assert _import(ws, "payments", PAYMENTS + "P1,D1,2026-02-05,100.00,CHQ-1 RETURNED\n") == 0
    assert _state(engine) == ([("I1", "open")], [("reversed", 0, "CHQ-1 RETURNED")])
    capsys.readouterr()
    assert _run(ws, "ledger", "check") == 0
    assert _run(ws, "activity", "--limit", "2", "--format", "json") == 0
    assert "stays reversed" in capsys.readouterr().out


def test_a_bounced_payment_with_other_money_is_a_located_problem(
    ws: Path, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _import(ws, "payments", PAYMENTS + "P1,D1,2026-02-05,100.00,CHQ-1\n") == 0
    assert _run(ws, "payment", "reverse", "P1", "--on", "2026-02-10", "--reason", "bounced") == 0
    capsys.readouterr()
    body = PAYMENTS + "P1,D1,2026-02-06,90.00,CHQ-1\nP2,D1,2026-02-07,10.00,CHQ-2\n"
    assert _import(ws, "payments", body) == 1
    err = capsys.readouterr().err
    assert ":2:payment_id: payment 'P1' was reversed on 2026-02-10" in err
    assert "under a new payment id" in err
    assert "nothing was imported" in err and "Traceback" not in err
    assert _state(engine) == ([("I1", "open")], [("reversed", 0, "CHQ-1")])

    # --skip-invalid imports P2 and leaves P1 as it was
    assert _import(ws, "payments", body, "--skip-invalid") == 0
    invoices, payments = _state(engine)
    assert invoices == [("I1", "open")]
    assert sorted(payments) == [("posted", 1, "CHQ-2"), ("reversed", 0, "CHQ-1")]
    assert _run(ws, "ledger", "check") == 0


def test_a_written_off_invoice_raised_by_the_erp_is_open_again(
    ws: Path, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(ws, "write-off", "I1", "--on", "2026-03-01", "--reason", "uncollectable") == 0
    assert _import(ws, "invoices", INVOICES + "I1,D1,2026-01-01,2026-02-01,100.00,x\n") == 0
    assert _state(engine)[0] == [("I1", "written_off")]
    # the ERP says 20.00 more is owed: that part was never written off
    assert _import(ws, "invoices", INVOICES + "I1,D1,2026-01-01,2026-02-01,120.00,x\n") == 0
    assert _state(engine)[0] == [("I1", "open")]
    assert _run(ws, "ledger", "check") == 0
    # and back to 100.00: closed by the write-off again
    assert _import(ws, "invoices", INVOICES + "I1,D1,2026-01-01,2026-02-01,100.00,x\n") == 0
    assert _state(engine)[0] == [("I1", "written_off")]
    capsys.readouterr()
    assert _run(ws, "ledger", "check") == 0, capsys.readouterr().err
