"""Email addresses as mail libraries take them, through ``arrears dispatch`` to a real SMTP
server (aiosmtpd on loopback): an internationalised domain is IDNA-encoded; a non-ASCII local
part goes with SMTPUTF8 where the server offers it and is a permanent failure of that message
alone where it does not; and no message, whatever goes wrong with it, stops the dispatcher."""

from __future__ import annotations

import email
from collections.abc import Iterator
from datetime import UTC
from email import policy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from arrears.channels.base import Message
from arrears.cli.app import main
from arrears.store.schema import contact_point
from channels_support import (
    DAY,
    SENDING_ENV,
    SENDING_TIME,
    Recorder,
    base_workspace,
    copy_workspace,
    dispatcher,
    engine_of,
    free_port,
    rows,
)

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")

UNICODE_LOCAL = "üser@exämple.com"
UNICODE_DOMAIN = "ana@exämple.com"


class Box:
    def __init__(self) -> None:
        self.received: list[tuple[list[str], bool, email.message.EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=policy.SMTPUTF8)
        self.received.append((list(envelope.rcpt_tos), bool(envelope.smtp_utf8), msg))  # type: ignore[arg-type]
        return "250 OK"


def _server(utf8: bool) -> Iterator[tuple[Box, int]]:
    box, port = Box(), free_port()
    controller = aiosmtpd_controller.Controller(
        box, hostname="127.0.0.1", port=port, enable_SMTPUTF8=utf8
    )
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture
def ws(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    for name, value in SENDING_ENV.items():
        monkeypatch.setenv(name, value)
    return copy_workspace(base_workspace(tmp_path_factory.mktemp("channels")), tmp_path / "ws")


def _emails_due(ws: Path) -> list[dict[str, Any]]:
    return [
        r
        for r in rows(ws)
        if r["channel"] == "email" and r["send_at"].replace(tzinfo=UTC) <= SENDING_TIME  # type: ignore[union-attr]
    ]


def _addresses(ws: Path, *addresses: str) -> list[dict[str, Any]]:
    """Give the first due emails' debtors these addresses; returns those rows."""
    chosen = _emails_due(ws)[: len(addresses)]
    with engine_of(ws).begin() as conn:
        for row, address in zip(chosen, addresses, strict=True):
            conn.execute(
                update(contact_point)
                .where(
                    contact_point.c.debtor_id == row["debtor_id"], contact_point.c.kind == "email"
                )
                .values(value=address)
            )
    return chosen


def _dispatch(ws: Path, monkeypatch: pytest.MonkeyPatch, port: int) -> int:
    monkeypatch.setenv("ARREARS_CHANNELS_EMAIL", "smtp")
    monkeypatch.setenv("ARREARS_SMTP_SECURITY", "none")
    monkeypatch.setenv("ARREARS_SMTP_PORT", str(port))
    return main(["-w", str(ws), "dispatch", "--as-of", DAY.isoformat()])


def test_a_non_ascii_local_part_fails_alone_where_the_server_has_no_smtputf8(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local, domain = _addresses(ws, UNICODE_LOCAL, UNICODE_DOMAIN)
    others = [r for r in _emails_due(ws) if r["id"] not in (local["id"], domain["id"])]
    assert others
    for box, port in _server(utf8=False):
        assert _dispatch(ws, monkeypatch, port) == 0
        after = {r["id"]: r for r in rows(ws)}
        assert "SMTPUTF8" in str(after[local["id"]]["last_error"])
        assert after[local["id"]]["status"] == "failed" or after[local["id"]]["channel"] != "email"
        assert after[domain["id"]]["status"] == "sent"
        assert all(after[r["id"]]["status"] == "sent" for r in others)
        assert not [r for r in after.values() if r["status"] in ("claimed", "sending")]
        recipients = sorted(to for tos, _, _ in box.received for to in tos)
        assert "ana@xn--exmple-cua.com" in recipients  # the domain IDNA-encoded
        assert not [to for to in recipients if not to.isascii()]
        assert len(box.received) == len(others) + 1


def test_a_non_ascii_local_part_goes_with_smtputf8_where_the_server_offers_it(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (local,) = _addresses(ws, UNICODE_LOCAL)
    for box, port in _server(utf8=True):
        assert _dispatch(ws, monkeypatch, port) == 0
        after = {r["id"]: r for r in rows(ws)}
        assert after[local["id"]]["status"] == "sent"
        (mine,) = [(u, m) for tos, u, m in box.received if tos == ["üser@xn--exmple-cua.com"]]
        utf8, msg = mine
        assert utf8  # MAIL FROM ... SMTPUTF8
        assert "<üser@xn--exmple-cua.com>" in str(msg["To"])
        assert len(box.received) == len(_emails_due(ws))


def test_an_unexpected_error_fails_that_message_only_and_the_dispatcher_goes_on(ws: Path) -> None:
    class Buggy(Recorder):
        def send(self, message: Message) -> str:
            if message.key == victim["key"]:
                raise RuntimeError("a bug in an adapter")
            return super().send(message)

    victim = _emails_due(ws)[0]
    adapter = Buggy()
    report = dispatcher(ws, dict.fromkeys(("email", "sms", "letter", "whatsapp"), adapter)).run()
    after = {r["id"]: r for r in rows(ws)}
    assert after[victim["id"]]["status"] == "failed"
    assert "RuntimeError: a bug in an adapter" in str(after[victim["id"]]["last_error"])
    assert report.counts["failed"] == 1 and report.counts["sent"] == len(adapter.sent) > 0
    assert not [r for r in after.values() if r["status"] in ("claimed", "sending")]
