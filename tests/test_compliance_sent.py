"""The compliance report counts only messages that went out, at the time they went out (issue 21):
a queued or blocked message is no contact, and a message scheduled on one day but sent on the
next is a contact of the next day (``sent_at``, not ``send_at``)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from arrears.cli.app import main
from channels_support import DAY, Recorder, base_workspace, copy_workspace, dispatcher, rows


@pytest.fixture
def ws(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Path:
    return copy_workspace(base_workspace(tmp_path_factory.mktemp("channels")), tmp_path / "ws")


def _cycle_contacts(ws: Path, capsys: pytest.CaptureFixture[str], day: object) -> int:
    capsys.readouterr()
    period = ["--from", str(day), "--to", str(day), "--format", "json"]
    assert main(["-w", str(ws), "compliance", "report", *period]) == 0
    report = json.loads(capsys.readouterr().out)
    return sum(r["contacts"] for r in report["contacts"] if r["source"] == "cycle")


def test_queued_and_blocked_messages_are_not_contacts(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queued = [r for r in rows(ws) if r["status"] == "queued"]
    assert queued and all(r["send_at"] is not None for r in queued)
    assert _cycle_contacts(ws, capsys, DAY) == 0  # nothing went out yet
    # the ERP marks every debtor do-not-contact, so dispatch blocks every message: no contact
    source = base_workspace(ws.parent).joinpath("data", "debtors.csv").read_text(encoding="utf-8")
    table = list(csv.DictReader(io.StringIO(source)))
    for row in table:
        row["do_not_contact"] = "yes"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(table[0]))
    writer.writeheader()
    writer.writerows(table)
    (ws.parent / "debtors.csv").write_text(out.getvalue(), encoding="utf-8")
    assert main(["-w", str(ws), "import", "debtors", str(ws.parent / "debtors.csv")]) == 0
    report = dispatcher(ws, dict.fromkeys(("email", "sms", "letter", "whatsapp"), Recorder())).run()
    assert report.counts["sent"] == 0 and report.counts["blocked"] >= 1
    assert _cycle_contacts(ws, capsys, DAY) == 0


def test_a_message_counts_on_the_day_it_was_sent(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    late = DAY + timedelta(days=1)  # the worker was down: the day's messages leave next morning
    rec = Recorder()
    at = datetime(late.year, late.month, late.day, 15, 0, tzinfo=UTC)
    dispatcher(ws, dict.fromkeys(("email", "sms", "letter", "whatsapp"), rec), at=at).run()
    sent = [r for r in rows(ws) if r["status"] == "sent"]
    assert sent and len(sent) == len(rec.sent)
    assert all(r["send_at"].date() <= DAY for r in sent)  # type: ignore[union-attr]
    assert _cycle_contacts(ws, capsys, DAY) == 0
    assert _cycle_contacts(ws, capsys, late) == len(sent)
