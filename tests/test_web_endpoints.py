"""The web endpoints (``arrears serve``) served by uvicorn on a loopback port, called with httpx:
delivery callbacks (JSON webhook and Twilio-compatible), inbound STOP/BAJA, the opt-out page and
RFC 8058 one-click, on a small SQLite workspace whose messages were sent."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine, func, select

from arrears import config
from arrears.channels.base import opt_out_url
from arrears.channels.http import callback_signature, twilio_signature
from arrears.store.schema import activity, consent, contact_point, debtor, outbox
from arrears.web import create_app
from channels_support import Recorder, base_workspace, copy_workspace, dispatcher, engine_of

SECRET = "callback-secret"
TOKEN = "twilio-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    ws: Path
    base: str
    client: httpx.Client
    engine: Engine


def serve(app: FastAPI, port: int) -> tuple[uvicorn.Server, threading.Thread]:
    """The app on 127.0.0.1:port with uvicorn in a thread; returns once it accepts requests."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    return server, thread


def settings_env(base: str) -> dict[str, str]:
    return {
        "ARREARS_CHANNELS_SECRET": SECRET,
        "ARREARS_TWILIO_AUTH_TOKEN": TOKEN,
        "ARREARS_WEB_PUBLIC_URL": base,
        "ARREARS_CHANNELS_OPT_OUT_URL": f"{base}/opt-out",
        "ARREARS_CHANNELS_TRACKING": "on",
    }


@pytest.fixture
def served(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Iterator[Served]:
    ws = copy_workspace(base_workspace(tmp_path_factory.mktemp("web")), tmp_path / "ws")
    recorder = Recorder()
    dispatcher(ws, dict.fromkeys(("email", "sms", "whatsapp", "letter"), recorder)).run()
    assert recorder.sent, "the workspace has sent messages"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = create_app(config.load(ws, env=settings_env(base)))
    server, thread = serve(app, port)
    with httpx.Client(base_url=base, timeout=10) as client:
        yield Served(ws, base, client, engine_of(ws))
    server.should_exit = True
    thread.join(10)


def sent(engine: Engine, channel: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(
            select(outbox)
            .where(outbox.c.status == "sent", outbox.c.channel == channel)
            .order_by(outbox.c.id)
        ).first()


def count(engine: Engine, kind: str, **where: Any) -> int:
    query = select(func.count()).select_from(activity).where(activity.c.kind == kind)
    for name, value in where.items():
        query = query.where(activity.c[name] == value)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def point_status(engine: Engine, debtor_id: int, kind: str) -> list[str]:
    with engine.connect() as conn:
        return [
            r.status
            for r in conn.execute(
                select(contact_point.c.status).where(
                    contact_point.c.debtor_id == debtor_id, contact_point.c.kind == kind
                )
            )
        ]


def consents(engine: Engine, debtor_id: int, channel: str) -> list[str]:
    with engine.connect() as conn:
        return [
            r.status
            for r in conn.execute(
                select(consent.c.status)
                .join(contact_point, contact_point.c.id == consent.c.contact_point_id)
                .where(contact_point.c.debtor_id == debtor_id, consent.c.channel == channel)
            )
        ]


def post_signed(client: httpx.Client, path: str, payload: dict[str, Any]) -> httpx.Response:
    body = json.dumps(payload).encode()
    return client.post(
        path,
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Arrears-Signature": callback_signature(SECRET, body),
        },
    )


def post_twilio(
    client: httpx.Client, base: str, path: str, form: dict[str, str], token: str = TOKEN
) -> httpx.Response:
    signature = twilio_signature(token, base + path, form.items())
    return client.post(
        path,
        content=urlencode(form),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        },
    )


# delivery callbacks -----------------------------------------------------------------------------


def test_a_delivery_report_is_recorded_once(served: Served) -> None:
    row = sent(served.engine, "sms")
    payload = {"id": row.provider_ref, "status": "delivered"}
    first = post_signed(served.client, "/callbacks/webhook/status", payload)
    assert first.status_code == 200, first.text
    assert first.json()["recorded"] is True
    again = post_signed(served.client, "/callbacks/webhook/status", payload)
    assert again.status_code == 200 and again.json()["recorded"] is False
    assert count(served.engine, "message.delivered", subject_id=row.key) == 1
    assert count(served.engine, "message.delivered", debtor_id=row.debtor_id) == 1
    # a status we do not record is acknowledged and changes nothing
    queued = post_signed(served.client, "/callbacks/webhook/status", {**payload, "status": "sent"})
    assert queued.status_code == 200 and queued.json()["recorded"] is False


def test_bad_or_missing_signatures_change_nothing(served: Served) -> None:
    row = sent(served.engine, "sms")
    body = json.dumps({"id": row.provider_ref, "status": "failed", "permanent": True}).encode()
    path = "/callbacks/webhook/status"
    missing = served.client.post(path, content=body)
    assert missing.status_code == 401
    assert missing.json()["problems"][0]["where"] == "header X-Arrears-Signature"
    forged = callback_signature("not-the-secret", body)
    assert (
        served.client.post(path, content=body, headers={"X-Arrears-Signature": forged}).status_code
        == 403
    )
    tampered = body.replace(b"failed", b"undelivered")
    good_for_other_body = callback_signature(SECRET, body)
    response = served.client.post(
        path, content=tampered, headers={"X-Arrears-Signature": good_for_other_body}
    )
    assert response.status_code == 403
    # Twilio: a signature made with another token, or for another URL
    form = {
        "MessageSid": str(row.provider_ref),
        "MessageStatus": "undelivered",
        "ErrorCode": "30006",
    }
    assert (
        post_twilio(served.client, served.base, "/callbacks/twilio/status", form, "x").status_code
        == 403
    )
    assert (
        post_twilio(served.client, "http://elsewhere", "/callbacks/twilio/status", form).status_code
        == 403
    )
    assert served.client.post("/callbacks/twilio/status", data=form).status_code == 401
    for kind in ("message.failed", "message.undelivered"):
        assert count(served.engine, kind, subject_id=row.key) == 0
    assert set(point_status(served.engine, row.debtor_id, "phone")) == {"valid"}


def test_an_unknown_provider_reference_is_404(served: Served) -> None:
    response = post_signed(
        served.client, "/callbacks/webhook/status", {"id": "no-such-ref", "status": "delivered"}
    )
    assert response.status_code == 404
    assert response.json()["problems"] == [
        {"where": "id", "what": "no message was sent with provider reference 'no-such-ref'"}
    ]


def test_bad_input_is_422_with_every_problem(served: Served) -> None:
    response = post_signed(served.client, "/callbacks/webhook/status", {"status": "exploded"})
    assert response.status_code == 422
    problems = response.json()["problems"]
    wheres = sorted(p["where"] for p in problems)
    assert wheres == ["body.id", "body.status"]
    status = next(p for p in problems if p["where"] == "body.status")
    assert "'delivered'" in status["what"]  # says what is expected
    body = b"{not json"
    broken = served.client.post(
        "/callbacks/webhook/status",
        content=body,
        headers={"X-Arrears-Signature": callback_signature(SECRET, body)},
    )
    assert broken.status_code == 422 and broken.json()["problems"]
    form = {"MessageStatus": "delivered"}
    twilio = post_twilio(served.client, served.base, "/callbacks/twilio/status", form)
    assert twilio.status_code == 422
    assert twilio.json()["problems"] == [{"where": "body.MessageSid", "what": "required"}]


def test_a_permanent_failure_marks_the_contact_point_bad_once(served: Served) -> None:
    row = sent(served.engine, "email")
    payload = {"id": row.provider_ref, "status": "failed", "permanent": True, "error": "550 5.1.1"}
    response = post_signed(served.client, "/callbacks/webhook/status", payload)
    assert response.status_code == 200 and response.json()["contact_point_bad"] is True
    assert "bad" in point_status(served.engine, row.debtor_id, "email")
    assert post_signed(served.client, "/callbacks/webhook/status", payload).json() == {
        "recorded": False,
        "status": "failed",
        "contact_point_bad": False,
    }
    assert count(served.engine, "message.failed", subject_id=row.key) == 1


def test_twilio_status_callbacks(served: Served) -> None:
    row = sent(served.engine, "sms")
    path = "/callbacks/twilio/status"
    form = {
        "MessageSid": str(row.provider_ref),
        "MessageStatus": "undelivered",
        "ErrorCode": "30006",
    }
    response = post_twilio(served.client, served.base, path, form)
    assert response.status_code == 200, response.text
    assert response.json() == {"recorded": True, "status": "undelivered", "contact_point_bad": True}
    assert "bad" in point_status(served.engine, row.debtor_id, "phone")
    assert post_twilio(served.client, served.base, path, form).json()["recorded"] is False
    # a temporary failure code is recorded but leaves the number alone
    other = sent_other(served.engine, "sms", row.debtor_id)
    if other is not None:
        form = {
            "MessageSid": str(other.provider_ref),
            "MessageStatus": "failed",
            "ErrorCode": "30003",
        }
        assert (
            post_twilio(served.client, served.base, path, form).json()["contact_point_bad"] is False
        )


def sent_other(engine: Engine, channel: str, not_debtor: int) -> Any:
    with engine.connect() as conn:
        return conn.execute(
            select(outbox).where(
                outbox.c.status == "sent",
                outbox.c.channel == channel,
                outbox.c.debtor_id != not_debtor,
            )
        ).first()


# inbound replies --------------------------------------------------------------------------------


def phone_of(engine: Engine, debtor_id: int) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(
                select(contact_point.c.value).where(
                    contact_point.c.debtor_id == debtor_id, contact_point.c.kind == "phone"
                )
            ).scalar_one()
        )


def test_stop_by_twilio_and_baja_by_webhook_opt_out_once(served: Served) -> None:
    row = sent(served.engine, "sms")
    number = phone_of(served.engine, row.debtor_id)
    form = {"MessageSid": "SM-in-1", "From": number, "To": "+15550000000", "Body": "STOP"}
    response = post_twilio(served.client, served.base, "/inbound/twilio", form)
    assert response.status_code == 200 and "<Response>" in response.text
    assert consents(served.engine, row.debtor_id, "sms") == ["denied"]
    assert post_twilio(served.client, served.base, "/inbound/twilio", form).status_code == 200
    assert count(served.engine, "message.opted_out", debtor_id=row.debtor_id) == 1
    # WhatsApp through the JSON provider, in Spanish
    reply = {"id": "wa-1", "channel": "whatsapp", "from": number, "text": " Baja. "}
    answer = post_signed(served.client, "/inbound/webhook", reply)
    assert answer.json() == {"opt_out": True, "known": True, "recorded": True}
    assert consents(served.engine, row.debtor_id, "whatsapp") == ["denied"]
    assert post_signed(served.client, "/inbound/webhook", reply).json()["recorded"] is False
    assert count(served.engine, "message.opted_out", debtor_id=row.debtor_id) == 2  # sms, whatsapp


def test_other_replies_are_logged_and_unknown_numbers_change_nothing(served: Served) -> None:
    row = sent(served.engine, "sms")
    number = phone_of(served.engine, row.debtor_id)
    reply = {"id": "in-7", "from": number, "text": "I will pay on Friday"}
    assert post_signed(served.client, "/inbound/webhook", reply).json() == {
        "opt_out": False,
        "known": True,
        "recorded": True,
    }
    post_signed(served.client, "/inbound/webhook", reply)
    assert count(served.engine, "message.replied", debtor_id=row.debtor_id) == 1
    stranger = {"id": "in-8", "from": "+10000000000", "text": "STOP"}
    assert post_signed(served.client, "/inbound/webhook", stranger).json() == {
        "opt_out": True,
        "known": False,
        "recorded": False,
    }
    missing = post_signed(served.client, "/inbound/webhook", {"id": "x", "text": "STOP"})
    assert missing.status_code == 422
    assert [p["where"] for p in missing.json()["problems"]] == ["body.from"]


# the opt-out page -------------------------------------------------------------------------------


def debtor_by_language(engine: Engine, language: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(
            select(debtor.c.id, debtor.c.external_id)
            .join(contact_point, contact_point.c.debtor_id == debtor.c.id)
            .where(debtor.c.language == language, contact_point.c.kind == "email")
            .order_by(debtor.c.id)
        ).first()


@pytest.mark.parametrize(
    ("language", "asks", "done", "already"),
    [
        ("en", "Do you want to stop receiving emails", "Done: you will not", "You had already"),
        ("es", "Quiere dejar de recibir correos electrónicos", "Listo: ya no", "Ya lo había"),
    ],
)
def test_the_opt_out_page_asks_then_performs_in_the_debtors_language(
    served: Served, language: str, asks: str, done: str, already: str
) -> None:
    who = debtor_by_language(served.engine, language)
    if who is None:
        pytest.skip(f"no {language} debtor with an email in the demo data")
    link = opt_out_url(f"{served.base}/opt-out", SECRET, who.external_id, "email")
    page = served.client.get(link)
    assert page.status_code == 200 and asks in page.text
    assert f'lang="{language}"' in page.text
    assert consents(served.engine, who.id, "email") in (
        [],
        ["unknown"],
        ["granted"],
    )  # GET: no change
    confirmed = served.client.post(link, data={"confirm": "1"})
    assert confirmed.status_code == 200 and done in confirmed.text
    assert set(consents(served.engine, who.id, "email")) == {"denied"}
    again = served.client.post(link, data={"confirm": "1"})
    assert again.status_code == 200 and already in again.text
    assert count(served.engine, "message.opted_out", debtor_id=who.id) == 1


def test_a_tampered_opt_out_link_changes_nothing_and_says_so(served: Served) -> None:
    who = debtor_by_language(served.engine, "en") or debtor_by_language(served.engine, "es")
    link = opt_out_url(f"{served.base}/opt-out", SECRET, who.external_id, "email")
    for bad in (
        link[:-1] + ("0" if link[-1] != "0" else "1"),  # signature changed
        link.replace("c=email", "c=sms"),  # another channel
        f"{served.base}/opt-out",  # nothing
        opt_out_url(f"{served.base}/opt-out", "guessed", who.external_id, "email"),
    ):
        for response in (served.client.get(bad), served.client.post(bad)):
            assert response.status_code == 403
            assert "Nothing was changed" in response.text and "No se cambió nada" in response.text
    assert set(consents(served.engine, who.id, "email")) <= {"unknown", "granted"}
    assert count(served.engine, "message.opted_out", debtor_id=who.id) == 0


def test_rfc_8058_one_click_with_the_emails_own_header(served: Served) -> None:
    """The List-Unsubscribe URL of a sent email, posted as a mail client does, opts out."""
    import email
    from email import policy

    from arrears.channels.smtp import build_email

    env = settings_env(served.base)
    ws = config.load(
        served.ws, env={**env, "ARREARS_CHANNELS_OPT_OUT_URL": f"{served.base}/opt-out"}
    )
    who = debtor_by_language(served.engine, "en") or debtor_by_language(served.engine, "es")
    from arrears.channels.base import ChannelSettings, Message

    message = Message(
        key="k-1", idempotency_key="arrears-k1", channel="email", to="a@example.com",
        debtor=who.external_id, language="en", subject="Statement", text="Hello",
        html="<p>Hello</p>",
        opt_out_url=opt_out_url(ws.get("channels.opt_out_url"), SECRET, who.external_id, "email"),
    )  # fmt: skip
    parsed = email.message_from_bytes(
        bytes(build_email(message, ChannelSettings(ws.values, ws.root))), policy=policy.default
    )
    url = str(parsed["List-Unsubscribe"]).strip("<>")
    assert parsed["List-Unsubscribe-Post"] is None  # http: RFC 8058 wants HTTPS
    response = served.client.post(
        url,
        content="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert set(consents(served.engine, who.id, "email")) == {"denied"}
    https = replace(message, opt_out_url="https://x.example/opt-out?d=1")
    headers = build_email(https, ChannelSettings(ws.values, ws.root))
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


# open and click tracking ------------------------------------------------------------------------


def tracked_email(served: Served, key: str, tracking: str = "on") -> Any:
    import email
    from email import policy

    from arrears.channels.base import ChannelSettings, Message
    from arrears.channels.smtp import build_email

    ws = config.load(
        served.ws, env={**settings_env(served.base), "ARREARS_CHANNELS_TRACKING": tracking}
    )
    optout = opt_out_url(f"{served.base}/opt-out", SECRET, "D1", "email")
    message = Message(
        key=key, idempotency_key="arrears-t", channel="email", to="a@example.com", debtor="D1",
        language="en", subject="Statement", text="Pay at https://pay.example.com/D1",
        html=(
            '<html><body><p><a href="https://pay.example.com/D1?x=1&amp;y=2">Pay</a> '
            f'<a href="mailto:ar@example.com">write</a> <a href="{optout}">stop</a></p>'
            "</body></html>"
        ),
        opt_out_url=optout,
    )  # fmt: skip
    parsed = email.message_from_bytes(
        bytes(build_email(message, ChannelSettings(ws.values, ws.root))), policy=policy.default
    )
    html = parsed.get_body(("html",)).get_content()
    text = parsed.get_body(("plain",)).get_content()
    return html, text, optout


def test_tracking_rewrites_the_html_links_and_adds_a_pixel(served: Served) -> None:
    import re

    html, text, optout = tracked_email(served, "some-key")
    assert f"{served.base}/t/click?k=some-key&amp;u=https%3A%2F%2Fpay.example.com" in html
    assert 'href="mailto:ar@example.com"' in html
    assert f'href="{optout}"' in html  # the opt-out link is not tracked
    assert re.search(rf'<img src="{re.escape(served.base)}/t/open\?k=some-key&amp;s=\w+"', html)
    assert html.index("<img") < html.index("</body>")
    assert "https://pay.example.com/D1" in text and "/t/click" not in text
    plain_html, _, _ = tracked_email(served, "some-key", tracking="off")
    assert "/t/" not in plain_html


def test_opens_and_clicks_are_recorded_once_per_message(served: Served) -> None:
    import html as htmllib
    import re

    row = sent(served.engine, "email")
    body, _, _ = tracked_email(served, row.key)
    pixel = htmllib.unescape(re.search(r'<img src="([^"]+)"', body).group(1))  # type: ignore[union-attr]
    click = htmllib.unescape(re.search(r'href="([^"]*/t/click[^"]*)"', body).group(1))  # type: ignore[union-attr]
    for _ in range(3):
        image = served.client.get(pixel)
        assert image.status_code == 200 and image.headers["content-type"] == "image/gif"
        assert image.content.startswith(b"GIF89a") and "no-store" in image.headers["cache-control"]
    assert count(served.engine, "message.opened", subject_id=row.key) == 1
    for _ in range(2):
        hop = served.client.get(click)
        assert hop.status_code == 302
        assert hop.headers["location"] == "https://pay.example.com/D1?x=1&y=2"
    assert count(served.engine, "message.clicked", subject_id=row.key) == 1
    assert count(served.engine, "message.opened", subject_id=row.key) == 1


def test_tracking_links_are_no_open_redirect(served: Served) -> None:
    import html as htmllib
    import re

    from arrears.channels.base import sign
    from arrears.channels.tracking import click_url, verify_click

    row = sent(served.engine, "email")
    body, _, _ = tracked_email(served, row.key)
    click = htmllib.unescape(re.search(r'href="([^"]*/t/click[^"]*)"', body).group(1))  # type: ignore[union-attr]
    evil = click.replace("pay.example.com", "evil.example")
    response = served.client.get(evil)
    assert response.status_code == 403 and "location" not in response.headers
    assert response.json()["problems"][0]["where"] == "query s"
    # only web targets are ever followed, even with a valid signature
    target = "javascript:alert(1)"
    assert not verify_click(SECRET, row.key, target, sign(SECRET, "click", row.key, target))
    bad = served.client.get(click_url(served.base, SECRET, row.key, target))
    assert bad.status_code == 403
    assert served.client.get(f"{served.base}/t/click?k={row.key}").status_code == 422
    assert count(served.engine, "message.clicked", subject_id=row.key) == 0
    # a signed link to a message that is not in the outbox: the pixel, nothing recorded
    from arrears.channels.tracking import open_url

    stray = served.client.get(open_url(served.base, SECRET, "not-a-key"))
    assert stray.status_code == 200
    assert count(served.engine, "message.opened") == 0


def test_concurrent_replays_record_once(served: Served) -> None:
    from concurrent.futures import ThreadPoolExecutor

    row = sent(served.engine, "sms")
    number = phone_of(served.engine, row.debtor_id)
    status = {"id": row.provider_ref, "status": "failed", "permanent": True}
    stop = {"id": "in-race", "from": number, "text": "STOP"}
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(
                lambda payload: post_signed(served.client, *payload),
                [("/callbacks/webhook/status", status)] * 8 + [("/inbound/webhook", stop)] * 8,
            )
        )
    assert [a.status_code for a in answers] == [200] * 16
    assert sum(a.json()["recorded"] for a in answers[:8]) == 1
    assert sum(a.json()["recorded"] for a in answers[8:]) == 1
    assert count(served.engine, "message.failed", subject_id=row.key) == 1
    assert count(served.engine, "message.opted_out", debtor_id=row.debtor_id) == 1
    assert consents(served.engine, row.debtor_id, "sms") == ["denied"]
