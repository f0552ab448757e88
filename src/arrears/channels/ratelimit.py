"""Per-provider rate limits: a token bucket per adapter, shared by the messages of one worker.

``<adapter>.rate`` (``smtp.rate``, ``webhook.rate``, ``twilio.rate``, ``file.rate``,
``pdf.rate``) is the most messages a second the worker hands to that adapter; the bucket holds
at most ``<adapter>.burst`` tokens (default: one second's worth, at least 1), so a quiet worker
may send a short burst and then keeps to the rate. Empty or 0 means no limit.

The limit is per worker process: four workers with ``smtp.rate = 50`` may send 200 a second
together (set the rate to the provider's limit divided by the number of workers). The clock and
the sleep are arguments, so the tests run on a fake clock without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; ``take()`` waits for one."""

    rate: float
    burst: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    tokens: float = field(init=False)
    last: float = field(init=False)

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("a rate limit needs rate > 0 and burst >= 1")
        self.tokens = self.burst
        self.last = self.clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now

    def take(self) -> float:
        """Take one token, sleeping until there is one; returns the seconds waited."""
        waited = 0.0
        self._refill()
        while self.tokens < 1:
            pause = (1 - self.tokens) / self.rate
            self.sleep(pause)
            waited += pause
            self._refill()
        self.tokens -= 1
        return waited


def parse_limit(adapter: str, rate: str, burst: str) -> tuple[float, float] | None:
    """``(rate, burst)`` from the settings' text, ``None`` for no limit; ``ValueError`` naming
    the setting when a value is not a non-negative number."""
    try:
        per_second = float(rate) if rate.strip() else 0.0
    except ValueError:
        raise ValueError(f"{adapter}.rate = {rate!r} is not a number (messages a second)") from None
    if per_second < 0:
        raise ValueError(f"{adapter}.rate = {rate!r} must be 0 (no limit) or more")
    if per_second == 0:
        return None
    try:
        size = float(burst) if burst.strip() else max(1.0, per_second)
    except ValueError:
        raise ValueError(f"{adapter}.burst = {burst!r} is not a number (messages)") from None
    if size < 1:
        raise ValueError(f"{adapter}.burst = {burst!r} must be 1 or more")
    return per_second, size
