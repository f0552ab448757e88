"""One opt-out, whichever way it comes: ``arrears opt-out`` (a followed link typed in), the web's
opt-out link and STOP replies all call :func:`arrears.services.outreach.messages.opt_out`. Asking
again
changes and records nothing, and the activity record names who did it: the command line's user,
or the debtor (the link, a reply relayed by a provider)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from arrears import config
from arrears.channels.base import opt_out_url
from arrears.channels.http import callback_signature
from arrears.cli.app import main
from arrears.cli.context import actor as cli_user
from arrears.store.schema import activity, consent, contact_point, debtor
from arrears.web import create_app
from arrears.web.optout import TEXT
from channels_support import DAY, SENDING_ENV, copy_workspace, engine_of

SECRET = "services-secret"
_BASE: dict[str, Path] = {}


def _debtors(root: Path) -> Path:
    """A workspace with the debtors of a small generated portfolio (no cycle: nothing sent)."""
    if "ws" not in _BASE:
        ws, data = root / "base", root / "data"
        assert main(["init", str(ws)]) == 0
        generate = ["generate", str(data), "--debtors", "20", "--months", "2", "--seed", "5"]
        assert main([*generate, "--as-of", DAY.isoformat()]) == 0
        assert main(["-w", str(ws), "import", "debtors", str(data / "debtors.csv")]) == 0
        _BASE["ws"] = ws
    return _BASE["ws"]


@pytest.fixture
def ws(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    for name, value in {**SENDING_ENV, "ARREARS_CHANNELS_SECRET": SECRET}.items():
        monkeypatch.setenv(name, value)
    return copy_workspace(_debtors(tmp_path_factory.mktemp("services")), tmp_path / "ws")


def _with_point(ws: Path, kind: str) -> tuple[int, str, str]:
    """(id, external id, address) of the first debtor with a valid ``kind`` contact point."""
    with engine_of(ws).connect() as conn:
        row = conn.execute(
            select(debtor.c.id, debtor.c.external_id, contact_point.c.value)
            .join(contact_point, contact_point.c.debtor_id == debtor.c.id)
            .where(contact_point.c.kind == kind, contact_point.c.status == "valid")
            .order_by(debtor.c.id)
        ).first()
    assert row is not None
    return int(row.id), str(row.external_id), str(row.value)


def _opted_out(ws: Path, debtor_id: int) -> list[tuple[str, Any]]:
    """The debtor's ``message.opted_out`` records: (actor, channel)."""
    with engine_of(ws).connect() as conn:
        rows = conn.execute(
            select(activity.c.actor, activity.c.payload)
            .where(activity.c.kind == "message.opted_out", activity.c.debtor_id == debtor_id)
            .order_by(activity.c.id)
        ).all()
    return [(r.actor, r.payload["channel"]) for r in rows]


def _consents(ws: Path, debtor_id: int, channel: str) -> list[str]:
    with engine_of(ws).connect() as conn:
        return list(
            conn.execute(
                select(consent.c.status)
                .join(contact_point, contact_point.c.id == consent.c.contact_point_id)
                .where(contact_point.c.debtor_id == debtor_id, consent.c.channel == channel)
            ).scalars()
        )


def _again(page: str) -> bool:
    """The opt-out page says the debtor had already asked (in the debtor's language)."""
    return any(TEXT[language]["again"].partition(":")[0] in page for language in TEXT)


def _client(ws: Path) -> TestClient:
    return TestClient(create_app(config.load(ws)))


def test_opting_out_twice_on_the_command_line_records_once(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    debtor_id, ext, _ = _with_point(ws, "email")
    link = opt_out_url("https://x.test/opt-out", SECRET, ext, "email")
    assert main(["-w", str(ws), "opt-out", link]) == 0
    assert "contact points changed" in capsys.readouterr().out
    assert main(["-w", str(ws), "opt-out", link]) == 0
    assert f"{ext} opted out of email (0 contact points changed)" in capsys.readouterr().out
    assert _opted_out(ws, debtor_id) == [(cli_user(), "email")]
    assert set(_consents(ws, debtor_id, "email")) == {"denied"}


def test_the_web_link_after_the_command_line_changes_and_records_nothing(ws: Path) -> None:
    debtor_id, ext, _ = _with_point(ws, "email")
    link = opt_out_url("https://x.test/opt-out", SECRET, ext, "email")
    assert main(["-w", str(ws), "opt-out", link]) == 0
    with _client(ws) as client:
        page = client.post("/opt-out", params={"d": ext, "c": "email", "s": link.split("s=")[1]})
    assert page.status_code == 200 and _again(page.text)
    assert _opted_out(ws, debtor_id) == [(cli_user(), "email")]
    assert set(_consents(ws, debtor_id, "email")) == {"denied"}


def test_the_web_link_names_the_debtor_and_the_command_line_then_records_nothing(
    ws: Path,
) -> None:
    debtor_id, ext, _ = _with_point(ws, "email")
    link = opt_out_url("https://x.test/opt-out", SECRET, ext, "email")
    with _client(ws) as client:
        signature = link.split("s=")[1]
        page = client.post("/opt-out", params={"d": ext, "c": "email", "s": signature})
        assert page.status_code == 200 and not _again(page.text)
    assert main(["-w", str(ws), "opt-out", link]) == 0
    assert _opted_out(ws, debtor_id) == [(f"debtor:{ext}", "email")]


def test_a_stop_reply_names_the_debtor_relayed_and_the_user_typed_in(ws: Path) -> None:
    debtor_id, ext, number = _with_point(ws, "phone")
    body = b'{"id": "in-1", "channel": "sms", "from": "%s", "text": "STOP"}' % number.encode()
    headers = {"X-Arrears-Signature": callback_signature(SECRET, body)}
    with _client(ws) as client:
        answer = client.post("/inbound/webhook", content=body, headers=headers)
    assert answer.json() == {"opt_out": True, "known": True, "recorded": True}
    reply = ["-w", str(ws), "inbound", "--from", number, "--text", "STOP"]
    assert main([*reply]) == 0  # sms again: nothing
    assert main([*reply, "--channel", "whatsapp"]) == 0
    assert main([*reply, "--channel", "whatsapp"]) == 0
    assert _opted_out(ws, debtor_id) == [(f"debtor:{ext}", "sms"), (cli_user(), "whatsapp")]


def test_a_grant_names_the_user_and_a_new_refusal_after_it_is_recorded(ws: Path) -> None:
    debtor_id, ext, _ = _with_point(ws, "email")
    link = opt_out_url("https://x.test/opt-out", SECRET, ext, "email")
    grant = ["-w", str(ws), "compliance", "grant", ext, "--channel", "email"]
    assert main(["-w", str(ws), "opt-out", link]) == 0
    assert main([*grant, "--reason", "signed form"]) == 0
    assert set(_consents(ws, debtor_id, "email")) == {"granted"}
    with engine_of(ws).connect() as conn:
        granted = conn.execute(
            select(activity.c.actor).where(
                activity.c.kind == "consent.granted", activity.c.debtor_id == debtor_id
            )
        ).scalar_one()
    assert granted == cli_user()
    assert main(["-w", str(ws), "opt-out", link]) == 0  # refused again: a new fact
    assert _opted_out(ws, debtor_id) == [(cli_user(), "email")] * 2
    assert set(_consents(ws, debtor_id, "email")) == {"denied"}
