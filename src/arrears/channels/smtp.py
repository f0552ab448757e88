"""Email over SMTP (``smtp.*`` settings): STARTTLS, implicit TLS or plain, with authentication;
multipart text + HTML (+ attachments); a stable ``Message-ID`` derived from the outbox key (the
provider's and the mailbox's deduplication of a resend) and ``List-Unsubscribe`` headers with
the signed opt-out link: RFC 8058 one-click (``List-Unsubscribe-Post: List-Unsubscribe=One-Click``)
when the link is HTTPS, as that RFC requires; ``arrears serve`` answers the POST (docs/web.md).
With tracking on (:mod:`arrears.channels.tracking`) the HTML part gets signed click links and
an open pixel. One connection is kept open for a worker's batch."""

from __future__ import annotations

import contextlib
import random
import smtplib
import ssl
import sys
from email import policy
from email._policybase import Compat32
from email.charset import QP, Charset
from email.encoders import encode_base64
from email.generator import BytesGenerator
from email.header import Header
from email.message import Message as MimeMessage
from email.mime.application import MIMEApplication
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import formataddr, formatdate
from io import BytesIO
from typing import Any

from arrears.channels import tracking
from arrears.channels.base import ChannelSettings, Message, PermanentFailure, TemporaryFailure


#: Messages are built with the ``compat32`` MIME classes and flattened with CRLF line ends: the
#: same bytes on the wire as ``EmailMessage``, about ten times less CPU (its header registry
#: parses every header it is given; measured in benchmarks/dispatch.py's profile, where building
#: and flattening were the largest part of a worker's time).
class _Wire(Compat32):
    """``compat32`` that writes a header whose value is already one line of printable ASCII
    short enough as it is, instead of running it through ``email.header.Header``'s folding
    (the same bytes: such a value is not folded or encoded; about a third of the CPU of
    flattening a message, a dozen headers a message)."""

    def _fold(self, name: str, value: Any, sanitize: bool) -> str:
        if (
            isinstance(value, str)
            and value.isascii()
            and value.isprintable()
            and "  " not in value
            and value == value.strip()
            and len(name) + 2 + len(value) <= (self.max_line_length or 78)
        ):
            return f"{name}: {value}{self.linesep}"
        return str(super()._fold(name, value, sanitize))  # type: ignore[misc]


_WIRE = _Wire(linesep="\r\n", max_line_length=998)  # long URLs stay plain
#: A recipient whose local part is not ASCII (``üser@...``) is written as UTF-8 in the ``To``
#: header (RFC 6532) and sent with SMTPUTF8 (RFC 6531): the standard library's own policy for
#: it, which re-folds every header (slower, and only for those messages).
_WIRE_UTF8 = policy.SMTPUTF8.clone(linesep="\r\n", max_line_length=998)
_STAND_IN = "to@invalid"
_UTF8 = Charset("utf-8")
_UTF8.header_encoding = QP  # RFC 2047 Q-encoding for names and subjects
_UTF8.body_encoding = QP  # quoted-printable bodies: readable, 7-bit safe


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _header(text: str) -> str:
    """A header value: ASCII as it is, anything else RFC 2047-encoded."""
    return text if text.isascii() else Header(text, _UTF8).encode(maxlinelen=998)


def _text_part(text: str, subtype: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype, charset="utf-8")
    part.set_payload(text, _UTF8)  # sets the quoted-printable transfer encoding
    return part


def email_address(address: str) -> tuple[str, bool]:
    """The address as it goes on the wire, and whether it needs SMTPUTF8: the domain IDNA-
    encoded (``exämple.com`` -> ``xn--exmple-cua.com``, as mail libraries do; a domain that
    cannot be encoded is not an address), the local part as it is; a local part that is not
    ASCII (``üser``) can only be delivered by a server that offers SMTPUTF8 (RFC 6531).
    :class:`PermanentFailure` for what is not an email address."""
    local, _, domain = address.rpartition("@")
    bad = any(c in address for c in '\r\n\t ,;<>()"\\') or not address.isprintable()
    if bad or not local or not domain:
        raise PermanentFailure(f"not an email address: {address!r}")
    try:
        wire_domain = domain if domain.isascii() else domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise PermanentFailure(f"not an email address (domain): {address!r}") from None
    return f"{local}@{wire_domain}", not local.isascii()


def needs_smtputf8(msg: MimeMessage) -> bool:
    """Whether :func:`build_email` made this message for an SMTPUTF8 recipient."""
    return msg.policy is _WIRE_UTF8


def build_email(message: Message, settings: ChannelSettings) -> MimeMessage:
    """The MIME message (the same for SMTP and the file sink). Header values are one line: a
    name or subject with CR/LF cannot add a header. The recipient's domain is IDNA-encoded;
    a non-ASCII local part makes an RFC 6532 message (:func:`needs_smtputf8`)."""
    to, utf8 = email_address(message.to)
    sender = settings.get("channels.from_email") or "collections@example.com"
    domain = sender.rpartition("@")[2] or "arrears.local"
    body: MIMEBase = _text_part(message.text, "plain")
    if message.html:
        html = message.html
        if tracking.enabled(settings):
            html = tracking.track_html(html, message, settings)
        body = MIMEMultipart("alternative", _subparts=[body, _text_part(html, "html")])
    msg: MIMEBase = body
    if message.attachments:
        msg = MIMEMultipart("mixed", _subparts=[body])
        for a in message.attachments:
            main, _, sub = a.mime.partition("/")
            part = MIMEApplication(a.content, sub) if main == "application" else MIMEBase(main, sub)
            if main != "application":
                part.set_payload(a.content)
                encode_base64(part)
            part.add_header("Content-Disposition", "attachment", filename=a.filename)
            msg.attach(part)
    msg["From"] = formataddr((_one_line(settings.get("channels.from_name")), sender), _UTF8)
    if utf8:  # the name encoded as usual, the address in UTF-8 (the email policy keeps it)
        head = formataddr((_one_line(message.debtor_name), _STAND_IN), _UTF8)
        before, found, _ = head.rpartition(f"<{_STAND_IN}>")
        msg["To"] = f"{before}<{to}>" if found else to
    else:
        msg["To"] = formataddr((_one_line(message.debtor_name), to), _UTF8)
    msg["Subject"] = _header(_one_line(message.subject))
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = f"<{message.idempotency_key}@{domain}>"
    msg["X-Arrears-Key"] = message.idempotency_key
    if message.opt_out_url:
        msg["List-Unsubscribe"] = f"<{message.opt_out_url}>"
        if message.opt_out_url.startswith("https://"):  # RFC 8058 3.1: an HTTPS URI
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # headers first, as a reader expects them (the MIME headers were set when the parts were)
    for name in ("Content-Type", "MIME-Version", "Content-Transfer-Encoding"):
        values = msg.get_all(name) or []
        del msg[name]
        for value in values:
            msg[name] = value
    msg.policy = _WIRE_UTF8 if utf8 else _WIRE
    return msg


class _Generator(BytesGenerator):
    """``BytesGenerator`` whose MIME boundaries are checked against the parts' text with a
    substring search: the standard one compiles a regular expression for each new boundary
    (random, so never cached): about a tenth of a millisecond of CPU an email."""

    @classmethod
    def _make_boundary(cls, text: Any = None) -> str:
        while True:
            boundary = "=" * 15 + f"{random.randrange(sys.maxsize):0{_BOUNDARY_DIGITS}d}" + "=="
            if text is None:
                return boundary
            marker = "--" + boundary
            if (marker.encode("ascii") if isinstance(text, bytes) else marker) not in text:
                return boundary  # a stricter test than the standard one's (line starts only)


_BOUNDARY_DIGITS = len(repr(sys.maxsize - 1))


def email_bytes(msg: MimeMessage) -> bytes:
    """The message as sent: CRLF line ends."""
    out = BytesIO()
    wire = _WIRE_UTF8 if needs_smtputf8(msg) else _WIRE
    _Generator(out, mangle_from_=False, policy=wire).flatten(msg, unixfrom=False)
    return out.getvalue()


class SmtpChannel:
    dedup = True  # the same Message-ID: receiving systems drop the duplicate

    def __init__(self, settings: ChannelSettings) -> None:
        self.settings = settings
        self.host = settings.get("smtp.host") or "127.0.0.1"
        self.security = settings.get("smtp.security") or "starttls"
        default_port = {"tls": "465", "starttls": "587"}.get(self.security, "25")
        self.port = int(settings.get("smtp.port") or default_port)
        self.timeout = float(settings.get("smtp.timeout") or "30")
        self._conn: smtplib.SMTP | None = None

    def _context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        cafile = self.settings.get("smtp.cafile")
        if cafile:
            ctx.load_verify_locations(cafile)
        return ctx

    def _connect(self) -> smtplib.SMTP:
        if self._conn is not None:
            return self._conn
        try:
            conn: smtplib.SMTP
            if self.security == "tls":
                conn = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=self._context()
                )
            else:
                conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
                if self.security == "starttls":
                    conn.starttls(context=self._context())
            user = self.settings.get("smtp.username")
            if user:
                conn.login(user, self.settings.get("smtp.password"))
        except smtplib.SMTPAuthenticationError as exc:
            raise TemporaryFailure(f"SMTP login refused: {exc.smtp_code}") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise TemporaryFailure(f"SMTP {self.host}:{self.port}: {exc}") from None
        self._conn = conn
        return conn

    def send(self, message: Message) -> str:
        msg = build_email(message, self.settings)
        data, sender = email_bytes(msg), self.settings.get("channels.from_email")
        to, utf8 = email_address(message.to)
        for again in (True, False):
            conn = self._connect()
            try:
                options = self._utf8_options(conn) if utf8 else ()
                conn.sendmail(sender or "collections@example.com", [to], data, options)
                return str(msg["Message-ID"])
            except smtplib.SMTPServerDisconnected:
                self._conn = None
                if not again:
                    raise TemporaryFailure("SMTP server disconnected") from None
            except smtplib.SMTPRecipientsRefused as exc:
                codes = [code for code, _ in exc.recipients.values()]
                text = f"recipient refused: {codes}"
                self._reset()
                if all(c >= 500 for c in codes):
                    raise PermanentFailure(text) from None
                raise TemporaryFailure(text) from None
            except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
                self._reset()
                if exc.smtp_code >= 500:
                    raise PermanentFailure(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from None
                raise TemporaryFailure(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from None
            except (OSError, smtplib.SMTPException) as exc:
                self._conn = None
                raise TemporaryFailure(f"SMTP: {exc}") from None
        raise TemporaryFailure("SMTP: not sent")  # pragma: no cover

    @staticmethod
    def _utf8_options(conn: smtplib.SMTP) -> tuple[str, ...]:
        """MAIL FROM options for a recipient with a non-ASCII local part: SMTPUTF8 (and
        8BITMIME) if the server offers it; else the message cannot be delivered through it."""
        conn.ehlo_or_helo_if_needed()
        if not conn.has_extn("smtputf8"):
            raise PermanentFailure(
                "the address has a non-ASCII local part and the SMTP server does not offer "
                "SMTPUTF8 (RFC 6531)"
            )
        return ("SMTPUTF8", "BODY=8BITMIME") if conn.has_extn("8bitmime") else ("SMTPUTF8",)

    def _reset(self) -> None:
        if self._conn is not None:
            try:
                self._conn.rset()
            except (OSError, smtplib.SMTPException):
                self._conn = None

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._conn.quit()
            self._conn = None
