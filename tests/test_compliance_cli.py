"""``arrears compliance report`` and ``arrears call start`` on a real workspace: contacts logged by
hand are audited against the debtor's rule pack at the time they were made."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from arrears.cli.app import main
from arrears.domain.ledger import ContactKind, ContactPoint, Debtor, DebtorKind
from arrears.store.database import connect
from arrears.store.ledger import cases as ledger
from test_ledger_support import ACTOR, AT, Book


def person(external_id: str, phone: str) -> Debtor:
    """A consumer in New York: Regulation F applies (us-reg-f)."""
    return Debtor(
        external_id, f"Person {external_id}", DebtorKind.PERSON, "US", "USD",
        "America/New_York", "en", contacts=(ContactPoint(ContactKind.PHONE, phone),),
    )  # fmt: skip


@pytest.fixture
def ws(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    root = tmp_path / "ws"
    assert main(["init", str(root)]) == 0
    engine = connect(f"sqlite:///{root / 'arrears.db'}")
    with engine.begin() as conn:
        Book(conn)
        for n in range(1, 5):
            ledger.add_debtor(conn, person(f"P{n}", f"+1212555010{n}"), actor=ACTOR, at=AT)
    engine.dispose()
    capsys.readouterr()
    return root


def call(ws: Path, debtor: str, at: str, outcome: str = "no_answer") -> None:
    args = ["contact", "add", debtor, "--channel", "call", "--outcome", outcome, "--at", at]
    assert main(["-w", str(ws), *args]) == 0


def test_the_report_finds_each_contact_that_broke_regulation_f(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for hour in range(9, 17):  # P1: eight calls on one day, the 8th over the 7-in-7 cap
        call(ws, "P1", f"2026-03-02 {hour:02}:00")
    call(ws, "P2", "2026-03-03 21:30")  # P2: after 21:00 local
    call(ws, "P2", "2026-03-04 20:59")  # ... and one at 20:59, allowed
    call(ws, "P3", "2026-03-04 10:00", outcome="reached")  # P3: a conversation,
    call(ws, "P3", "2026-03-06 10:00")  # then a call within 7 days of it
    call(ws, "P4", "2026-03-12 10:00")  # P4: a clean call
    capsys.readouterr()
    period = ["--from", "2026-03-01", "--to", "2026-03-31"]
    assert main(["-w", str(ws), "compliance", "report", *period, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    found = sorted((v["debtor"], v["rule"]) for v in report["violations"])
    assert found == [
        ("P1", "us-reg-f.call-cap"),
        ("P2", "us-reg-f.hours"),
        ("P3", "us-reg-f.conversation-quiet"),
    ]
    assert sum(row["contacts"] for row in report["contacts"]) == 13

    assert main(["-w", str(ws), "compliance", "report", *period, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 13 and sum(r["violation"] == "true" for r in rows) == 3
    assert main(["-w", str(ws), "compliance", "report", *period]) == 0
    assert "violations: 3 (of 13 contacts)" in capsys.readouterr().out


def test_bad_periods_are_refused(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["-w", str(ws), "compliance", "report", "--from", "2026-03-31", "--to", "2026-03-01"])
        == 1
    )
    assert "is after --to" in capsys.readouterr().err
    assert main(["-w", str(ws), "compliance", "report", "--from", "March"]) == 1
    assert "is not a date" in capsys.readouterr().err
