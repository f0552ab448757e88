"""The compliance report judges each contact by the consent in force when it was made (issue 21),
not by the consent recorded now: a consent granted later does not excuse a contact made while
it was refused or not given (``consent_history``, migration 0008)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from arrears.cli.app import main
from arrears.store.database import connect
from arrears.store.schema import consent_history

HEADER = "debtor_id,name,kind,country,timezone,currency,email,consent_email\n"


def _debtors(path: Path, co: str, us: str) -> Path:
    path.write_text(
        HEADER
        + f"C1,Carmen,person,CO,America/Bogota,COP,c1@example.co,{co}\n"
        + f"U1,Uma,person,US,America/New_York,USD,u1@example.com,{us}\n",
        encoding="utf-8",
    )
    return path


def test_a_contact_is_judged_by_the_consent_in_force_when_it_was_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "ws"
    assert main(["init", str(ws)]) == 0
    first = _debtors(tmp_path / "debtors1.csv", co="unknown", us="denied")
    assert main(["-w", str(ws), "import", "debtors", str(first)]) == 0
    # C1 (Colombia: only authorised channels) emailed on a Monday morning, consent not given
    contact = ["contact", "add", "--channel", "email", "--outcome", "no_answer"]
    assert main(["-w", str(ws), *contact, "C1", "--at", "2026-03-02T10:00-05:00"]) == 0
    # U1 emailed now, after the file said they refused email
    time.sleep(0.05)
    assert main(["-w", str(ws), *contact, "U1"]) == 0
    time.sleep(0.05)
    # later the ERP's file grants both
    second = _debtors(tmp_path / "debtors2.csv", co="granted", us="granted")
    assert main(["-w", str(ws), "import", "debtors", str(second)]) == 0

    with connect(f"sqlite:///{ws / 'arrears.db'}").connect() as conn:
        kept = conn.execute(select(consent_history.c.status).order_by(consent_history.c.id))
        assert [r.status for r in kept] == ["unknown", "denied", "granted", "granted"]
    capsys.readouterr()
    until = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    period = ["--from", "2026-03-01", "--to", until, "--format", "json"]
    assert main(["-w", str(ws), "compliance", "report", *period]) == 0
    report = json.loads(capsys.readouterr().out)
    found = sorted((v["debtor"], v["rule"]) for v in report["violations"])
    assert found == [("C1", "co-ley-2300.consent-required"), ("U1", "us-reg-f.opt-out")]


def test_the_consent_in_force_is_that_of_the_points_known_then() -> None:
    import polars as pl

    from arrears.contact.audit import consent_at

    def t(day: int) -> datetime:
        return datetime(2026, 3, day, 12, tzinfo=UTC)

    # debtor 1: point 10 granted on the 1st, refused on the 5th; point 11 (granted) added on the 8th
    # debtor 2: point 20 whose first record, on the 5th, is a refusal
    points = pl.DataFrame(
        {
            "debtor_id": [1, 1, 2],
            "contact_point_id": [10, 11, 20],
            "channel": ["email"] * 3,
            "created_at": [t(1), t(8), t(5)],
        }
    )
    history = pl.DataFrame(
        {
            "contact_point_id": [10, 10, 11, 20],
            "channel": ["email"] * 4,
            "status": ["granted", "denied", "granted", "denied"],
            "recorded_at": [t(1), t(5), t(8), t(5)],
        }
    )
    contacts = pl.DataFrame(
        {
            "_i": [0, 1, 2, 3, 4, 5],
            "debtor_id": [1, 1, 1, 2, 2, 2],
            "channel": ["email", "email", "email", "email", "email", "sms"],
            "at": [t(3), t(6), t(9), t(3), t(6), t(6)],
        }
    )
    got = consent_at(contacts, points, history).sort("_i")["_consent"].to_list()
    assert got == ["granted", "denied", "granted", "unknown", "denied", "none"]
