"""``arrears serve`` as a user starts it (a subprocess on a loopback port), and the callbacks on
PostgreSQL (the same app, served by uvicorn in a thread)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn
from sqlalchemy import func, insert, select

from arrears import config
from arrears.channels.http import callback_signature, twilio_signature
from arrears.store.database import connect
from arrears.store.schema import activity, consent, contact_point, debtor, outbox, portfolio
from arrears.web import create_app
from channels_support import Recorder, base_workspace, copy_workspace, dispatcher, engine_of

SECRET = "serve-secret"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, deadline: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert proc is None or proc.poll() is None, "the server exited"
        assert time.monotonic() < deadline, f"{url} did not answer"
        time.sleep(0.1)


def test_arrears_serve_takes_a_signed_callback(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    ws = copy_workspace(base_workspace(tmp_path_factory.mktemp("serve")), tmp_path / "ws")
    recorder = Recorder()
    dispatcher(ws, dict.fromkeys(("email", "sms", "whatsapp", "letter"), recorder)).run()
    with engine_of(ws).connect() as conn:
        ref = conn.execute(
            select(outbox.c.provider_ref).where(outbox.c.status == "sent").limit(1)
        ).scalar_one()
    port = _free_port()
    env = {**os.environ, "ARREARS_CHANNELS_SECRET": SECRET}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "arrears"), "-w", str(ws), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait(f"{base}/health", time.monotonic() + 60, proc)
        body = json.dumps({"id": ref, "status": "delivered"}).encode()
        headers = {"X-Arrears-Signature": callback_signature(SECRET, body)}
        answer = httpx.post(f"{base}/callbacks/webhook/status", content=body, headers=headers)
        assert answer.status_code == 200 and answer.json()["recorded"] is True
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0].decode()
    assert f"serving default on http://127.0.0.1:{port}" in output
    with engine_of(ws).connect() as conn:
        n = conn.execute(
            select(func.count()).where(activity.c.kind == "message.delivered")
        ).scalar_one()
    assert n == 1


@pytest.mark.postgres
def test_callbacks_and_replies_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    engine = connect(pg_url)
    now = datetime(2026, 11, 23, 15, tzinfo=UTC)
    with engine.begin() as conn:
        pid = conn.execute(
            insert(portfolio)
            .values(code="default", name="Default", base_currency="USD", created_at=now)
            .returning(portfolio.c.id)
        ).scalar_one()
        did = conn.execute(
            insert(debtor)
            .values(
                portfolio_id=pid, external_id="D1", name="Ana", kind="person", country="CO",
                timezone="America/Bogota", language="es", currency="COP", tags=[],
                attributes={}, row_hash="x", created_at=now, updated_at=now,
            )
            .returning(debtor.c.id)
        ).scalar_one()  # fmt: skip
        conn.execute(
            insert(contact_point).values(
                debtor_id=did, kind="phone", value="+573001234567", created_at=now
            )
        )
        conn.execute(
            insert(outbox).values(
                key="k1", portfolio_id=pid, debtor_id=did, channel="sms", template="t",
                params={}, created_on=date(2026, 11, 23), status="sent", attempts=1,
                created_at=now, provider_ref="SM1",
            )
        )  # fmt: skip
        conn.execute(
            insert(activity).values(
                occurred_at=now, kind="message.sending", actor="t", portfolio_id=pid,
                debtor_id=did, subject_kind="outbox", subject_id="k1",
                payload={"to": "+573001234567"}, idempotency_key="s1",
            )
        )  # fmt: skip
    ws = config.load(
        tmp_path, env={"ARREARS_DATABASE_URL": pg_url, "ARREARS_TWILIO_AUTH_TOKEN": "tok"}
    )
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(
        uvicorn.Config(create_app(ws, engine=engine), port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        _wait(f"{base}/health", time.monotonic() + 30)

        def post(path: str, form: dict[str, str]) -> httpx.Response:
            sig = twilio_signature("tok", base + path, form.items())
            return httpx.post(
                base + path,
                content=urlencode(form),
                headers={
                    "X-Twilio-Signature": sig,
                    "Content-Type": "application/x-www-form-urlencoded",
                },
            )

        status = {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30005"}
        first = post("/callbacks/twilio/status", status)
        assert first.json()["contact_point_bad"] is True, first.text
        assert post("/callbacks/twilio/status", status).json()["recorded"] is False
        stop = {"MessageSid": "SM2", "From": "+573001234567", "Body": "BAJA"}
        assert post("/inbound/twilio", stop).status_code == 200
        assert post("/inbound/twilio", stop).status_code == 200
        # the same callback and the same WhatsApp STOP eight times at once: recorded once
        from concurrent.futures import ThreadPoolExecutor

        delivered = {"MessageSid": "SM1", "MessageStatus": "delivered"}
        wa_stop = {"MessageSid": "SM3", "From": "whatsapp:+573001234567", "Body": "STOP"}
        with ThreadPoolExecutor(8) as pool:
            codes = list(
                pool.map(
                    lambda job: post(*job).status_code,
                    [("/callbacks/twilio/status", delivered)] * 8
                    + [("/inbound/twilio", wa_stop)] * 8,
                )
            )
        assert codes == [200] * 16
    finally:
        server.should_exit = True
        thread.join(10)
    with engine.connect() as conn:
        kinds = conn.execute(select(activity.c.kind).order_by(activity.c.id)).scalars().all()
        assert kinds[:3] == ["message.sending", "message.undelivered", "message.opted_out"]
        assert sorted(kinds[3:]) == ["message.delivered", "message.opted_out"]
        assert conn.execute(select(contact_point.c.status)).scalar_one() == "bad"
        found = conn.execute(select(consent.c.channel, consent.c.status)).all()
        assert sorted(found) == [("sms", "denied"), ("whatsapp", "denied")]
    engine.dispose()


def test_serve_refuses_an_unknown_portfolio(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from arrears.cli.app import main

    ws = copy_workspace(base_workspace(tmp_path_factory.mktemp("serve")), tmp_path / "ws")
    assert main(["-w", str(ws), "serve", "--portfolio", "nope", "--port", "1"]) == 1
    assert "no portfolio 'nope'" in capsys.readouterr().err
    assert main(["-w", str(ws), "serve", "--port", "70000"]) == 2


def test_the_opt_out_page_escapes_what_it_shows(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    from arrears.channels.base import opt_out_url

    ws = copy_workspace(base_workspace(tmp_path_factory.mktemp("serve")), tmp_path / "ws")
    with engine_of(ws).connect() as conn:
        who = conn.execute(select(debtor.c.external_id).order_by(debtor.c.id).limit(1)).scalar_one()
    hostile = '<script>alert(1)</script> "ACME" & Co'
    env = {"ARREARS_CHANNELS_SECRET": SECRET, "ARREARS_CHANNELS_CREDITOR_NAME": hostile}
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(
        uvicorn.Config(create_app(config.load(ws, env=env)), port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        _wait(f"{base}/health", time.monotonic() + 30)
        page = httpx.get(opt_out_url(f"{base}/opt-out", SECRET, who, "email"))
        assert page.status_code == 200
        assert "<script>" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &quot;ACME&quot; &amp; Co" in page.text
        # a signed link for a debtor id that is not in the store: 404, nothing echoed
        ghost = httpx.get(opt_out_url(f"{base}/opt-out", SECRET, "<img src=x>", "email"))
        assert ghost.status_code == 404 and "<img" not in ghost.text
    finally:
        server.should_exit = True
        thread.join(10)
