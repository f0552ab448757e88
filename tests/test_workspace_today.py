""" "Today" is the workspace's day (its ``timezone``) for every command and page: at 02:00 UTC on
8 December it is still 7 December in New York, and the CLI, like the web, acts on the 7th."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from arrears import config
from test_cycle_cli import run
from test_cycle_cli import ws as cycle_ws  # noqa: F401  (the cycle's workspace fixture)
from test_ledger_support import imported_workspace

LATE_EVENING = datetime(2026, 12, 8, 2, 0, tzinfo=UTC)  # 21:00 on 7 December in New York

DEBTORS = "debtor_id,name,currency\nD1,Uno,USD\n"
INVOICES = "invoice_id,debtor_id,issue_date,due_date,amount,currency\n" + (
    "I1,D1,2026-10-01,2026-10-31,100.00,USD\n"
)


@pytest.fixture
def late(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("arrears.config._now", lambda: LATE_EVENING)


def test_a_dispute_opened_without_on_is_opened_on_the_workspace_day(
    tmp_path: Path, store_url: str, capsys: pytest.CaptureFixture[str], late: None
) -> None:
    ws = imported_workspace(tmp_path / "ws", store_url, DEBTORS, INVOICES)
    capsys.readouterr()
    assert run(ws, "dispute", "open", "I1", "--reason", "quality") == 0, capsys.readouterr().err
    capsys.readouterr()
    assert run(ws, "dispute", "list", "--format", "json") == 0
    [dispute] = json.loads(capsys.readouterr().out)
    assert dispute["opened_on"] == "2026-12-07"


def test_run_without_as_of_runs_on_the_workspace_day(
    cycle_ws: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    late: None,
) -> None:
    assert run(cycle_ws, "run") == 0, capsys.readouterr().err
    out = " ".join(capsys.readouterr().out.split())
    assert "on 2026-12-07 with" in out and "2026-12-08" not in out


@pytest.mark.parametrize(
    ("zone", "day"),
    [
        ("America/New_York", date(2026, 12, 7)),
        ("Asia/Tokyo", date(2026, 12, 8)),
        ("Pacific/Honolulu", date(2026, 12, 7)),
        ("Not/AZone", date(2026, 12, 8)),  # unknown to Python: the UTC day, as the web did
    ],
)
def test_the_day_follows_the_timezone_setting(tmp_path: Path, zone: str, day: date) -> None:
    ws = config.load(tmp_path, env={"ARREARS_TIMEZONE": zone})
    assert ws.get("timezone") == zone
    assert ws.today(LATE_EVENING) == day
