"""``arrears dispute``: opened on invoices, resolved upheld (a credit note) or rejected (back to
collection), listed for its owner when overdue, and the import's ``disputed`` flag mapped onto
disputes, as a user runs it (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from test_cycle_cli import run
from test_ledger_support import imported_workspace

DEBTORS = "debtor_id,name,currency\nD1,Uno,USD\nD2,Dos,USD\n"
INVOICES = """invoice_id,debtor_id,issue_date,due_date,amount,currency
I1,D1,2025-12-01,2025-12-31,100.00,USD
I2,D1,2026-01-15,2026-02-14,200.00,USD
I3,D2,2025-12-01,2025-12-31,500.00,USD
"""


@pytest.fixture
def ws(tmp_path: Path, store_url: str, capsys: pytest.CaptureFixture[str]) -> Path:
    root = imported_workspace(tmp_path / "ws", store_url, DEBTORS, INVOICES)
    capsys.readouterr()
    return root


def out(ws: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert run(ws, *args) == 0, capsys.readouterr().err
    return capsys.readouterr().out.strip()


def listed(ws: Path, capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, str]]:
    found: list[dict[str, str]] = json.loads(out(ws, capsys, "dispute", "list", "--format",
                                                 "json", *args))  # fmt: skip
    return found


def kinds(ws: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    records = json.loads(out(ws, capsys, "activity", "--format", "json", "--limit", "100"))
    return [str(r["kind"]) for r in records[::-1]]


def test_opened_then_upheld_with_a_partial_credit_note(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    said = out(ws, capsys, "dispute", "open", "I1", "I2", "--reason", "wrong_amount", "--note",
               "price list of 2025", "--owner", "maria", "--due", "2026-03-10",
               "--on", "2026-03-01")  # fmt: skip
    assert said == (
        "dispute 1 of D1 on I1, I2: 300.00 USD out of collection "
        "(wrong_amount, owner maria, to resolve by 2026-03-10)"
    )
    # an invoice in an open dispute cannot be disputed again; every problem at once
    capsys.readouterr()
    assert run(ws, "dispute", "open", "I2", "NOPE", "--reason", "rude", "--on", "2026-03-02") == 1
    err = capsys.readouterr().err
    assert "unknown reason 'rude'" in err and "unknown invoice 'NOPE'" in err
    assert "invoice I2 is already disputed (dispute 1)" in err
    # overdue for its owner after the due date
    assert listed(ws, capsys, "--owner", "maria", "--overdue", "--as-of", "2026-03-10") == []
    [late] = listed(ws, capsys, "--owner", "maria", "--overdue", "--as-of", "2026-03-11")
    assert (late["id"], late["status"], late["amount"]) == ("1", "open (overdue)", "300.00")
    # a credit above the invoice's open amount is refused, nothing is posted
    capsys.readouterr()
    assert run(ws, "dispute", "resolve", "1", "--upheld", "--credit", "I1=150",
               "--on", "2026-03-12") == 1  # fmt: skip
    assert "the credit on I1 (150.00 USD) is above its open amount (100.00 USD)" in (
        capsys.readouterr().err
    )
    said = out(ws, capsys, "dispute", "resolve", "1", "--upheld", "--credit", "I1=40",
               "--note", "old price", "--on", "2026-03-12")  # fmt: skip
    assert said == (
        "dispute 1 of D1 on I1, I2 upheld by cli:"
        + said.split("upheld by cli:")[1].split(":")[0]
        + ": credit notes of 40.00 USD posted"
    )
    shown = out(ws, capsys, "dispute", "show", "1", "--format", "json")
    assert json.loads(shown) == [
        {"invoice": "I1", "number": "I1", "disputed": "100.00", "open": "60.00",
         "credit": "40.00", "credit_note": "dispute:default:I1:2026-03-12"},
        {"invoice": "I2", "number": "I2", "disputed": "200.00", "open": "200.00",
         "credit": None, "credit_note": None},
    ]  # fmt: skip
    assert [k for k in kinds(ws, capsys) if k.startswith(("dispute.", "credit_note."))] == [
        "dispute.opened",
        "credit_note.issued",
        "dispute.upheld",
    ]
    # resolved once
    capsys.readouterr()
    assert run(ws, "dispute", "resolve", "1", "--rejected", "--on", "2026-03-13") == 1
    assert "a dispute that is upheld cannot be rejected" in capsys.readouterr().err


def test_rejected_returns_the_invoice_to_collection_and_the_flag_follows(
    ws: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out(ws, capsys, "dispute", "open", "I3", "--reason", "not_received", "--on", "2026-03-01")
    [row] = listed(ws, capsys, "--status", "open")
    assert (row["debtor"], row["invoices"], row["due_on"]) == ("D2", "I3", "2026-03-15")
    # what the cycle reads: the invoice is disputed while the dispute is open
    aging = json.loads(out(ws, capsys, "aging", "--as-of", "2026-03-02", "--by", "invoice",
                           "--format", "json"))  # fmt: skip
    assert {r["invoice_external_id"]: r["disputed"] for r in aging}["I3"] is True
    said = out(ws, capsys, "dispute", "resolve", "1", "--rejected", "--on", "2026-03-05")
    assert said.endswith("rejected by " + said.split(" by ")[1].split(":", 2)[0] + ":"
                         + said.split(" by ")[1].split(":", 2)[1]
                         + ": the invoices are back in collection")  # fmt: skip
    aging = json.loads(out(ws, capsys, "aging", "--as-of", "2026-03-06", "--by", "invoice",
                           "--format", "json"))  # fmt: skip
    assert {r["invoice_external_id"]: r["disputed"] for r in aging}["I3"] is False


def test_the_imports_flag_opens_and_closes_a_from_erp_dispute(
    ws: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    flagged = tmp_path / "flagged.csv"
    flagged.write_text(INVOICES.replace("due_date,amount,currency", "due_date,amount,currency,"
                                        "disputed").replace("USD\n", "USD,false\n")
                       .replace("500.00,USD,false", "500.00,USD,true"))  # fmt: skip
    assert run(ws, "import", "invoices", str(flagged)) == 0
    [row] = listed(ws, capsys)
    assert (row["invoices"], row["reason"], row["status"]) == ("I3", "from_erp", "open")
    assert run(ws, "import", "invoices", str(flagged)) == 0  # again: nothing new
    assert len(listed(ws, capsys)) == 1
    # arrears' own dispute survives an ERP file that does not know of it
    out(ws, capsys, "dispute", "open", "I1", "--reason", "quality", "--on", "2026-03-01")
    cleared = tmp_path / "cleared.csv"
    cleared.write_text(flagged.read_text().replace("true", "false"))
    assert run(ws, "import", "invoices", str(cleared)) == 0
    found = {r["invoices"]: r["status"] for r in listed(ws, capsys, "--as-of", "2026-03-02")}
    assert found == {"I3": "closed", "I1": "open"}
    aging = json.loads(out(ws, capsys, "aging", "--as-of", "2026-03-02", "--by", "invoice",
                           "--format", "json"))  # fmt: skip
    assert {r["invoice_external_id"]: r["disputed"] for r in aging} == {
        "I1": True, "I2": False, "I3": False,
    }  # fmt: skip
    assert [k for k in kinds(ws, capsys) if k.startswith("dispute.")] == [
        "dispute.opened",
        "dispute.opened",
        "dispute.closed",
    ]


def test_opened_and_resolved_today_without_on(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--on defaults to today (the workspace's day), as in the other commands that record
    something."""
    from arrears import config

    said = out(ws, capsys, "dispute", "open", "I3", "--reason", "quality")
    assert said.startswith("dispute 1 of D2 on I3: 500.00 USD out of collection"), said
    [row] = listed(ws, capsys)
    assert row["opened_on"] == config.load(ws).today().isoformat(), row
    assert "rejected" in out(ws, capsys, "dispute", "resolve", "1", "--rejected")
