"""The worklist as collectors use it, through the command line: one open task per debtor and
kind however often the call step repeats, a task that closes by itself when its debtor pays,
a priority recomputed on every run, tasks assigned to a collector (``task assign``,
``worklist --mine`` / ``--assignee``) and a call's outcome closing or rescheduling the task
(``contact add``)."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from arrears.store import schema
from arrears.store.database import connect
from test_cycle_cli import reachable, run
from test_ledger_support import Book, cli_workspace

POLICY = """
policy: worklist
stages:
  - {name: clear}
  - {name: early, when: days_past_due >= 1}
segments:
  - {name: all}
cadences:
  - stage: early
    steps:
      - {id: call, offset: 2, action: call_task, priority: 3, repeat: {every: 2, times: 3}}
      - {id: urgent-call, offset: 7, action: call_task, priority: 1}
contact_rules:
  default: {hours: {sun: {start: "08:00", end: "20:00"}}, caps: [], holidays_closed: false}
"""


@pytest.fixture
def ws(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """PAYS owes 1,000.00 USD and KEEPS 5,000.00 USD, both due 31 Jan 2026."""
    owing = [
        (reachable(name, f"+1212555020{n}"), f"I-{name}", amount)
        for n, (name, amount) in enumerate((("PAYS", "1000.00"), ("KEEPS", "5000.00")))
    ]
    root = cli_workspace(tmp_path / "ws", "worklist.yaml", POLICY, owing)
    capsys.readouterr()
    return root


def cycle(ws: Path, day: str) -> int:
    return run(ws, "run", "--as-of", day, "--policy", str(ws / "worklist.yaml"))


def tasks(ws: Path) -> dict[str, dict[str, object]]:
    """The tasks by debtor (one each, the test checks)."""
    engine = connect(f"sqlite:///{ws / 'arrears.db'}")
    with engine.connect() as conn:
        found = conn.execute(
            select(schema.task, schema.debtor.c.external_id).join(
                schema.debtor, schema.debtor.c.id == schema.task.c.debtor_id
            )
        ).mappings()
        rows = [dict(r) for r in found]
        log = [
            dict(r)
            for r in conn.execute(
                select(schema.activity).where(schema.activity.c.kind.like("task.%"))
            ).mappings()
        ]
    engine.dispose()
    by_debtor = {str(r["external_id"]): r for r in rows}
    assert len(by_debtor) == len(rows), rows  # one task per debtor (and kind)
    return by_debtor | {"_log": {"rows": log}}


def worklist(ws: Path, capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, object]]:
    capsys.readouterr()
    assert run(ws, "worklist", "--format", "json", *args) == 0
    return list(json.loads(capsys.readouterr().out))


def test_one_task_per_debtor_closed_when_paid_and_reprioritised_every_run(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cycle(ws, "2026-02-01") == 0
    assert cycle(ws, "2026-02-02") == 0  # the call comes due: one task each
    first = tasks(ws)
    assert first["KEEPS"]["status"] == first["PAYS"]["status"] == "open"
    score = first["KEEPS"]["score"]
    assert cycle(ws, "2026-02-03") == 0  # no step today, but the priority moves with the age
    assert tasks(ws)["KEEPS"]["score"] != score  # the priority of 3 Feb, not of 2 Feb
    assert cycle(ws, "2026-02-04") == 0  # call#1 comes due: still one task each
    again = tasks(ws)
    assert (again["KEEPS"]["id"], again["PAYS"]["id"]) == (
        first["KEEPS"]["id"],
        first["PAYS"]["id"],
    )

    engine = connect(f"sqlite:///{ws / 'arrears.db'}")
    with engine.begin() as conn:
        Book(conn).pay("P1", "PAYS", "2026-02-05", "1000.00")
    engine.dispose()
    assert cycle(ws, "2026-02-05") == 0  # PAYS is cured: its task closes by itself
    after = tasks(ws)
    assert after["PAYS"]["status"] == "cancelled"
    assert after["PAYS"]["note"] == "closed by the cycle: the case is closed"
    assert after["KEEPS"]["status"] == "open"
    [closed] = after["_log"]["rows"]  # type: ignore[index]
    assert (closed["kind"], closed["actor"], closed["subject_id"]) == (
        "task.closed",
        "system:cycle",
        str(after["PAYS"]["id"]),
    )
    assert cycle(ws, "2026-02-05") == 0  # again: nothing more
    assert len(tasks(ws)["_log"]["rows"]) == 1  # type: ignore[arg-type]
    assert [t["debtor"] for t in worklist(ws, capsys)] == ["KEEPS"]
    assert cycle(ws, "2026-02-07") == 0  # a more urgent call step: the open task becomes urgent
    keeps = tasks(ws)["KEEPS"]
    assert (keeps["id"], keeps["task_priority"]) == (first["KEEPS"]["id"], 1)


def test_assigning_tasks_and_call_outcomes(
    ws: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for day in ("2026-02-01", "2026-02-02"):
        assert cycle(ws, day) == 0
    ids = {t["debtor"]: t["task_id"] for t in worklist(ws, capsys)}
    keeps, pays = str(ids["KEEPS"]), str(ids["PAYS"])
    assert run(ws, "task", "assign", keeps, "--to", "ana") == 0
    assert f"task {keeps} assigned to ana" in capsys.readouterr().out
    assert run(ws, "task", "assign", keeps, "--to", "ana") == 0
    assert "nothing changed" in capsys.readouterr().out
    assert run(ws, "worklist") == 0
    table = capsys.readouterr().out
    assert "assignee" in table and "ana" in table
    assert [t["debtor"] for t in worklist(ws, capsys, "--assignee", "ana")] == ["KEEPS"]
    assert worklist(ws, capsys, "--assignee", "bob") == []
    monkeypatch.setattr(getpass, "getuser", lambda: "ana")
    assert [t["debtor"] for t in worklist(ws, capsys, "--mine")] == ["KEEPS"]
    monkeypatch.setattr(getpass, "getuser", lambda: "bob")
    assert worklist(ws, capsys, "--mine") == []
    assert run(ws, "task", "assign", pays, "--to", "bob") == 0
    assert [t["debtor"] for t in worklist(ws, capsys, "--mine")] == ["PAYS"]

    # bad input: one line each, nothing written
    for args, said in (
        (["task", "assign", "99", "--to", "ana"], "no task 99"),
        (["task", "assign", keeps, "--to", " "], "a collector's name is 1 to 200 characters"),
        (["task", "assign", keeps], "say --to NAME, or --nobody"),
        (["worklist", "--mine", "--assignee", "ana"], "--mine and --assignee: choose one"),
    ):
        assert run(ws, *args) == 1, args
        assert said in capsys.readouterr().err

    # no answer: the task stays, for tomorrow; the right party reached: done
    call = ["contact", "add", "KEEPS", "--channel", "call", "--on", "2026-02-02"]
    assert run(ws, *call, "--outcome", "no_answer", "--at", "2026-02-02 10:00") == 0
    assert f"task {keeps} stays open: call again from 2026-02-03" in capsys.readouterr().out
    task = tasks(ws)["KEEPS"]
    assert (task["status"], str(task["not_before"])[:10]) == ("open", "2026-02-03")
    assert run(ws, *call, "--outcome", "right_party", "--at", "2026-02-02 15:00") == 0
    assert f"task {keeps} done: reached the debtor" in capsys.readouterr().out
    assert tasks(ws)["KEEPS"]["status"] == "done"
    assert run(ws, "task", "assign", keeps, "--to", "ana") == 1
    assert "is closed: only an open task is assigned" in capsys.readouterr().err
    # a wrong number closes PAYS's task too; a free-text outcome leaves tasks alone
    other = ["contact", "add", "PAYS", "--channel", "call", "--on", "2026-02-02"]
    assert run(ws, *other, "--outcome", "left_message", "--at", "2026-02-02 11:00") == 0
    assert tasks(ws)["PAYS"]["status"] == "open"
    assert run(ws, *other, "--outcome", "wrong_number", "--at", "2026-02-02 12:00") == 0
    assert tasks(ws)["PAYS"]["note"] == "wrong number: no one to call on it"
    kinds = [r["kind"] for r in tasks(ws)["_log"]["rows"]]  # type: ignore[index]
    assert kinds.count("task.assigned") == 2 and kinds.count("task.rescheduled") == 1
    assert kinds.count("task.closed") == 2
