"""Tasks assigned by queue, through the command line: collectors belong to queues (``user add
--queue``, ``user queues``), each ``arrears run`` gives a queue's waiting tasks to its
collectors (the best task to the least loaded collector, then by name), never takes back a task
a person assigned or unassigned, and ``worklist --mine`` shows one's own."""

from __future__ import annotations

import getpass
import io
import json
import sys
from pathlib import Path

import pytest

from test_cycle_cli import reachable, run
from test_ledger_support import cli_workspace

POLICY = """
policy: queues
stages:
  - {name: clear}
  - {name: early, when: days_past_due >= 1}
segments:
  - {name: all}
cadences:
  - stage: early
    steps:
      - {id: call, offset: 2, action: call_task, priority: 3, queue: phones}
contact_rules:
  default: {hours: {sun: {start: "08:00", end: "20:00"}}, caps: [], holidays_closed: false}
"""

#: Debtors and what they owe (the worklist's best first: the larger the debt, the higher).
OWED = {"A1": "9000.00", "B2": "7000.00", "C3": "5000.00", "D4": "3000.00", "E5": "1000.00"}


@pytest.fixture
def ws(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    owing = [
        (reachable(name, f"+1212555030{n}"), f"I-{name}", amount)
        for n, (name, amount) in enumerate(OWED.items())
    ]
    root = cli_workspace(tmp_path / "ws", "queues.yaml", POLICY, owing)
    capsys.readouterr()
    return root


def cycle(ws: Path, day: str) -> int:
    return run(ws, "run", "--as-of", day, "--policy", str(ws / "queues.yaml"))


def add_user(ws: Path, monkeypatch: pytest.MonkeyPatch, name: str, *more: str) -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO("a long password\n"))
    return run(ws, "user", "add", name, "--role", "collector", "--password-stdin", *more)


def assigned(ws: Path, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, str | None]:
    capsys.readouterr()
    assert run(ws, "worklist", "--format", "json", *args) == 0
    return {str(t["debtor"]): t["collector"] for t in json.loads(capsys.readouterr().out)}


def test_each_run_assigns_a_queues_waiting_tasks_to_its_collectors(
    ws: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert add_user(ws, monkeypatch, "bob", "--queue", "phones") == 0
    assert add_user(ws, monkeypatch, "ana", "--queue", "phones", "--queue", "letters") == 0
    assert add_user(ws, monkeypatch, "eve", "--queue", "letters") == 0
    assert "user ana added (collector, queues letters, phones)" in capsys.readouterr().out
    assert cycle(ws, "2026-02-01") == 0
    assert cycle(ws, "2026-02-02") == 0  # the calls come due, in queue phones
    # best task first to the least loaded collector, a tie to the first name
    assert assigned(ws, capsys) == {"A1": "ana", "B2": "bob", "C3": "ana", "D4": "bob", "E5": "ana"}
    # by hand: C3 to eve, E5 to nobody; a run never undoes either
    assert run(ws, "task", "assign", str(_task(ws, capsys, "C3")), "--to", "eve") == 0
    assert run(ws, "task", "assign", str(_task(ws, capsys, "E5")), "--nobody") == 0
    # bob leaves the queue: the tasks the run gave him go back to it
    assert run(ws, "user", "queues", "bob", "letters") == 0
    assert "user bob works letters" in capsys.readouterr().out
    assert cycle(ws, "2026-02-03") == 0
    assert assigned(ws, capsys) == {"A1": "ana", "B2": "ana", "C3": "eve", "D4": "ana", "E5": None}
    monkeypatch.setattr(getpass, "getuser", lambda: "ana")
    assert sorted(assigned(ws, capsys, "--mine")) == ["A1", "B2", "D4"]
    assert cycle(ws, "2026-02-03") == 0  # the same day again: nothing moves
    assert assigned(ws, capsys)["E5"] is None
    capsys.readouterr()
    assert run(ws, "user", "list", "--format", "json") == 0
    listed = {u["user"]: u["queues"] for u in json.loads(capsys.readouterr().out)}
    assert listed == {"ana": "letters, phones", "bob": "letters", "eve": "letters"}


def test_a_bad_queue_name_is_refused(
    ws: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert add_user(ws, monkeypatch, "ana", "--queue", "no spaces", "--queue", "") == 1
    err = capsys.readouterr().err
    assert "'no spaces' is not a queue" in err and "'' is not a queue" in err
    assert run(ws, "user", "queues", "nobody", "phones") == 1
    assert "no user 'nobody'" in capsys.readouterr().err


def _task(ws: Path, capsys: pytest.CaptureFixture[str], debtor: str) -> int:
    capsys.readouterr()
    assert run(ws, "worklist", "--format", "json") == 0
    found = [t for t in json.loads(capsys.readouterr().out) if t["debtor"] == debtor]
    return int(found[0]["task_id"])


BY_SEGMENT = """
policy: queues-by-segment
stages:
  - {name: clear}
  - {name: early, when: days_past_due >= 1}
segments:
  - {name: key, when: balance >= 5000}
  - {name: standard}
cadences:
  - segment: key
    stage: early
    steps:
      - {id: call-key, offset: 2, action: call_task, priority: 1, queue: key-accounts}
  - segment: standard
    stage: early
    steps:
      - {id: call-std, offset: 2, action: call_task, priority: 3, queue: phones}
contact_rules:
  default: {hours: {sun: {start: "08:00", end: "20:00"}}, caps: [], holidays_closed: false}
"""


def test_tasks_go_to_collectors_by_segment_through_each_segments_queue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/agreements.md, 'By segment': a segment's call step names its queue."""
    owing = [
        (reachable(name, f"+1212555031{n}"), f"I-{name}", amount)
        for n, (name, amount) in enumerate(OWED.items())
    ]
    root = cli_workspace(tmp_path / "ws", "segments.yaml", BY_SEGMENT, owing)
    assert add_user(root, monkeypatch, "kim", "--queue", "key-accounts") == 0
    assert add_user(root, monkeypatch, "pat", "--queue", "phones") == 0
    for day in ("2026-02-01", "2026-02-02"):
        assert run(root, "run", "--as-of", day, "--policy", str(root / "segments.yaml")) == 0
    # A1, B2, C3 owe 5,000 or more: segment key, queue key-accounts, kim; the rest pat's
    assert assigned(root, capsys) == {"A1": "kim", "B2": "kim", "C3": "kim", "D4": "pat",
                                      "E5": "pat"}  # fmt: skip
