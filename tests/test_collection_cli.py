"""``arrears promise / hold / contact / approve / worklist / task`` as a user runs them."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from arrears.cli.app import main
from arrears.store import schema
from arrears.store.database import connect
from test_cycle_store import commit, decisions_day_one
from test_ledger_support import Book


@pytest.fixture
def ws(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A workspace: debtor D1 owes I1 and I2; the cycle opened its case on 2026-03-15 with a call
    task; D2 owes I3 and has no case."""
    root = tmp_path / "ws"
    assert main(["init", str(root)]) == 0
    engine = connect(f"sqlite:///{root / 'arrears.db'}")
    with engine.begin() as conn:
        book = Book(conn)
        book.debtor("D1")
        book.debtor("D2", currency="EUR")
        book.invoice("I1", "D1", ("2026-01-31", "60.00"), ("2026-02-28", "40.00"))
        book.invoice("I2", "D1", ("2026-03-31", "50.00"))
        book.invoice("I3", "D2", ("2026-02-01", "80.00"), currency="EUR")
    commit(engine, decisions_day_one(engine))
    engine.dispose()
    capsys.readouterr()
    return root


def run(ws: Path, *args: str) -> int:
    return main(["-w", str(ws), *args])


def rows(ws: Path, table: str) -> list[dict[str, object]]:
    engine = connect(f"sqlite:///{ws / 'arrears.db'}")
    with engine.connect() as conn:
        found = [dict(r) for r in conn.execute(select(schema.metadata.tables[table])).mappings()]
    engine.dispose()
    return found


def kinds(ws: Path) -> list[str]:
    return [str(r["kind"]) for r in rows(ws, "activity")]


def test_promise_add_and_cancel(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["promise", "add", "D1", "75.50", "--due", "2026-03-20", "--on", "2026-03-15"]
    assert run(ws, *args, "--grace", "2", "--note", "pays Friday") == 0
    assert "promise 1: D1 to pay 75.50 USD by 2026-03-20" in capsys.readouterr().out
    assert run(ws, *args, "--grace", "2") == 0  # the same promise again: nothing new
    [promise] = rows(ws, "promise")
    assert (promise["amount_minor"], promise["currency"], promise["grace_days"]) == (7550, "USD", 2)
    assert promise["note"] == "pays Friday"
    assert run(ws, "promise", "add", "D2", "10", "--due", "2026-03-20", "--on", "2026-03-15") == 0
    assert rows(ws, "promise")[1]["currency"] == "EUR"  # the debtor's currency
    assert run(ws, "promise", "cancel", "1", "--on", "2026-03-16") == 0
    assert run(ws, "promise", "cancel", "1", "--on", "2026-03-16") == 0
    out = capsys.readouterr().out
    assert "promise 1 cancelled" in out and "already cancelled" in out
    assert rows(ws, "promise")[0]["cancelled_on"].isoformat() == "2026-03-16"  # type: ignore[attr-defined]
    assert kinds(ws).count("promise.made") == 2 and kinds(ws).count("promise.cancelled") == 1


def test_promise_bad_input_is_reported_all_at_once(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = ["promise", "add", "D1", "0", "--due", "2026-03-01", "--on", "2026-03-15"]
    assert run(ws, *bad, "--grace", "-1") == 1
    err = capsys.readouterr().err
    assert "amount must be positive" in err
    assert "before the day the promise was made" in err
    assert "grace days must be between 0 and 365" in err
    assert run(ws, "promise", "add", "NOPE", "5", "--due", "2026-03-20") == 1
    assert "unknown debtor 'NOPE'" in capsys.readouterr().err
    assert run(ws, "promise", "add", "D1", "5", "--due", "20-03-2026") == 1
    assert "'20-03-2026' is not a date (YYYY-MM-DD)" in capsys.readouterr().err
    assert (
        run(ws, "promise", "add", "D1", "5.001", "--due", "2026-03-20", "--on", "2026-03-01") == 1
    )
    assert capsys.readouterr().err.count("error:") == 1
    assert run(ws, "promise", "cancel", "99") == 1
    assert "no promise 99" in capsys.readouterr().err
    assert rows(ws, "promise") == []


def test_hold_add_and_release(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hold = ["hold", "add", "D1", "--from", "2026-03-15", "--until", "2026-04-15"]
    assert run(ws, *hold, "--reason", "disputes the delivery") == 0
    assert "hold 1: D1 from 2026-03-15 until 2026-04-15" in capsys.readouterr().out
    assert run(ws, "hold", "release", "1", "--on", "2026-03-20") == 0
    assert run(ws, "hold", "release", "1", "--on", "2026-03-20") == 0
    assert "already released" in capsys.readouterr().out
    assert kinds(ws).count("hold.added") == 1 and kinds(ws).count("hold.released") == 1
    backwards = ["hold", "add", "D1", "--from", "2026-03-15", "--until", "2026-03-15"]
    assert run(ws, *backwards, "--reason", " ") == 1
    err = capsys.readouterr().err
    assert "must end after it starts" in err and "needs a reason" in err
    assert run(ws, "hold", "release", "7") == 1
    assert "no hold 7" in capsys.readouterr().err


def test_contact_add(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    contact = ["contact", "add", "D1", "--channel", "call", "--outcome", "no_answer"]
    assert run(ws, *contact, "--on", "2026-03-15") == 0
    [logged] = [r for r in rows(ws, "activity") if r["kind"] == "contact"]
    assert logged["payload"] == {
        "channel": "call",
        "outcome": "no_answer",
        "on": "2026-03-15",
        "note": None,
    }
    assert run(ws, "contact", "add", "D1", "--channel", "pigeon", "--outcome", "") == 1
    err = capsys.readouterr().err
    assert "unknown channel 'pigeon'" in err and "needs an outcome" in err


def test_approve(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(ws, "approve", "D1", "legal", "--on", "2026-03-16") == 0
    assert "D1: entering 'legal' approved" in capsys.readouterr().out
    assert run(ws, "approve", "D1", "legal") == 0
    assert "already approved" in capsys.readouterr().out
    [given] = rows(ws, "approval")
    assert (given["stage"], str(given["approved_on"])) == ("legal", "2026-03-16")
    assert run(ws, "approve", "D2", "legal") == 1
    assert "debtor 'D2' has no open collection case in EUR" in capsys.readouterr().err
    assert run(ws, "approve", "NOPE", "legal") == 1
    assert "unknown debtor 'NOPE'" in capsys.readouterr().err


def test_worklist_and_task_done(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(ws, "worklist", "--format", "json") == 0
    [task] = json.loads(capsys.readouterr().out)
    assert task["debtor"] == "D1" and task["stage"] == "reminder"
    assert task["overdue"] == "100.00 USD"  # I1's two instalments were due before 2026-03-15
    assert (task["score"], task["task_priority"], task["queue"]) == (7.5, 2, "early")
    assert run(ws, "worklist", "--collector", "ana", "--format", "csv") == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("task_id,score,task_priority")
    assert run(ws, "worklist", "--top", "5") == 0
    assert "D1" in capsys.readouterr().out
    task_id = str(task["task_id"])
    assert run(ws, "task", "done", task_id, "--note", "promised Friday", "--on", "2026-03-16") == 0
    assert f"task {task_id} done" in capsys.readouterr().out
    assert run(ws, "task", "done", task_id) == 0
    assert "already closed" in capsys.readouterr().out
    assert run(ws, "worklist", "--format", "json") == 0
    assert json.loads(capsys.readouterr().out) == []
    assert run(ws, "task", "done", "999") == 1
    assert "no task 999" in capsys.readouterr().err
    assert run(ws, "task", "done", "x") == 2  # a usage error


def test_the_activity_log_names_who_did_it(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    on = ("--on", "2026-03-16")
    assert run(ws, "promise", "add", "D1", "10", "--due", "2026-03-20", *on) == 0
    assert run(ws, "promise", "cancel", "1", *on) == 0
    hold = ("hold", "add", "D1", "--from", "2026-03-16", "--until", "2026-04-01")
    assert run(ws, *hold, "--reason", "dispute") == 0
    assert run(ws, "hold", "release", "1", *on) == 0
    assert run(ws, "contact", "add", "D1", "--channel", "call", "--outcome", "reached", *on) == 0
    assert run(ws, "approve", "D1", "legal", *on) == 0
    capsys.readouterr()
    assert run(ws, "worklist", "--format", "json") == 0
    [task] = json.loads(capsys.readouterr().out)
    assert run(ws, "task", "done", str(task["task_id"]), *on) == 0
    capsys.readouterr()
    assert run(ws, "activity", "--format", "json") == 0
    actors = {r["kind"]: r["actor"] for r in json.loads(capsys.readouterr().out)}
    user = f"cli:{getpass.getuser()}"
    kinds = ("promise.made", "promise.cancelled", "hold.added", "hold.released", "contact",
             "stage.approved", "task.closed")  # fmt: skip
    assert {kind: actors.get(kind) for kind in kinds} == dict.fromkeys(kinds, user)
