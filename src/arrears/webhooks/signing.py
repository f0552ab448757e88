"""The signature of a webhook: ``X-Arrears-Signature: v1=<hex HMAC-SHA256>`` of
``<timestamp>.<body>`` with the endpoint's secret, and ``X-Arrears-Timestamp: <unix seconds>``.

The timestamp is signed with the body, so a captured request cannot be replayed later with a
new timestamp: a receiver checks the signature (in constant time) and refuses a timestamp
older than a few minutes (:func:`verify`, what a client's code does, in Python)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

PREFIX = "whsec_"
#: how old a timestamp :func:`verify` accepts, in seconds
TOLERANCE = 300


def new_secret() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: str | bytes) -> str:
    """``v1=`` and the hex HMAC-SHA256 of ``<timestamp>.<body>`` with ``secret``."""
    raw = body.encode() if isinstance(body, str) else body
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def headers(secret: str, at: datetime, body: str, *, event: str, delivery: str) -> dict[str, str]:
    """The headers of one attempt at ``at``."""
    timestamp = int(at.timestamp())
    return {
        "Content-Type": "application/json",
        "User-Agent": "arrears-webhooks/1",
        "X-Arrears-Event": event,
        "X-Arrears-Delivery": delivery,
        "X-Arrears-Timestamp": str(timestamp),
        "X-Arrears-Signature": signature(secret, timestamp, body),
    }


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    given: str,
    *,
    now: datetime,
    tolerance: int = TOLERANCE,
) -> bool:
    """Whether ``given`` signs ``body`` at ``timestamp`` with ``secret``, and that timestamp is
    within ``tolerance`` seconds of ``now``."""
    if not timestamp.isdigit() or abs(now.timestamp() - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, int(timestamp), body), given)
