"""Hostile data end to end: debtor names, invoice numbers and the creditor's name carrying HTML,
Jinja syntax, header injection, right-to-left overrides and emoji go out through every real
channel (SMTP to aiosmtpd, SMS to a local HTTP provider, letters as PDF) and arrive as inert text:
nothing executed, no header added, no extra recipient, no bidi override, no added line."""

from __future__ import annotations

import email
import json
from collections.abc import Iterator
from email import policy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from arrears.store.schema import debtor, invoice
from channels_support import (
    Provider,
    base_workspace,
    copy_workspace,
    dispatcher,
    engine_of,
    free_port,
    provider_server,
    rows,
)

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")

NAME = "<script>alert(1)</script> {{ 7*7 }} \u202eevil\u202c 😀\r\nBcc: spy@evil.test"
NUMBER = "F-1<b>{% raw %}\r\nX-Injected: 1"
CREDITOR = "ACME {{ 7*7 }} <i>\u202e😀"


@pytest.fixture
def ws(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Path:
    ws = copy_workspace(base_workspace(tmp_path_factory.mktemp("channels")), tmp_path / "ws")
    with engine_of(ws).begin() as conn:
        conn.execute(update(debtor).values(name=NAME))
        conn.execute(update(invoice).values(number=invoice.c.number + NUMBER))
    return ws


class Box:
    def __init__(self) -> None:
        self.received: list[tuple[list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        self.received.append((list(envelope.rcpt_tos), msg))  # type: ignore[arg-type]
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Box, int]]:
    box = Box()
    port = free_port()
    controller = aiosmtpd_controller.Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


@pytest.fixture
def http_port() -> Iterator[int]:
    with provider_server() as port:
        yield port


def test_hostile_names_and_numbers_go_out_inert_through_every_channel(
    ws: Path, smtp: tuple[Box, int], http_port: int
) -> None:
    pypdf = pytest.importorskip("pypdf")
    box, port = smtp
    env = {
        "ARREARS_CHANNELS_EMAIL": "smtp",
        "ARREARS_SMTP_PORT": str(port),
        "ARREARS_SMTP_SECURITY": "none",
        "ARREARS_CHANNELS_SMS": "webhook",
        "ARREARS_WEBHOOK_URL": f"http://127.0.0.1:{http_port}/send",
        "ARREARS_CHANNELS_LETTER": "pdf",
        "ARREARS_CHANNELS_CREDITOR_NAME": CREDITOR,
    }
    report = dispatcher(ws, env=env).run()
    sent = {c: [r for r in rows(ws) if r["channel"] == c and r["status"] == "sent"]
            for c in ("email", "sms", "letter")}  # fmt: skip
    assert all(sent.values()), {c: len(v) for c, v in sent.items()}
    assert report.counts["failed"] == 0
    assert report.counts["sent"] == sum(len(v) for v in sent.values())

    # email: one recipient each, no injected header, the name escaped in HTML, never evaluated
    assert len(box.received) == len(sent["email"])
    for recipients, msg in box.received:
        assert len(recipients) == 1 and "evil.test" not in recipients[0]
        assert msg["Bcc"] is None and msg["X-Injected"] is None
        assert "\n" not in str(msg["To"]) and "\n" not in str(msg["Subject"])
        html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
        text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "<script>" not in html and "&lt;script&gt;" in html
        assert "<b>{%" not in html
        assert "{{ 7*7 }}" in text and "</script> 49" not in text
        # the right-to-left override is taken out, the rest is kept; the name stays on its line
        assert "\u202e" not in text + html and " evil " in text and "😀" in text
        assert not any(line.startswith("Bcc:") for line in text.splitlines())

    # SMS: the provider gets the text as JSON data, unevaluated (only the override taken out)
    bodies = [json.loads(r["body"]) for r in Provider.requests]
    assert len(bodies) == len(sent["sms"])
    assert all("{{ 7*7 }}" not in b["to"] for b in bodies)
    assert all(b["text"].startswith(CREDITOR.replace("\u202e", "") + ":") for b in bodies)

    # letters: a PDF per letter whose text carries the hostile name literally
    pdfs = sorted((ws / "outbox" / "letter").glob("*.pdf"))
    assert len(pdfs) == len(sent["letter"])
    text = pypdf.PdfReader(str(pdfs[0])).pages[0].extract_text()
    assert "<script>alert(1)</script>" in text and "{{ 7*7 }}" in text
