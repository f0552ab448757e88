"""Sending one webhook attempt over HTTP, and when to try again.

An attempt is a POST of the stored body with :func:`arrears.webhooks.signing.headers`; a 2xx
answer delivers it; any other answer, a timeout or a refused connection is retried after
:func:`backoff` (30 s, 1 min, 2 min... at most 6 h) until :data:`MAX_ATTEMPTS`, then the
delivery has failed. Redirects are not followed (the endpoint's URL is the one registered)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

import httpx

MAX_ATTEMPTS = 8
TIMEOUT_SECONDS = 10.0
FIRST_WAIT = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=6)


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: 30 s doubled each time, at most 6 h."""
    wait: timedelta = FIRST_WAIT * (2 ** max(attempts - 1, 0))
    return min(wait, LONGEST_WAIT)


@dataclass(frozen=True, slots=True)
class Answer:
    status: int | None  # the HTTP status (None: no answer)
    error: str | None  # why it is not delivered (None: delivered)
    milliseconds: int

    @property
    def delivered(self) -> bool:
        return self.error is None


def post(
    client: httpx.Client, url: str, body: str, headers: dict[str, str], *, timeout: float
) -> Answer:
    """POST ``body`` to ``url`` once."""
    started = time.perf_counter()
    try:
        answer = client.post(url, content=body.encode(), headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        took = int((time.perf_counter() - started) * 1000)
        return Answer(None, f"{type(exc).__name__}: {exc}"[:500], took)
    took = int((time.perf_counter() - started) * 1000)
    if 200 <= answer.status_code < 300:
        return Answer(answer.status_code, None, took)
    return Answer(answer.status_code, f"HTTP {answer.status_code}: {answer.text[:200]}", took)


def client() -> httpx.Client:
    return httpx.Client(follow_redirects=False)
