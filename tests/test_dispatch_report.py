"""``arrears dispatch`` says what it did not send and why, by rule: messages the contact rules
hold for later (a public holiday, outside the hours...: deferred by the cycle, or at send time),
planned for later, blocked (do-not-contact, opt-out...) or failed. Golden counts for a small
portfolio run on 2026-12-08, a public holiday in Colombia (and in Germany and Mexico none):
before, dispatch printed ``sent 13, deferred 0`` while the cycle had put six of the day's
messages off to the next day for the holiday."""

from __future__ import annotations

import csv
import io
import json
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select, update

from arrears.cli.app import main
from arrears.store.messages.outbox import held
from arrears.store.schema import consent, contact_point, debtor, outbox, portfolio
from channels_support import engine_of

DAY = date(2026, 12, 8)  # Tuesday: Inmaculada Concepción in Colombia
NOW = "2026-12-08T16:00:00+00:00"  # Bogota 11:00, Berlin 17:00, New York 11:00
_BASE: dict[str, Path] = {}

#: what the dispatch of DAY did not send, by outcome and rule (golden)
NOT_SENT = [
    {"outcome": "held", "rule": "", "why": "planned for later", "messages": 4,
     "next": "2026-12-08T17:00Z"},
    {"outcome": "held", "rule": "co-ley-2300.holiday", "why": "a public holiday", "messages": 5,
     "next": "2026-12-09T12:00Z"},  # Bogota 07:00
    {"outcome": "held", "rule": "default.holiday", "why": "a public holiday", "messages": 1,
     "next": "2026-12-09T07:00Z"},
    {"outcome": "held", "rule": "eu-b2b.holiday", "why": "a public holiday", "messages": 1,
     "next": "2026-12-09T07:00Z"},  # Berlin 08:00
]  # fmt: skip


def _base(root: Path) -> Path:
    if "ws" not in _BASE:
        ws, data = root / "ws", root / "data"
        assert main(["init", str(ws)]) == 0
        gen = ["generate", str(data), "--debtors", "120", "--months", "4", "--seed", "3"]
        assert main([*gen, "--as-of", DAY.isoformat()]) == 0
        for kind in ("debtors", "invoices", "payments"):
            assert main(["-w", str(ws), "import", kind, str(data / f"{kind}.csv")]) == 0
        assert main(["-w", str(ws), "run", "--as-of", DAY.isoformat()]) == 0
        _BASE["ws"] = ws
    return _BASE["ws"]


@pytest.fixture
def ws(
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Path:
    monkeypatch.setenv("ARREARS_TEST_DISPATCH_NOW", NOW)
    base = _base(tmp_path_factory.mktemp("report"))
    ws = Path(shutil.copytree(base, tmp_path / "ws"))
    capsys.readouterr()
    return ws


def _dispatch(ws: Path, capsys: pytest.CaptureFixture[str], fmt: str | None = None) -> str:
    capsys.readouterr()
    options = [] if fmt is None else ["--format", fmt]
    assert main(["-w", str(ws), "dispatch", "--as-of", DAY.isoformat(), *options]) == 0
    return capsys.readouterr().out


def _due_emails(ws: Path) -> list[dict[str, Any]]:
    with engine_of(ws).connect() as conn:
        query = select(outbox).where(outbox.c.channel == "email").order_by(outbox.c.id)
        return [
            dict(r._mapping)
            for r in conn.execute(query)
            if r.send_at.isoformat() <= NOW.removesuffix("+00:00")
        ]


def test_dispatch_counts_what_it_did_not_send_by_rule(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = json.loads(_dispatch(ws, capsys, "json"))
    assert report["not_sent"] == NOT_SENT
    assert {k: report[k] for k in ("sent", "deferred", "blocked", "failed")} == {
        "sent": 13,
        "deferred": 0,
        "blocked": 0,
        "failed": 0,
    }
    with engine_of(ws).connect() as conn:
        queued = conn.execute(select(outbox.c.id).where(outbox.c.status == "queued")).all()
    assert len(queued) == sum(row["messages"] for row in NOT_SENT)


def test_blocked_and_deferred_at_send_time_are_counted_by_rule(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # since the run: a debtor marked do-not-contact, one opted out of email, one now in Tokyo
    # (01:00 there when the messages leave: deferred to the morning)
    first, second, third = [r for r in _due_emails(ws) if r["rule_pack"] == "default"][:3]
    with engine_of(ws).begin() as conn:
        conn.execute(
            update(debtor).where(debtor.c.id == first["debtor_id"]).values(do_not_contact=True)
        )
        points = select(contact_point.c.id).where(contact_point.c.debtor_id == second["debtor_id"])
        conn.execute(
            update(consent)
            .where(consent.c.contact_point_id.in_(points), consent.c.channel == "email")
            .values(status="denied", source="test")
        )
        conn.execute(
            update(debtor).where(debtor.c.id == third["debtor_id"]).values(timezone="Asia/Tokyo")
        )
    rows = list(csv.DictReader(io.StringIO(_dispatch(ws, capsys, "csv"))))
    assert [(r["outcome"], r["rule"], int(r["messages"])) for r in rows] == [
        ("sent", "", 10),
        ("held", "", 4),
        ("held", "co-ley-2300.holiday", 5),
        ("held", "default.holiday", 1),
        ("held", "default.hours", 1),  # deferred at send time
        ("held", "eu-b2b.holiday", 1),
        ("blocked", "default.do-not-contact", 1),
        ("blocked", "default.opt-out", 1),
    ]
    assert [r["why"] for r in rows[4:]] == [
        "outside the allowed hours",
        "a public holiday",
        "the debtor is marked do-not-contact",
        "the debtor opted out of the channel",
    ]


def test_the_table_says_what_was_held_for_a_holiday(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = " ".join(_dispatch(ws, capsys).split())  # the table, by default
    assert "dispatch: sent 13, deferred 0, blocked 0" in out
    assert "not sent: 11 held for later, 0 blocked, 0 failed" in out
    assert "co-ley-2300.holiday │ a public holiday │ 5" in out


def test_the_held_count_reads_alike_on_sqlite_and_postgresql(engine: Engine) -> None:
    """``store.outbox.held``: queued messages not due yet, by rule, retry and first due time."""
    at = datetime(2026, 12, 8, 16, tzinfo=UTC)
    with engine.begin() as conn:
        pid = conn.execute(
            insert(portfolio).values(code="p", name="p", base_currency="USD", created_at=at)
        ).inserted_primary_key[0]
        did = conn.execute(
            insert(debtor).values(
                portfolio_id=pid, external_id="D1", name="D", kind="person", country="US",
                timezone="America/New_York", language="en", currency="USD", tags=[],
                attributes={}, row_hash="-", created_at=at, updated_at=at,
            )
        ).inserted_primary_key[0]  # fmt: skip
        rows = [  # (status, hours from now, rule, last error)
            ("queued", 20, "co-ley-2300.holiday", None),
            ("queued", 2, "co-ley-2300.holiday", None),
            ("queued", 1, None, None),
            ("queued", 3, None, "421 try later"),
            ("queued", -1, None, None),  # due: not held
            ("blocked", 5, "us-reg-f.opt-out", None),  # not queued
        ]
        for n, (status, hours, rule, error) in enumerate(rows):
            due = at + timedelta(hours=hours)
            conn.execute(
                insert(outbox).values(
                    key=f"k{n}", portfolio_id=pid, debtor_id=did, channel="email", params={},
                    created_on=at.date(), status=status, attempts=0, send_at=due, created_at=at,
                    rule=rule, last_error=error, next_attempt_at=due if error else None,
                )
            )  # fmt: skip
    assert held(engine, portfolio=pid, after=at) == [
        ("", False, 1, at + timedelta(hours=1)),
        ("", True, 1, at + timedelta(hours=3)),
        ("co-ley-2300.holiday", False, 2, at + timedelta(hours=2)),
    ]
