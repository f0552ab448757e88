"""Sessions of the web pages: a signed cookie, and the CSRF token every form carries.

The cookie (``arrears_session``) holds the username and a random CSRF token, signed with a key
derived from the workspace's ``channels.secret`` (itsdangerous, timestamped: a session lasts
:data:`MAX_AGE` at most). It is ``HttpOnly`` (no script reads it), ``SameSite=Lax`` (another
site's form posts do not carry it) and ``Secure`` when ``web.public_url`` is HTTPS. A visitor
who is not logged in gets a session too, with no user: the login form's CSRF token lives in it.
Logging in starts a new session (a new token), so a token seen before the login is worthless
after it.

Every POST of a page is checked with :func:`check_csrf`: the form's ``csrf`` field must equal the
session's token (compared in constant time), else 403 and nothing is done.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

COOKIE = "arrears_session"
MAX_AGE = 12 * 3600  # seconds


@dataclass(frozen=True, slots=True)
class Session:
    """``user``: the username logged in, or ``None``; ``csrf``: the token of its forms;
    ``new``: the cookie must be (re)written with the answer."""

    user: str | None
    csrf: str
    new: bool = False


def fresh(user: str | None = None) -> Session:
    return Session(user, secrets.token_urlsafe(32), new=True)


class Sessions:
    """Reads and writes the session cookie with the key derived from ``secret``."""

    def __init__(self, secret: str, *, secure: bool) -> None:
        if not secret:
            raise ValueError("sessions need channels.secret")
        key = hmac.new(secret.encode(), b"arrears web session", hashlib.sha256).digest()
        self._signer = URLSafeTimedSerializer(key, salt="arrears.session")
        self.secure = secure

    def read(self, request: Request) -> Session:
        """The request's session, or a new one without a user (no cookie, a forged or expired
        one)."""
        raw = request.cookies.get(COOKIE)
        if raw:
            try:
                data: Any = self._signer.loads(raw, max_age=MAX_AGE)
            except BadSignature:  # also SignatureExpired
                data = None
            if (
                isinstance(data, dict)
                and isinstance(data.get("t"), str)
                and (data.get("u") is None or isinstance(data.get("u"), str))
            ):
                return Session(data.get("u"), data["t"])
        return fresh()

    def write(self, response: Response, session: Session) -> None:
        response.set_cookie(
            COOKIE,
            self._signer.dumps({"u": session.user, "t": session.csrf}),
            max_age=MAX_AGE,
            path="/",
            httponly=True,
            samesite="lax",
            secure=self.secure,
        )


def check_csrf(session: Session, form: dict[str, str]) -> bool:
    """The form carries the session's CSRF token (and the session is not brand new)."""
    sent = form.get("csrf", "")
    return bool(sent) and not session.new and hmac.compare_digest(sent, session.csrf)
