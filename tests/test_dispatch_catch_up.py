"""Catching up a late day with ``arrears dispatch --as-of DAY``: the contact rules judge each
message at the time it leaves (the clock of the command, frozen here through
``ARREARS_TEST_DISPATCH_NOW``), what may not go now waits for the debtor's next allowed time, and
a killed catch-up's claims are taken back by a rerun of the same day (leases on the real clock).
Every message sent is checked by tests/dispatch_law.py, written apart from the guard."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from arrears.channels.filesink import FileSink
from arrears.cli.app import main
from arrears.store.schema import debtor
from channels_support import DAY, SENDING_TIME, base_workspace, copy_workspace, engine_of, rows
from dispatch_law import Debtor, Sent, violations

CLOCK = "ARREARS_TEST_DISPATCH_NOW"


@pytest.fixture
def ws(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Path:
    return copy_workspace(base_workspace(tmp_path_factory.mktemp("channels")), tmp_path / "ws")


def _law_check(ws: Path) -> tuple[list[dict[str, Any]], list[str]]:
    with engine_of(ws).connect() as conn:
        debtors = {
            d.id: Debtor(d.country, d.kind, d.timezone)
            for d in conn.execute(
                select(debtor.c.id, debtor.c.country, debtor.c.kind, debtor.c.timezone)
            )
        }
    sent = [r for r in rows(ws) if r["status"] == "sent"]
    return sent, violations(
        [Sent(int(r["debtor_id"]), str(r["channel"]), _utc(r["sent_at"])) for r in sent], debtors
    )


def _utc(value: Any) -> datetime:
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def test_a_late_days_catch_up_at_night_sends_only_what_the_law_allows_now(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the next morning at 09:49 UTC: 04:49 in New York and Bogota, 03:49 in Chicago
    morning = datetime(2026, 11, 24, 9, 49, tzinfo=UTC)
    monkeypatch.setenv(CLOCK, morning.isoformat())
    assert main(["-w", str(ws), "dispatch", "--as-of", DAY.isoformat()]) == 0
    sent, broken = _law_check(ws)
    assert broken == []
    assert sent and all(_utc(r["sent_at"]) == morning for r in sent)  # the time they left
    assert {r["channel"] for r in sent} >= {"letter", "email"}  # letters; Berlin and London
    waiting = [r for r in rows(ws) if r["status"] == "queued"]
    assert waiting, "the Americas' emails and SMS wait for their morning"
    assert all(_utc(r["send_at"]) > morning for r in waiting)
    assert all(_utc(r["next_attempt_at"]) == _utc(r["send_at"]) for r in waiting)
    # a rerun of the same catch-up at the same time sends nothing more
    assert main(["-w", str(ws), "dispatch", "--as-of", DAY.isoformat()]) == 0
    assert len([r for r in rows(ws) if r["status"] == "sent"]) == len(sent)
    # at their windows they go, and still within the law
    for at in sorted({_utc(r["send_at"]) for r in waiting}):
        monkeypatch.setenv(CLOCK, at.isoformat())
        assert main(["-w", str(ws), "dispatch"]) == 0
    after, broken = _law_check(ws)
    assert broken == []
    assert not [r for r in rows(ws) if r["status"] in ("queued", "claimed", "sending")]
    assert len(after) == len(sent) + len(waiting)


def test_a_killed_catch_up_is_taken_back_by_a_rerun_of_the_same_day(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CLOCK, SENDING_TIME.isoformat())
    monkeypatch.setenv("ARREARS_DISPATCH_LEASE_SECONDS", "1")
    monkeypatch.setenv("ARREARS_DISPATCH_BATCH_SIZE", "4")
    real_send = FileSink.send
    calls: list[str] = []

    def dies_on_the_second(self: FileSink, message: Any) -> str:
        calls.append(message.key)
        if len(calls) == 2:  # the process stops here, as under SIGKILL: nothing cleans up
            raise KeyboardInterrupt
        return real_send(self, message)

    monkeypatch.setattr(FileSink, "send", dies_on_the_second)
    assert main(["-w", str(ws), "dispatch", "--as-of", DAY.isoformat()]) == 130
    left = [r for r in rows(ws) if r["status"] in ("claimed", "sending")]
    assert any(r["status"] == "claimed" for r in left) and len(left) >= 2
    monkeypatch.setattr(FileSink, "send", real_send)
    time.sleep(1.2)  # the lease is over in real time; the command's clock has not moved
    assert main(["-w", str(ws), "dispatch", "--as-of", DAY.isoformat()]) == 0
    after = {r["id"]: r for r in rows(ws)}
    assert all(after[r["id"]]["status"] == "sent" for r in left)
    assert not [r for r in after.values() if r["status"] in ("claimed", "sending")]
    _, broken = _law_check(ws)
    assert broken == []
