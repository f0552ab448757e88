"""Providers calling back: delivery-status reports and inbound replies, signature first.

Generic JSON provider (``webhook``): the body is signed with ``channels.secret``
(``X-Arrears-Signature``: hex HMAC-SHA256 of the raw body, as the webhook adapter signs what it
sends). Twilio-compatible provider: ``X-Twilio-Signature`` with ``twilio.auth_token`` over the
URL (``web.public_url`` + path when set, else the request's URL) and the form parameters.

Signature first: a missing signature header is 401 and a malformed one (not the shape of the
algorithm's output) 403, both before a byte of the body is read; so is a server with no key to
check it. A body is then read up to ``web.max_body_bytes`` only: a longer one is 413 as soon as
it is longer, whether its length was announced (``Content-Length``), absent (chunked) or
understated. Nothing is parsed or changed before the signature matches. The store writes run in
a worker thread, so the event loop is never blocked by the database.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, TypeVar
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from arrears.channels.http import TWILIO_PERMANENT, verify_callback, verify_twilio
from arrears.domain.actor import system
from arrears.services.outreach import messages
from arrears.web.app import Site, site
from arrears.web.errors import Problem, WebError, answers, problems_of

router = APIRouter()
M = TypeVar("M", bound=BaseModel)
SiteDep = Annotated[Site, Depends(site)]

_EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


class WebhookStatus(BaseModel):
    """``{"id": <provider reference>, "status": ..., "permanent": false, "error": ""}``."""

    model_config = ConfigDict(extra="ignore")
    id: str = Field(min_length=1, max_length=500, description="the provider's message id")
    status: Literal["queued", "sent", "delivered", "undelivered", "failed", "read"]
    permanent: bool = Field(False, description="the address will never work (hard bounce)")
    error: str = Field("", max_length=2000)


class WebhookInbound(BaseModel):
    """``{"id": <provider message id>, "channel": "sms", "from": "+57...", "text": "BAJA"}``."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    id: str = Field(min_length=1, max_length=500)
    channel: Literal["sms", "whatsapp"] = "sms"
    sender: str = Field(alias="from", min_length=1, max_length=100)
    text: str = Field(max_length=5000)


#: hex HMAC-SHA256 (``X-Arrears-Signature``); base64 HMAC-SHA1 (``X-Twilio-Signature``)
_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_BASE64_SHA1 = re.compile(r"[A-Za-z0-9+/]{27}=")


def _too_large(limit: int) -> WebError:
    return WebError(
        413, Problem("body", f"longer than {limit} bytes (web.max_body_bytes): not read")
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The request's body, read as it arrives and never beyond ``limit`` bytes: 413 as soon as
    the announced length or the bytes received pass it."""
    announced = request.headers.get("content-length", "").strip()
    if announced.isdigit() and int(announced) > limit:
        raise _too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _signature(request: Request, header: str, shape: re.Pattern[str], how: str) -> str:
    """The signature header, checked for presence (401) and shape (403) before any body."""
    signature = request.headers.get(header.lower(), "").strip()
    if not signature:
        raise WebError(401, Problem(f"header {header}", f"missing: {how}"))
    if not shape.fullmatch(signature):
        raise WebError(403, Problem(f"header {header}", f"malformed ({how}): not accepted"))
    return signature


async def _signed_json(request: Request, s: Site) -> bytes:
    signature = _signature(
        request,
        "X-Arrears-Signature",
        _HEX_SHA256,
        "the hex HMAC-SHA256 of the raw body with the shared channels.secret",
    )
    if not s.setting("channels.secret"):
        raise WebError(403, Problem("server", "channels.secret is not set: nothing verifies"))
    body = await read_body(request, s.max_body)
    if not verify_callback(s.setting("channels.secret"), body, signature):
        raise WebError(
            403, Problem("header X-Arrears-Signature", "does not match the body: not accepted")
        )
    return body


def _parse(model: type[M], body: bytes) -> M:
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise WebError(422, *problems_of(exc, "body.")) from None


def _twilio_url(request: Request, s: Site) -> str:
    base = s.setting("web.public_url").rstrip("/")
    if not base:
        return str(request.url)
    query = request.url.query
    return f"{base}{request.url.path}" + (f"?{query}" if query else "")


async def _signed_form(request: Request, s: Site) -> dict[str, str]:
    signature = _signature(
        request,
        "X-Twilio-Signature",
        _BASE64_SHA1,
        "Twilio's base64 HMAC-SHA1 of the URL and parameters with twilio.auth_token",
    )
    token = s.setting("twilio.auth_token")
    if not token:
        raise WebError(403, Problem("server", "twilio.auth_token is not set: nothing verifies"))
    body = await read_body(request, s.max_body)
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError):
        raise WebError(
            422, Problem("body", "expected application/x-www-form-urlencoded UTF-8")
        ) from None
    if not verify_twilio(token, _twilio_url(request, s), pairs, signature):
        raise WebError(
            403,
            Problem(
                "header X-Twilio-Signature",
                "does not match the URL and parameters (is web.public_url the URL the "
                "provider calls?): not accepted",
            ),
        )
    return dict(pairs)


def _required(form: dict[str, str], *names: str) -> None:
    missing = [Problem(f"body.{n}", "required") for n in names if not form.get(n, "").strip()]
    if missing:
        raise WebError(422, *missing)


def _delivery(
    s: Site, *, ref: str, status: str, permanent: bool, error: str, provider: str
) -> dict[str, object]:
    if status not in messages.DELIVERY_STATUSES:
        return {"recorded": False, "status": status}  # queued, sent, read...: nothing to do
    done = messages.record_delivery(
        s.uow(), system(provider), portfolio=s.portfolio, provider_ref=ref, status=status,
        at=s.clock(), provider=provider, permanent=permanent, error=error,
    )  # fmt: skip
    if not done.found:
        raise WebError(404, Problem("id", f"no message was sent with provider reference {ref!r}"))
    return {
        "recorded": done.recorded,
        "status": status,
        "contact_point_bad": done.contact_point_bad,
    }


#: The error answers of the signed endpoints (OpenAPI), in the one error shape.
SIGNED = answers(401, 403, 413, 422)
STATUS = answers(401, 403, 404, 413, 422)


@router.post("/callbacks/webhook/status", responses=STATUS)
async def webhook_status(request: Request, s: SiteDep) -> dict[str, object]:
    """A delivery report from the generic JSON provider."""
    report = _parse(WebhookStatus, await _signed_json(request, s))
    return await run_in_threadpool(
        _delivery, s, ref=report.id, status=report.status, permanent=report.permanent,
        error=report.error, provider="webhook",
    )  # fmt: skip


@router.post("/callbacks/twilio/status", responses=STATUS)
async def twilio_status(request: Request, s: SiteDep) -> dict[str, object]:
    """Twilio's status callback (form: ``MessageSid``, ``MessageStatus``, ``ErrorCode``)."""
    form = await _signed_form(request, s)
    _required(form, "MessageSid", "MessageStatus")
    code = form.get("ErrorCode", "").strip()
    return await run_in_threadpool(
        _delivery,
        s,
        ref=form["MessageSid"].strip(),
        status=form["MessageStatus"].strip().lower(),
        permanent=code in TWILIO_PERMANENT,
        error=f"Twilio error {code}" if code else "",
        provider="twilio",
    )


def _inbound(
    s: Site, *, provider: str, ref: str, channel: str, sender: str, text: str
) -> dict[str, object]:
    done = messages.receive_reply(
        s.uow(), system(provider), portfolio=s.portfolio, channel=channel, sender=sender,
        text=text, ref=ref, at=s.clock(),
    )  # fmt: skip
    return {"opt_out": done.opt_out, "known": done.known, "recorded": done.recorded}


@router.post("/inbound/webhook", responses=SIGNED)
async def webhook_inbound(request: Request, s: SiteDep) -> dict[str, object]:
    """An SMS/WhatsApp reply through the generic JSON provider."""
    reply = _parse(WebhookInbound, await _signed_json(request, s))
    return await run_in_threadpool(
        _inbound, s, provider="webhook", ref=reply.id, channel=reply.channel,
        sender=reply.sender.strip(), text=reply.text,
    )  # fmt: skip


@router.post("/inbound/twilio", responses=SIGNED)
async def twilio_inbound(request: Request, s: SiteDep) -> Response:
    """Twilio's incoming-message webhook (form: ``MessageSid``, ``From``, ``Body``); answers an
    empty TwiML document (no automatic reply)."""
    form = await _signed_form(request, s)
    _required(form, "MessageSid", "From")
    sender = form["From"].strip()
    channel = "whatsapp" if sender.startswith("whatsapp:") else "sms"
    await run_in_threadpool(
        _inbound,
        s,
        provider="twilio",
        ref=form["MessageSid"].strip(),
        channel=channel,
        sender=sender.removeprefix("whatsapp:"),
        text=form.get("Body", ""),
    )
    return Response(_EMPTY_TWIML, media_type="text/xml")
