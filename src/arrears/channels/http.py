"""SMS and WhatsApp over HTTP: a generic JSON webhook provider and a Twilio-compatible one.

Both send the message's idempotency key (``Idempotency-Key``; Twilio:
``I-Twilio-Idempotency-Token``), so the provider drops a resend after a crash. Replies: 2xx sent;
408, 429 and 5xx (and no connection) temporary; other 4xx permanent (invalid number). Delivery
callbacks are verified with :func:`verify_callback` (HMAC-SHA256 of the raw body with
``channels.secret``; header ``X-Arrears-Signature``) or, from a Twilio-compatible provider,
:func:`verify_twilio` (Twilio's ``X-Twilio-Signature``: HMAC-SHA1 with the auth token over the
URL and the sorted form parameters); an inbound reply that is an opt-out word (STOP, BAJA...) is
recognised by :func:`is_opt_out`. The endpoints are in :mod:`arrears.web` (docs/web.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable

import httpx

from arrears.channels.base import ChannelSettings, Message, PermanentFailure, TemporaryFailure
from arrears.channels.whatsapp import from_extra

OPT_OUT_WORDS = frozenset({"stop", "unsubscribe", "cancel", "end", "quit", "baja", "parar", "alto"})


def is_opt_out(text: str) -> bool:
    return text.strip().strip(".!").lower() in OPT_OUT_WORDS


def callback_signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_callback(secret: str, body: bytes, signature: str) -> bool:
    return bool(secret) and hmac.compare_digest(callback_signature(secret, body), signature)


#: Twilio error codes of a delivery callback that mean the number will never work: 21211
#: invalid 'To' number, 21614 not a mobile number, 30005 unknown destination handset, 30006
#: landline or unreachable carrier, 63003 WhatsApp: no such address. Others (30003 handset
#: unreachable, 30008 unknown error...) may pass.
TWILIO_PERMANENT = frozenset({"21211", "21614", "30005", "30006", "63003"})


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """Twilio's request signature: base64 HMAC-SHA1 of the full URL followed by each form
    parameter's name and value, sorted by name."""
    data = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_twilio(
    auth_token: str, url: str, params: Iterable[tuple[str, str]], signature: str
) -> bool:
    return bool(auth_token) and hmac.compare_digest(
        twilio_signature(auth_token, url, params), signature
    )


def _raise_for(response: httpx.Response) -> None:
    if response.is_success:
        return
    text = f"HTTP {response.status_code}: {response.text[:200]}"
    if response.status_code in (408, 429) or response.status_code >= 500:
        raise TemporaryFailure(text)
    raise PermanentFailure(text)


class _HttpChannel:
    dedup = True

    def __init__(self, settings: ChannelSettings) -> None:
        self.settings = settings
        self.client = httpx.Client(timeout=float(settings.get("http.timeout") or "30"))

    def _post(self, url: str, **kwargs: object) -> httpx.Response:
        try:
            response = self.client.post(url, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            raise TemporaryFailure(f"{url}: {exc}") from None
        _raise_for(response)
        return response

    def sender(self, channel: str) -> str:
        return self.settings.get(f"{channel}.from") or self.settings.get("sms.from")

    def close(self) -> None:
        self.client.close()


class WebhookChannel(_HttpChannel):
    """POST ``{"id", "channel", "to", "from", "text", "debtor"}`` as JSON to ``webhook.url``
    (a WhatsApp message with an approved template: ``"template": {"name", "language",
    "params"}`` instead of ``text``)
    with ``Authorization: Bearer <webhook.token>`` and ``X-Arrears-Signature`` (HMAC of the
    body); the reply's ``id`` is the provider reference."""

    def send(self, message: Message) -> str:
        url = self.settings.get("webhook.url")
        if not url:
            raise TemporaryFailure("webhook.url is not set")
        payload: dict[str, object] = {
            "id": message.idempotency_key,
            "channel": message.channel,
            "to": message.to,
            "from": self.sender(message.channel),
            "text": message.text,
            "debtor": message.debtor,
        }
        template = from_extra(message.extra) if message.channel == "whatsapp" else None
        if template is not None:  # an approved template and its parameters, no free text
            name, language, params = template
            del payload["text"]
            payload["template"] = {"name": name, "language": language, "params": params}
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json", "Idempotency-Key": message.idempotency_key}
        token = self.settings.get("webhook.token")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        secret = self.settings.get("channels.secret")
        if secret:
            headers["X-Arrears-Signature"] = callback_signature(secret, body)
        response = self._post(url, content=body, headers=headers)
        try:
            return str(response.json().get("id") or message.idempotency_key)
        except (ValueError, AttributeError):
            return message.idempotency_key


class TwilioChannel(_HttpChannel):
    """Twilio's Messages API (or a compatible provider at ``twilio.base_url``): form POST to
    ``/2010-04-01/Accounts/<sid>/Messages.json`` with basic auth; WhatsApp numbers are prefixed
    ``whatsapp:``. The reply's ``sid`` is the provider reference."""

    def send(self, message: Message) -> str:
        sid = self.settings.get("twilio.account_sid")
        base = (self.settings.get("twilio.base_url") or "https://api.twilio.com").rstrip("/")
        prefix = "whatsapp:" if message.channel == "whatsapp" else ""
        data = {
            "To": prefix + message.to,
            "From": prefix + self.sender(message.channel),
            "Body": message.text,
        }
        template = from_extra(message.extra) if message.channel == "whatsapp" else None
        if template is not None:  # Twilio's Content API: the approved template's SID
            del data["Body"]
            data["ContentSid"] = template[0]
            data["ContentVariables"] = json.dumps(
                {str(i): p for i, p in enumerate(template[2], 1)}, ensure_ascii=False
            )
        response = self._post(
            f"{base}/2010-04-01/Accounts/{sid}/Messages.json",
            data=data,
            auth=(sid, self.settings.get("twilio.auth_token")),
            headers={"I-Twilio-Idempotency-Token": message.idempotency_key},
        )
        try:
            return str(response.json().get("sid") or message.idempotency_key)
        except (ValueError, AttributeError):
            return message.idempotency_key
