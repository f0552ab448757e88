"""The law's notices on what ``arrears dispatch`` sends: a US consumer debtor (``us-reg-f``) gets
the debt-collector notice at the end of every letter (the PDF's text, read with pypdf), every
email (text and HTML) and its statement PDF, and every SMS, in the debtor's language; a debtor
whose pack requires no notice gets none. Through the file sink and a real SMTP server (aiosmtpd
on loopback). The dispatcher adds them, not the templates: a workspace's own templates cannot
forget them."""

from __future__ import annotations

import email
import io
import json
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from arrears.cli.app import main
from arrears.store.schema import contact_point, debtor, outbox
from channels_support import DAY, SENDING_ENV, base_workspace, copy_workspace, engine_of, free_port

pypdf = pytest.importorskip("pypdf")

#: Regulation F's disclosure, as the us-reg-f pack ships it (12 CFR 1006.18(e))
NOTICE_EN = (
    "This communication is from a debt collector. This is an attempt to collect a debt and any "
    "information obtained will be used for that purpose."
)
NOTICE_ES = (
    "Esta comunicación proviene de un cobrador de deudas. Se trata de un intento de cobrar una "
    "deuda y cualquier información obtenida se utilizará para ese fin."
)
NOTICES = {"en": NOTICE_EN, "es": NOTICE_ES}
#: what no message of a pack without a notice may say
FOREIGN = ("debt collector", "cobrador de deudas")


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def ws(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    for name, value in SENDING_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ARREARS_CHANNELS_LETTER", "pdf")
    ws = copy_workspace(base_workspace(tmp_path_factory.mktemp("notices")), tmp_path / "ws")
    # the US consumer's letter goes to a Spanish speaker: the notice in Spanish
    (letter,) = [
        r for r in _queued(ws) if r["rule_pack"] == "us-reg-f" and r["channel"] == "letter"
    ]
    with engine_of(ws).begin() as conn:
        conn.execute(update(debtor).where(debtor.c.id == letter["debtor_id"]).values(language="es"))
    # the workspace's templates: they say nothing of the law (the dispatcher adds it)
    for template in (ws / "templates").rglob("*.j2"):
        assert "debt collector" not in template.read_text("utf-8")
    return ws


def _queued(ws: Path) -> list[dict[str, Any]]:
    with engine_of(ws).connect() as conn:
        query = (
            select(outbox, debtor.c.external_id, debtor.c.language)
            .join(debtor, debtor.c.id == outbox.c.debtor_id)
            .order_by(outbox.c.id)
        )
        return [dict(r._mapping) for r in conn.execute(query)]


def _sent(ws: Path, pack: str, channel: str) -> list[dict[str, Any]]:
    found = [
        r
        for r in _queued(ws)
        if r["rule_pack"] == pack and r["channel"] == channel and r["status"] == "sent"
    ]
    assert found, f"the base workspace sends a {channel} under {pack}"
    return found


def _pdf_text(data: bytes) -> str:
    return _flat(" ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages))


def _parts(msg: email.message.Message) -> tuple[str, str, list[str]]:
    """The text body, the HTML body and the text of each PDF attachment."""
    assert isinstance(msg, EmailMessage)
    text, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert text is not None and html is not None
    pdfs = [
        _pdf_text(part.get_content())
        for part in msg.iter_attachments()
        if part.get_content_type() == "application/pdf"
    ]
    return str(text.get_content()), str(html.get_content()), pdfs


def _check_email(msg: email.message.Message, language: str | None) -> None:
    """``language``: the notice expected in it; None: no notice at all."""
    text, html, statements = _parts(msg)
    if language is None:
        for part in (text, html, *statements):
            assert not [w for w in FOREIGN if w in part], part
        return
    notice = NOTICES[language]
    assert _flat(text).endswith(notice)  # at the end of the text, after the template's
    assert notice in _flat(html)
    assert _flat(html).index(notice) < _flat(html).index("</body>")
    assert statements, "a dunning email carries the statement"
    for statement in statements:
        assert statement.count(notice) == 1 and statement.endswith(notice)


def _letter(ws: Path, row: dict[str, Any]) -> str:
    (path,) = (ws / "outbox" / "letter").glob(f"{row['external_id']}-*.pdf")
    return _pdf_text(path.read_bytes())


def test_letters_emails_statements_and_sms_carry_the_packs_notice_in_the_file_sink(
    ws: Path,
) -> None:
    assert main(["-w", str(ws), "dispatch", "--as-of", DAY.isoformat()]) == 0
    (us_letter,) = _sent(ws, "us-reg-f", "letter")
    text = _letter(ws, us_letter)
    assert text.endswith(NOTICE_ES) and NOTICE_EN not in text
    for row in _sent(ws, "default", "letter"):
        text = _letter(ws, row)
        assert not [w for w in FOREIGN if w in text], text

    emails = {
        path.name.split("-arrears-")[0]: email.message_from_bytes(
            path.read_bytes(), policy=policy.default
        )
        for path in (ws / "outbox" / "email").glob("*.eml")
    }
    for row in _sent(ws, "us-reg-f", "email"):
        _check_email(emails[row["external_id"]], row["language"])
    others = [r for pack in ("default", "eu-b2b", "uk-fca") for r in _sent(ws, pack, "email")]
    for row in others:
        _check_email(emails[row["external_id"]], None)

    for row in _sent(ws, "us-reg-f", "sms"):
        (path,) = (ws / "outbox" / "sms").glob(f"{row['external_id']}-*.json")
        assert json.loads(path.read_text("utf-8"))["text"].endswith("\n\n" + NOTICE_EN)


def test_a_letter_in_the_file_sink_names_its_notice(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARREARS_CHANNELS_LETTER", "file")
    assert main(["-w", str(ws), "dispatch", "--as-of", DAY.isoformat()]) == 0
    (us_letter,) = _sent(ws, "us-reg-f", "letter")
    (path,) = (ws / "outbox" / "letter").glob(f"{us_letter['external_id']}-*.json")
    assert json.loads(path.read_text("utf-8"))["legal_notice"] == NOTICE_ES
    for row in _sent(ws, "default", "letter"):
        (path,) = (ws / "outbox" / "letter").glob(f"{row['external_id']}-*.json")
        assert json.loads(path.read_text("utf-8"))["legal_notice"] == ""


class _Box:
    def __init__(self) -> None:
        self.received: dict[str, email.message.Message] = {}

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        for to in envelope.rcpt_tos:
            self.received[to] = msg
        return "250 OK"


def test_emails_through_smtp_carry_the_notice_and_others_none(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    controller_module = pytest.importorskip("aiosmtpd.controller")
    box, port = _Box(), free_port()
    controller = controller_module.Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        monkeypatch.setenv("ARREARS_CHANNELS_EMAIL", "smtp")
        monkeypatch.setenv("ARREARS_SMTP_SECURITY", "none")
        monkeypatch.setenv("ARREARS_SMTP_PORT", str(port))
        assert main(["-w", str(ws), "dispatch", "--as-of", DAY.isoformat()]) == 0
    finally:
        controller.stop()
    addresses: dict[int, set[str]] = {}
    with engine_of(ws).connect() as conn:
        points = select(contact_point.c.debtor_id, contact_point.c.value).where(
            contact_point.c.kind == "email"
        )
        for debtor_id, value in conn.execute(points):
            addresses.setdefault(debtor_id, set()).add(value)

    def received(row: dict[str, Any]) -> email.message.Message:
        (msg,) = [m for to, m in box.received.items() if to in addresses[row["debtor_id"]]]
        return msg

    us = _sent(ws, "us-reg-f", "email")
    others = [r for pack in ("default", "eu-b2b", "uk-fca") for r in _sent(ws, pack, "email")]
    # and every other pack's (co-ley-2300 asks no notice on emails)
    others += [
        r
        for r in _queued(ws)
        if r["channel"] == "email"
        and r["status"] == "sent"
        and r["rule_pack"] not in ("us-reg-f", "default", "eu-b2b", "uk-fca")
    ]
    assert len(box.received) == len(us) + len(others)
    for row in us:
        _check_email(received(row), row["language"])
    for row in others:
        _check_email(received(row), None)


def test_the_preview_shows_the_notice_the_dispatcher_adds(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for pack, expected in (("us-reg-f", True), ("default", False)):
        row = next(r for r in _queued(ws) if r["rule_pack"] == pack and r["channel"] == "email")
        capsys.readouterr()
        preview = ["template", "render", row["template"], "--debtor", row["external_id"]]
        assert main(["-w", str(ws), *preview]) == 0
        out = _flat(capsys.readouterr().out)
        assert (NOTICES[row["language"]] in out) is expected
        assert ("debt collector" in out) is expected


def test_a_policy_removes_the_message_notice_with_an_empty_text() -> None:
    from arrears.channels.base import Message
    from arrears.channels.notices import with_notices
    from arrears.contact.packs import effective_packs

    sms = Message(
        key="k", idempotency_key="arrears-1", channel="sms", to="+15550000001", debtor="D1",
        language="es", subject="", text="Su factura está vencida.",
    )  # fmt: skip
    shipped = effective_packs({})["us-reg-f"]
    assert with_notices(sms, shipped).text == "Su factura está vencida.\n\n" + NOTICE_ES
    creditor = effective_packs({"us-reg-f": {"message_notice": {"en": "", "es": ""}}})
    assert with_notices(sms, creditor["us-reg-f"]) == sms
