"""The one interface every channel adapter implements, and how adapters are found.

An adapter is a factory ``(settings: ChannelSettings) -> Channel``. Built-in adapters are
``file`` (the embedded default), ``smtp``, ``webhook``, ``twilio`` and ``pdf``; a third party
adds its own through the ``arrears.channels`` entry-point group (name = the factory), and
selects it with ``channels.<channel> = "<name>"`` in ``arrears.toml``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from itsdangerous import BadSignature, URLSafeTimedSerializer

from arrears.domain.errors import Unavailable

ENTRY_POINT_GROUP = "arrears.channels"


class TemporaryFailure(Exception):
    """Try again later (connection refused, 4xx SMTP reply, HTTP 429 or 5xx)."""


class PermanentFailure(Exception):
    """Never works for this contact point (hard bounce, invalid number, unknown address)."""


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content: bytes
    mime: str  # "application/pdf"


@dataclass(frozen=True, slots=True)
class Account:
    """What a letter or statement PDF prints as its table: the debtor's customer number, the
    day of the days past due, and the open invoices (``number``, ``issue_date``, ``due_date``,
    ``days_past_due``, ``currency``, ``amount`` and ``open`` in minor units); the debtor's
    country, which with the message's language says how amounts and dates are written
    (``es`` and ``CO``: ``$12.500,00``, as in the debtor's emails)."""

    customer: str
    as_of: date
    invoices: tuple[Mapping[str, Any], ...] = ()
    country: str = ""


@dataclass(frozen=True, slots=True)
class Message:
    """One rendered message, ready for a provider. ``idempotency_key`` is stable for the outbox
    row (a resend carries the same key: the SMTP Message-ID, the HTTP Idempotency-Key)."""

    key: str
    idempotency_key: str
    channel: str  # email, sms, whatsapp, letter
    to: str
    debtor: str  # the debtor's external id
    language: str
    subject: str
    text: str
    html: str | None = None
    opt_out_url: str | None = None
    attachments: tuple[Attachment, ...] = ()
    debtor_name: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    #: the legally required text of the debtor's contact-rule pack (``Pack.letter_notice``) in
    #: the debtor's language; printed at the end of letters
    legal_notice: str = ""
    #: the account a letter or statement prints as a table (None: the text only)
    account: Account | None = None


class Channel(Protocol):
    #: ``True`` when sending the same message again is harmless (the provider, or the file
    #: system, deduplicates by ``idempotency_key``): a row left in ``sending`` by a crash is then
    #: sent again; otherwise it is marked failed ("outcome unknown") rather than risk a double.
    dedup: bool

    def send(self, message: Message) -> str:
        """Deliver; return the provider's reference. Raise :class:`TemporaryFailure` or
        :class:`PermanentFailure`."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    """The workspace's settings (``channels.*``, ``smtp.*``, ``sms.*``...) and its folder."""

    values: Mapping[str, str]
    root: Path

    def get(self, key: str) -> str:
        return self.values.get(key, "")


Factory = Callable[[ChannelSettings], Channel]


def idempotency_key(outbox_key: str) -> str:
    """The stable idempotency key of an outbox row."""
    return "arrears-" + hashlib.sha256(outbox_key.encode("utf-8")).hexdigest()[:32]


def factories() -> dict[str, Factory]:
    """Adapter factories by name: the built-ins, then the ``arrears.channels`` entry points."""
    from arrears.channels import filesink, http, letter, smtp  # noqa: PLC0415 (they import us)

    found: dict[str, Factory] = {
        "file": filesink.FileSink,
        "smtp": smtp.SmtpChannel,
        "webhook": http.WebhookChannel,
        "twilio": http.TwilioChannel,
        "pdf": letter.PdfLetterChannel,
    }
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.load())
    return found


#: Why nothing is sent, or verified, without ``channels.secret``, and how to fix it.
NO_SECRET = (
    "channels.secret is not set: the opt-out links in messages could not be verified (anyone "
    "could opt any debtor out), so nothing was sent. Run `arrears init <workspace>` on the "
    "workspace (it keeps arrears.toml and writes a random secret to secrets.toml) or set "
    "ARREARS_CHANNELS_SECRET"
)


class MissingSecret(Unavailable, ValueError):
    """``channels.secret`` is empty: no link can be signed or verified."""


def require_secret(settings: ChannelSettings) -> str:
    """``channels.secret``, or :class:`MissingSecret` saying how to set it."""
    secret = settings.get("channels.secret")
    if not secret:
        raise MissingSecret(NO_SECRET)
    return secret


def sign(secret: str, *parts: str) -> str:
    """HMAC-SHA256 (hex) of the parts joined by newlines."""
    return hmac.new(secret.encode(), "\n".join(parts).encode(), hashlib.sha256).hexdigest()


#: ``channels.payment_url`` when nobody set it: a placeholder, replaced by the debtor's own
#: page when the workspace has a public URL and a secret.
PLACEHOLDER_PAYMENT_URL = "https://pay.example.com/{debtor}"
#: How long a debtor's link works (seconds): 60 days, longer than any cadence's gap.
DEBTOR_LINK_MAX_AGE = 60 * 24 * 3600


def _debtor_link_signer(secret: str) -> URLSafeTimedSerializer:
    key = hmac.new(secret.encode(), b"arrears debtor link", hashlib.sha256).digest()
    return URLSafeTimedSerializer(key, salt="arrears.debtor-link")


def debtor_token(secret: str, debtor: str) -> str:
    """The signed, timestamped token of ``debtor``'s own page (never with an empty secret)."""
    if not secret:
        raise MissingSecret(NO_SECRET)
    return _debtor_link_signer(secret).dumps(debtor)


def debtor_of_token(
    secret: str, token: str, *, max_age: int = DEBTOR_LINK_MAX_AGE, now: float | None = None
) -> str | None:
    """The debtor a token was signed for, or ``None`` (no secret, forged, changed or expired).
    ``now``: seconds since the epoch (tests); default the clock."""
    if not secret or not token or len(token) > 500:
        return None
    signer = _debtor_link_signer(secret)
    try:
        if now is None:
            found = signer.loads(token, max_age=max_age)
        else:
            found, signed = signer.loads(token, return_timestamp=True)
            if now - signed.timestamp() > max_age:
                return None
    except BadSignature:  # also SignatureExpired
        return None
    return found if isinstance(found, str) and found else None


def payment_url(settings: ChannelSettings, debtor: str) -> str:
    """The payment link of ``debtor``'s messages. With ``web.public_url`` and
    ``channels.secret`` set and ``channels.payment_url`` left at its placeholder (or holding
    ``{token}``): the debtor's own page, ``<public_url>/pay/<signed token>`` (what is owed, the
    statement, promise, dispute, opt out, how to pay; docs/web.md). Otherwise
    ``channels.payment_url`` with ``{debtor}`` replaced by the debtor's id, percent-encoded as
    one path segment or query value (``../x`` is ``..%2Fx``: it cannot leave its place)."""
    template = settings.get("channels.payment_url") or PLACEHOLDER_PAYMENT_URL
    secret, public = settings.get("channels.secret"), settings.get("web.public_url").rstrip("/")
    if secret and "{token}" in template:
        template = template.replace("{token}", debtor_token(secret, debtor))
    elif secret and public and template == PLACEHOLDER_PAYMENT_URL:
        return f"{public}/pay/{debtor_token(secret, debtor)}"
    return template.replace("{debtor}", quote(debtor, safe=""))


def opt_out_url(base: str, secret: str, debtor: str, channel: str) -> str:
    """A signed opt-out link: ``<base>?d=<debtor>&c=<channel>&s=<signature>``."""
    query = urlencode({"d": debtor, "c": channel, "s": sign(secret, "opt-out", debtor, channel)})
    return f"{base}{'&' if '?' in base else '?'}{query}"


def verify_opt_out(secret: str, debtor: str, channel: str, signature: str) -> bool:
    """Whether ``signature`` signs the link; never without a secret (the empty key is known to
    everyone)."""
    return bool(secret) and same(sign(secret, "opt-out", debtor, channel), signature)


def same(expected: str, signature: str) -> bool:
    """Constant-time comparison of a signature with what a request carries (any text: a
    non-ASCII one is simply different, never an error)."""
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "surrogateescape"))
