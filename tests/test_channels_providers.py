"""The adapters against real servers on loopback: SMTP (aiosmtpd, STARTTLS + AUTH), the JSON
webhook and Twilio-compatible HTTP providers (http.server), PDF letters (text extracted with
pypdf), and a worker that stops cleanly on SIGTERM."""

from __future__ import annotations

import email
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from email import policy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from arrears.channels.base import (
    ChannelSettings,
    Message,
    PermanentFailure,
    TemporaryFailure,
    idempotency_key,
    verify_opt_out,
)
from arrears.channels.http import (
    TwilioChannel,
    WebhookChannel,
    callback_signature,
    is_opt_out,
    verify_callback,
)
from arrears.channels.letter import letter_pdf
from arrears.store.schema import contact_point
from channels_support import (
    Provider,
    base_workspace,
    copy_workspace,
    dispatcher,
    engine_of,
    provider_server,
    rows,
)

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402


@pytest.fixture
def ws(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Path:
    return copy_workspace(base_workspace(tmp_path_factory.mktemp("channels")), tmp_path / "ws")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


class Mailbox:
    def __init__(self, refuse: set[str]) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.refuse = refuse
        self.logins: list[bytes] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=policy.default)  # type: ignore[arg-type]
        )
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"s3cret"
        if ok:
            self.logins.append(auth_data.login)
        return AuthResult(success=ok)


@pytest.fixture
def smtp_server(certificate: tuple[Path, Path]) -> Iterator[tuple[Mailbox, int]]:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(certificate[0]), str(certificate[1]))
    box = Mailbox(refuse=set())
    port = _free_port()
    controller = aiosmtpd_controller.Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        tls_context=ctx,
        require_starttls=True,
        authenticator=box.authenticate,
        auth_required=True,
    )
    controller.start()
    yield box, port
    controller.stop()


def test_email_over_smtp_with_starttls_and_auth_arrives_once(
    ws: Path, smtp_server: tuple[Mailbox, int], certificate: tuple[Path, Path]
) -> None:
    box, port = smtp_server
    emails = [r for r in rows(ws) if r["channel"] == "email"]
    with engine_of(ws).connect() as conn:
        addresses = dict(
            conn.execute(
                select(contact_point.c.debtor_id, contact_point.c.value).where(
                    contact_point.c.kind == "email"
                )
            ).all()
        )
    bounced = emails[0]
    box.refuse = {addresses[bounced["debtor_id"]]}
    env = {
        "ARREARS_CHANNELS_EMAIL": "smtp",
        "ARREARS_SMTP_PORT": str(port),
        "ARREARS_SMTP_SECURITY": "starttls",
        "ARREARS_SMTP_USERNAME": "arrears",
        "ARREARS_SMTP_PASSWORD": "s3cret",
        "ARREARS_SMTP_CAFILE": str(certificate[0]),
        "ARREARS_CHANNELS_SECRET": "k",
    }
    d = dispatcher(ws, env=env)
    report = d.run()
    d.close()
    got = {m["Message-ID"]: m for m in box.messages}
    assert (
        len(got)
        == len(box.messages)
        == len(emails) - 1
        == report.counts["sent"]
        - sum(1 for r in rows(ws) if r["channel"] != "email" and r["status"] == "sent")
    )
    assert box.logins and set(box.logins) == {b"arrears"}
    for r in emails[1:]:
        msg = got[f"<{idempotency_key(str(r['key']))}@example.com>"]
        assert msg.get_content_type() in ("multipart/alternative", "multipart/mixed")  # + PDF
        assert msg.get_body(("plain",)) is not None and msg.get_body(("html",)) is not None
        unsub = str(msg["List-Unsubscribe"]).strip("<>")
        query = dict(p.split("=", 1) for p in unsub.split("?", 1)[1].split("&"))
        assert verify_opt_out("k", query["d"], "email", query["s"])
    after = next(r for r in rows(ws) if r["id"] == bounced["id"])
    assert after["status"] in ("failed", "queued") and "550" in str(after["last_error"])
    with engine_of(ws).connect() as conn:
        status = conn.execute(
            select(contact_point.c.status).where(
                contact_point.c.value == addresses[bounced["debtor_id"]]
            )
        ).scalar_one()
    assert status == "bad"


def test_an_unreachable_smtp_server_is_a_temporary_failure(ws: Path) -> None:
    env = {"ARREARS_CHANNELS_EMAIL": "smtp", "ARREARS_SMTP_PORT": str(_free_port())}
    report = dispatcher(ws, env=env).run()
    assert report.counts["retry"] == sum(1 for r in rows(ws) if r["channel"] == "email")


@pytest.fixture
def http_server() -> Iterator[int]:
    with provider_server() as port:
        yield port


def _msg(to: str, channel: str = "sms") -> Message:
    return Message(
        key="case:1:x", idempotency_key=idempotency_key("case:1:x"), channel=channel, to=to,
        debtor="D1", language="es", subject="", text="Hola, su saldo 😀 \u202e",
    )  # fmt: skip


def _settings(port: int, **extra: str) -> ChannelSettings:
    values = {
        "webhook.url": f"http://127.0.0.1:{port}/send",
        "webhook.token": "tok",
        "channels.secret": "k",
        "twilio.base_url": f"http://127.0.0.1:{port}",
        "twilio.account_sid": "AC1",
        "twilio.auth_token": "tt",
        "sms.from": "+15550000",
        **extra,
    }
    return ChannelSettings(values, Path("."))


def test_the_webhook_provider_gets_json_with_idempotency_and_signature(http_server: int) -> None:
    Provider.answers = {"+1bad": (400, {"error": "invalid number"}), "+1busy": (503, {})}
    channel = WebhookChannel(_settings(http_server))
    assert channel.send(_msg("+15551234")) == "p1"
    req = Provider.requests[0]
    assert req["headers"]["Idempotency-Key"] == idempotency_key("case:1:x")
    assert req["headers"]["Authorization"] == "Bearer tok"
    assert verify_callback("k", req["body"], req["headers"]["X-Arrears-Signature"])
    assert json.loads(req["body"])["text"] == "Hola, su saldo 😀 \u202e"
    with pytest.raises(PermanentFailure):
        channel.send(_msg("+1bad"))
    with pytest.raises(TemporaryFailure):
        channel.send(_msg("+1busy"))
    channel.close()


def test_the_twilio_compatible_provider(http_server: int) -> None:
    channel = TwilioChannel(_settings(http_server, **{"whatsapp.from": "+15559999"}))
    assert channel.send(_msg("+15551234", "whatsapp")) == "SM1"
    req = Provider.requests[0]
    assert req["path"] == "/2010-04-01/Accounts/AC1/Messages.json"
    assert req["headers"]["I-Twilio-Idempotency-Token"] == idempotency_key("case:1:x")
    assert req["headers"]["Authorization"].startswith("Basic ")
    form = dict(p.split("=", 1) for p in req["body"].decode().split("&"))
    assert form["To"] == "whatsapp%3A%2B15551234" and form["From"] == "whatsapp%3A%2B15559999"
    channel.close()


def test_callbacks_are_verified_and_stop_words_are_opt_outs() -> None:
    body = b'{"id": "p1", "status": "delivered"}'
    assert verify_callback("k", body, callback_signature("k", body))
    assert not verify_callback("k", body + b" ", callback_signature("k", body))
    assert not verify_callback("", body, callback_signature("", body))
    assert all(is_opt_out(w) for w in ("STOP", "baja", " Baja. ", "unsubscribe"))
    assert not is_opt_out("stop calling me at work")


def test_sms_dispatch_through_the_webhook(ws: Path, http_server: int) -> None:
    env = {"ARREARS_CHANNELS_SMS": "webhook",
           "ARREARS_WEBHOOK_URL": f"http://127.0.0.1:{http_server}/send"}  # fmt: skip
    report = dispatcher(ws, env=env).run()
    sms = [r for r in rows(ws) if r["channel"] == "sms" and r["status"] == "sent"]
    assert sms and len(Provider.requests) == len(sms) and report.counts["sent"] >= len(sms)
    keys = {r["headers"]["Idempotency-Key"] for r in Provider.requests}
    assert keys == {idempotency_key(str(r["key"])) for r in sms}


def test_letters_are_pdf_files_with_the_rendered_text(ws: Path) -> None:
    pypdf = pytest.importorskip("pypdf")
    report = dispatcher(ws, env={"ARREARS_CHANNELS_LETTER": "pdf"}).run()
    pdfs = sorted((ws / "outbox" / "letter").glob("*.pdf"))
    letters = [r for r in rows(ws) if r["channel"] == "letter" and r["status"] == "sent"]
    assert pdfs and len(pdfs) == len(letters) and report.counts["sent"] >= len(pdfs)
    text = pypdf.PdfReader(str(pdfs[0])).pages[0].extract_text()
    assert "Example Company" in text and ("Total" in text or "total" in text)


def test_a_letter_with_hostile_text_renders(tmp_path: Path) -> None:
    pypdf = pytest.importorskip("pypdf")
    msg = Message(
        key="k", idempotency_key="arrears-x", channel="letter", to="Calle 1\r\nBogotá",
        debtor="D1", language="es", subject="Último aviso", debtor_name="<b>Ñandú</b> 😀 \u202e",
        text="{{ 7*7 }} Total pendiente: $1.234,50",
    )  # fmt: skip
    data = letter_pdf(msg, ChannelSettings({"channels.creditor_name": "ACME"}, tmp_path))
    text = pypdf.PdfReader(__import__("io").BytesIO(data)).pages[0].extract_text()
    assert "Último aviso" in text and "{{ 7*7 }}" in text and "<b>Ñandú</b>" in text


def test_the_worker_stops_cleanly_on_sigterm(ws: Path) -> None:
    env = {**os.environ, "ARREARS_DISPATCH_POLL_SECONDS": "0.2", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "arrears.cli.app", "-w", str(ws), "worker"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # "worker <id> sending for default": handlers are set
        assert "worker" in first
        time.sleep(1)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "worker stopped" in out
    assert not [r for r in rows(ws) if r["status"] in ("claimed", "sending")]
