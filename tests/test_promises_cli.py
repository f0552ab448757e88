"""Promises to pay as a user runs them: ``arrears promise add`` checks the open balance,
``arrears run`` finds each promise's outcome the day after its date plus grace (kept, partial,
broken: recorded on the promise and in the log by ``system:cycle``, once), a broken promise
gets the policy's ``on_broken_promise`` call the next day, and ``arrears promise list`` shows
the outcome."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from arrears.store import schema
from arrears.store.database import connect
from test_cycle_cli import reachable, run
from test_ledger_support import Book, cli_workspace

POLICY = """
policy: promises
stages:
  - {name: clear}
  - {name: early, when: days_past_due >= 1}
segments:
  - {name: all}
cadences:
  - stage: early
    steps:
      - {id: notice, offset: 1, action: send, channel: email, template: notice_overdue}
on_broken_promise:
  - {id: call-broken, offset: 1, action: call_task, priority: 1}
contact_rules:
  default: {hours: {sun: {start: "08:00", end: "20:00"}}, caps: [], holidays_closed: false}
"""


@pytest.fixture
def ws(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """KEPT, PART and BROKE each owe 1,000.00 USD due 31 Jan 2026; the policy's grace is 3
    days."""
    owing = [
        (reachable(name, f"+1212555010{n}"), f"I-{name}", "1000.00")
        for n, name in enumerate(("KEPT", "PART", "BROKE"))
    ]
    root = cli_workspace(tmp_path / "ws", "promises.yaml", POLICY, owing)
    capsys.readouterr()
    return root


def cycle(ws: Path, day: str) -> int:
    return run(ws, "run", "--as-of", day, "--policy", str(ws / "promises.yaml"))


def rows(ws: Path, table: str) -> list[dict[str, object]]:
    engine = connect(f"sqlite:///{ws / 'arrears.db'}")
    with engine.connect() as conn:
        found = [dict(r) for r in conn.execute(select(schema.metadata.tables[table])).mappings()]
    engine.dispose()
    return found


def test_a_promise_larger_than_the_open_balance_is_refused(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    too_much = ["promise", "add", "BROKE", "1000.01", "--due", "2026-02-10", "--on", "2026-02-03"]
    assert run(ws, *too_much) == 1
    err = capsys.readouterr().err
    assert "promise of BROKE" in err
    assert "the promise of 1000.01 USD is more than BROKE's open balance in USD (1000.00 USD)" in (
        " ".join(err.split())
    )
    assert run(ws, *too_much[:3], "10", "--currency", "EUR", *too_much[4:]) == 1
    assert "open balance in EUR (0.00 EUR)" in " ".join(capsys.readouterr().err.split())
    assert rows(ws, "promise") == []


def test_kept_partial_and_broken_promises_are_recorded_once_and_a_broken_one_gets_a_call(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("KEPT", "PART", "BROKE"):
        args = ["promise", "add", name, "1000.00", "--due", "2026-02-10", "--on", "2026-02-03"]
        assert run(ws, *args) == 0
    engine = connect(f"sqlite:///{ws / 'arrears.db'}")
    with engine.begin() as conn:
        Book(conn).pay("P1", "KEPT", "2026-02-09", "1000.00")
        Book(conn).pay("P2", "PART", "2026-02-12", "250.00")  # within the grace: it counts
    engine.dispose()
    assert cycle(ws, "2026-02-03") == 0  # cases open, paused by the promises until 14 Feb
    assert cycle(ws, "2026-02-13") == 0
    assert {r["outcome"] for r in rows(ws, "promise")} == {None}  # within the grace: open
    assert cycle(ws, "2026-02-14") == 0
    found = {
        r["id"]: (r["outcome"], r["kept_minor"], str(r["outcome_on"])) for r in rows(ws, "promise")
    }
    assert found == {
        1: ("kept", 100000, "2026-02-14"),
        2: ("partial", 25000, "2026-02-14"),
        3: ("broken", 0, "2026-02-14"),
    }
    logged = [r for r in rows(ws, "activity") if str(r["kind"]).startswith("promise.")]
    outcomes = [(r["kind"], r["actor"], r["subject_id"]) for r in logged[3:]]
    assert sorted(outcomes) == [
        ("promise.broken", "system:cycle", "3"),
        ("promise.kept", "system:cycle", "1"),
        ("promise.partial", "system:cycle", "2"),
    ]
    partial = next(r for r in logged if r["kind"] == "promise.partial")
    assert partial["payload"]["kept_percent"] == "25.00"  # type: ignore[index]
    capsys.readouterr()
    assert cycle(ws, "2026-02-14") == 0  # the same day again writes nothing
    assert len([r for r in rows(ws, "activity") if str(r["kind"]).startswith("promise.")]) == 6

    assert cycle(ws, "2026-02-15") == 0  # the day after: the broken and partial ones get a call
    calls = {(r["step_id"], r["task_priority"], str(r["created_on"])) for r in rows(ws, "task")}
    assert calls == {("call-broken", 1, "2026-02-15")}
    assert len(rows(ws, "task")) == 2  # PART and BROKE; KEPT paid and its case closed

    capsys.readouterr()
    assert run(ws, "promise", "list", "--format", "json") == 0
    listed = {p["debtor"]: p for p in json.loads(capsys.readouterr().out)}
    assert listed["KEPT"]["outcome"] == "kept"
    assert (listed["PART"]["outcome"], listed["PART"]["paid"]) == ("partial (25 %)", "250.00")
    assert (listed["BROKE"]["outcome"], listed["BROKE"]["found"]) == ("broken", "2026-02-14")
    assert run(ws, "promise", "list", "--debtor", "PART") == 0
    table = capsys.readouterr().out
    assert "partial (25 %)" in table and "BROKE" not in table

    explain = ["explain", "PART", "--as-of", "2026-02-15", "--policy", str(ws / "promises.yaml")]
    assert run(ws, *explain) == 0  # the collector sees the outcome where the reasoning is
    assert "promise 2: 1,000.00 USD by 2026-02-10: partial (25 % kept) on 2026-02-14" in (
        capsys.readouterr().out
    )
    assert run(ws, *explain, "--format", "json") == 0
    (shown,) = json.loads(capsys.readouterr().out)
    assert shown["promises"] == [
        {
            "promise_id": 2,
            "amount": "1000.00",
            "due_on": "2026-02-10",
            "grace_days": 0,
            "status": "open",
            "outcome": "partial",
            "kept_share": "0.25",
            "outcome_on": "2026-02-14",
        }
    ]
