"""``arrears agency``: placement -> remittance -> recall, day by day, as a user runs it (SQLite
and PostgreSQL); the cycle's ``place_with_agency`` step recorded as a placement; bad remittance
files reported all at once with nothing posted.

ACME owes INV-1 (600.00 USD due 2025-10-31) and INV-2 (400.00 USD due 2025-11-30); BETA owes
INV-3 (250.00 USD due 2025-11-30). RecoverCo's commission is by age of the debt at placement:
15 % from 0 days, 25 % from 90, 35 % from 180; it is recalled after 60 days without payment.

| day   | what happens |
|-------|--------------|
| 02-01 | ACME placed (93 days past due: 25 %), BETA placed (63 days: 15 %); credit on hold |
| 02-01 | the placement file: three lines, one per open instalment |
| 02-20 | RecoverCo collects 300.00 from ACME (RC-001); 02-25 100.00 from BETA (RC-002) |
| 03-01 | the remittance file imported: 400.00 collected, 90.00 commission owed (75 + 15) |
| 04-21 | recall by rule: ACME (60 days since 02-20), not BETA (55 days since 02-25) |
| 04-22 | BETA recalled by hand; both back in house, credit active again |
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from arrears.domain.actor import Actor, Role
from arrears.domain.errors import NotAllowed
from arrears.services.arrangements import agencies
from arrears.services.uow import SqlUnitOfWork
from arrears.store.database import connect
from test_cycle_cli import run
from test_ledger_support import imported_workspace

DEBTORS = """debtor_id,name,currency,email
ACME,Acme Corp,USD,ap@acme.example
BETA,Beta LLC,USD,
"""
INVOICES = """invoice_id,debtor_id,issue_date,due_date,amount,currency
INV-1,ACME,2025-10-01,2025-10-31,600.00,USD
INV-2,ACME,2025-11-01,2025-11-30,400.00,USD
INV-3,BETA,2025-11-01,2025-11-30,250.00,USD
"""
REMITTANCE = """placement,debtor,amount,date,reference
1,ACME,300.00,2026-02-20,RC-001
2,BETA,100.00,2026-02-25,RC-002
"""


@pytest.fixture
def ws(tmp_path: Path, store_url: str, capsys: pytest.CaptureFixture[str]) -> Path:
    root = imported_workspace(tmp_path / "ws", store_url, DEBTORS, INVOICES)
    add = ["agency", "add", "recoverco", "--name", "RecoverCo", "--by-age", "0=15,90=25,180=35"]
    assert run(root, *add, "--recall-after", "60") == 0
    capsys.readouterr()
    return root


def table(ws: Path, capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, str]]:
    capsys.readouterr()
    assert run(ws, *args, "--format", "json") == 0
    found: list[dict[str, str]] = json.loads(capsys.readouterr().out)
    return found


def credit(ws: Path, tmp_path: Path) -> dict[str, str]:
    out = tmp_path / "debtors.csv"
    assert run(ws, "export", "debtors", str(out)) == 0
    return {r["debtor_id"]: r["credit_status"] for r in csv.DictReader(out.open())}


def test_placement_remittance_recall(
    ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 02-01: placed, each at the rate of its debt's age; credit on hold
    assert run(ws, "agency", "place", "ACME", "--agency", "recoverco", "--on", "2026-02-01") == 0
    out = capsys.readouterr().out
    assert "placement 1: ACME 1000.00 USD placed with recoverco on 2026-02-01" in out
    assert "(93 days past due, commission 25 %)" in out
    assert run(ws, "agency", "place", "BETA", "--agency", "recoverco", "--on", "2026-02-01") == 0
    assert "(63 days past due, commission 15 %)" in capsys.readouterr().out
    assert run(ws, "agency", "place", "ACME", "--agency", "recoverco", "--on", "2026-02-01") == 0
    assert "already; nothing changed" in capsys.readouterr().out
    assert credit(ws, tmp_path) == {"ACME": "on_hold", "BETA": "on_hold"}

    # the placement file
    placement_file = tmp_path / "recoverco.csv"
    export = ["agency", "export", "--agency", "recoverco", "--on", "2026-02-01"]
    assert run(ws, *export, "--output", str(placement_file)) == 0
    assert "3 line(s) of 2 placement(s)" in capsys.readouterr().out
    lines = list(csv.DictReader(placement_file.open()))
    assert [
        (r["placement"], r["debtor"], r["invoice"], r["days_past_due"], r["open_amount"])
        for r in lines
    ] == [
        ("1", "ACME", "INV-1", "93", "600.00"),
        ("1", "ACME", "INV-2", "63", "400.00"),
        ("2", "BETA", "INV-3", "63", "250.00"),
    ]
    assert lines[0]["email"] == "ap@acme.example" and lines[0]["name"] == "Acme Corp"

    # 03-01: the remittance, imported twice: posted once
    remittance = tmp_path / "remittance.csv"
    remittance.write_text(REMITTANCE)
    assert run(ws, "agency", "remit", str(remittance), "--agency", "recoverco") == 0
    out = capsys.readouterr().out
    assert "2 payment(s) posted, 0 already imported" in out
    assert "collected 400.00 USD, commission owed to recoverco 90.00 USD" in out
    assert run(ws, "agency", "remit", str(remittance), "--agency", "recoverco") == 0
    assert "0 payment(s) posted, 2 already imported" in capsys.readouterr().out
    placed = table(ws, capsys, "agency", "placements")
    assert [(p["placement"], p["collected"], p["commission"], p["rate"]) for p in placed] == [
        ("1", "300.00", "75.00", "25 %"),
        ("2", "100.00", "15.00", "15 %"),
    ]
    assert run(ws, "ledger", "check") == 0
    payments = [r for r in table(ws, capsys, "activity") if r["kind"] == "payment.posted"]
    assert {p["subject"] for p in payments} == {
        "payment recoverco:RC-001",
        "payment recoverco:RC-002",
    }

    # 04-21: the rule recalls ACME (60 days without payment), not BETA (55)
    assert run(ws, "agency", "recall", "--by-rule", "--on", "2026-04-21") == 0
    out = capsys.readouterr().out
    assert "placement 1: ACME recalled from recoverco on 2026-04-21" in out
    assert "no payment for 60 days, recall after 60" in out and "BETA" not in out
    assert credit(ws, tmp_path) == {"ACME": "active", "BETA": "on_hold"}

    # 04-22: BETA by hand; both back in house, with their history
    assert run(ws, "agency", "recall", "BETA", "--on", "2026-04-22") == 1
    assert "say why it is recalled (--reason)" in capsys.readouterr().err
    assert run(ws, "agency", "recall", "BETA", "--on", "2026-04-22", "--reason", "in house") == 0
    assert credit(ws, tmp_path) == {"ACME": "active", "BETA": "active"}
    assert table(ws, capsys, "agency", "placements", "--active") == []
    assert run(ws, "agency", "export", "--agency", "recoverco", "--on", "2026-04-22") == 0
    assert capsys.readouterr().out.strip().count("\n") == 0  # the header alone
    kinds = [(r["kind"], r["debtor"]) for r in table(ws, capsys, "activity", "--limit", "100")]
    for kind in ("agency.placed", "agency.remitted", "agency.recalled"):
        assert (kind, "ACME") in kinds and (kind, "BETA") in kinds


def test_a_bad_remittance_is_reported_all_at_once_and_nothing_is_posted(
    ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(ws, "agency", "place", "ACME", "--agency", "recoverco", "--on", "2026-02-01") == 0
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "placement,debtor,amount,date,reference\n"
        "1,BETA,300.00,2026-02-30,RC-010\n"
        "9,ACME,5,2026-02-20,\n"
        "1,ACME,1.234,2026-03-01,RC-011\n"
        "1,ACME,2000.00,2026-03-01,RC-012\n"
        "1,ACME,10.00,2026-03-01,RC-012\n"
    )
    capsys.readouterr()
    assert run(ws, "agency", "remit", str(bad), "--agency", "recoverco") == 1
    err = capsys.readouterr().err
    expected = [
        f"{bad}:2:debtor: placement 1 is ACME's, not BETA's",
        f"{bad}:2:date: '2026-02-30' is not a date (YYYY-MM-DD)",
        f"{bad}:3:placement: placement 9 is not one of recoverco's",
        f"{bad}:3:reference: give the agency's reference of the payment",
        f"{bad}:4:amount: '1.234': 1.234 has more than 2 decimals for USD",
        f"{bad}:5:amount: 2000.00 USD is more than the 1000.00 USD still due on placement 1",
        f"{bad}:6:reference: 'RC-012' is also on row 5",
    ]
    for line in expected:
        assert line in err
    assert table(ws, capsys, "agency", "placements")[0]["collected"] == "0.00"
    missing = tmp_path / "missing.csv"
    missing.write_text("who,how much\nACME,1\n")
    assert run(ws, "agency", "remit", str(missing), "--agency", "recoverco") == 1
    assert "missing.csv:1: missing column(s): amount, date, reference" in capsys.readouterr().err


def test_bad_agency_and_placement_requests(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(ws, "agency", "add", "Bad Code", "--name", " ", "--by-age", "x=1,90=200") == 1
    err = capsys.readouterr().err
    assert "'90=200': '200' is not a percentage from 0 to 100" in err
    assert "'x' is not a number of days" in err and "give its name (--name)" in err
    assert run(ws, "agency", "place", "ACME", "--agency", "nope", "--on", "2026-02-01") == 1
    assert "agency 'nope': there is no such agency" in capsys.readouterr().err
    assert run(ws, "agency", "add", "other", "--name", "Other", "--commission", "20") == 0
    assert run(ws, "agency", "place", "ACME", "--agency", "recoverco", "--on", "2026-02-01") == 0
    assert run(ws, "agency", "place", "ACME", "--agency", "other", "--on", "2026-02-02") == 1
    assert "it is placed with recoverco: recall it first" in capsys.readouterr().err
    listed = table(ws, capsys, "agency", "list")
    assert [(a["agency"], a["commission"], a["placed"]) for a in listed] == [
        ("other", "20 %", "0"),
        ("recoverco", "by age: 0+ days 15 %, 90+ days 25 %, 180+ days 35 %", "1"),
    ]


def test_the_cycles_placement_becomes_a_placement_on_export(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The shipped B2B policy places a case 90 days past due with `default_agency`; the run
    records the placement the same day (``agency placements`` lists it), and the export
    records nothing more and lists it in the file."""
    root = imported_workspace(
        tmp_path / "ws",
        sqlite_url,
        "debtor_id,name,currency\nCYC,Cycle Co,USD\n",
        "invoice_id,debtor_id,issue_date,due_date,amount,currency\n"
        "INV-9,CYC,2025-10-01,2025-10-31,800.00,USD\n",
    )
    assert (
        run(root, "agency", "add", "default_agency", "--name", "Default", "--commission", "20") == 0
    )
    assert run(root, "run", "--as-of", "2026-02-10") == 0
    assert run(root, "approve-waiting", "agency", "--on", "2026-02-10") == 0
    assert run(root, "run", "--as-of", "2026-02-11") == 0
    capsys.readouterr()
    assert run(root, "agency", "placements", "--format", "json") == 0
    [placed] = json.loads(capsys.readouterr().out)
    assert (placed["debtor"], placed["agency"], placed["placed_on"]) == (
        "CYC", "default_agency", "2026-02-11"
    )  # fmt: skip
    export = ["agency", "export", "--agency", "default_agency", "--on", "2026-02-11"]
    assert run(root, *export) == 0
    captured = capsys.readouterr()
    assert "placed" not in captured.err  # the run recorded it
    rows = list(csv.DictReader(io.StringIO(captured.out)))
    assert [(r["placement"], r["invoice"], r["days_past_due"]) for r in rows] == [
        ("1", "INV-9", "103")
    ]
    assert run(root, *export) == 0
    assert "placed" not in capsys.readouterr().err  # recorded once


def test_placing_and_recalling_need_a_role_that_may_approve(
    ws: Path, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = connect(store_url)
    at = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
    try:
        for role in (Role.COLLECTOR, Role.AUDITOR):
            with pytest.raises(NotAllowed, match="may not place a debtor with an agency"):
                agencies.place(
                    SqlUnitOfWork(engine),
                    Actor(f"user:{role}", role),
                    "ACME",
                    portfolio="default",
                    agency="recoverco",
                    on=date(2026, 2, 1),
                    at=at,
                )
        manager = Actor("user:maria", Role.MANAGER)
        done = agencies.place(
            SqlUnitOfWork(engine),
            manager,
            "ACME",
            portfolio="default",
            agency="recoverco",
            on=date(2026, 2, 1),
            at=at,
        )
        assert (done.placed_by, done.commission_percent) == ("user:maria", 25)
    finally:
        engine.dispose()
    assert [p["placement"] for p in table(ws, capsys, "agency", "placements")] == ["1"]


def test_money_an_agency_collects_on_a_written_off_debt_is_a_recovery(
    ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(ws, "agency", "place", "ACME", "--agency", "recoverco", "--on", "2026-02-01") == 0
    assert (
        run(ws, "write-off", "propose", "ACME", "--on", "2026-03-15", "--reason", "insolvent") == 0
    )
    remittance = tmp_path / "late.csv"
    remittance.write_text("placement,amount,date,reference\n1,20.00,2026-04-01,RC-030\n")
    capsys.readouterr()
    assert run(ws, "agency", "remit", str(remittance), "--agency", "recoverco") == 0
    out = capsys.readouterr().out
    assert "collected 20.00 USD, commission owed to recoverco 5.00 USD" in out
    assert "of which recovered after write-off 20.00 USD" in out
    kinds = [r["kind"] for r in table(ws, capsys, "activity", "--limit", "5")]
    assert kinds[:3] == ["agency.remitted", "write_off.recovered", "payment.posted"]
    assert run(ws, "ledger", "check") == 0
