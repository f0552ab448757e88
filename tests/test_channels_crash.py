"""A worker killed with SIGKILL in the middle of a batch, and restarted: what arrives at a real
SMTP server (aiosmtpd on loopback), counted by Message-ID.

The kill lands while the server holds one message's DATA: the server has the message but its
``250`` has not reached the worker, so that outbox row is left in ``sending`` (the window of
docs/channels.md, "At most once"). The restarted worker reconciles it after the lease: the SMTP
adapter's provider deduplicates by Message-ID (``dedup``), so it is sent again with the same
Message-ID. This server does not deduplicate, so it receives that one message twice under one
Message-ID; every other message arrives exactly once and none is lost. On SQLite, and on
PostgreSQL (marker ``postgres``) with the same portfolio.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from arrears.channels.base import idempotency_key
from arrears.cli.app import main
from arrears.store.database import connect
from arrears.store.schema import activity, outbox
from channels_support import (
    DAY,
    SENDING_ENV,
    SENDING_TIME,
    base_workspace,
    copy_workspace,
    free_port,
)

controller_module = pytest.importorskip("aiosmtpd.controller")

HOLD_AT = 2  # the server holds the DATA of the 2nd message until the worker is dead


class SlowMailbox:
    """Records each message's Message-ID when its DATA arrives; holds the reply to the
    ``HOLD_AT``-th message until ``release`` is set (the worker is killed meanwhile)."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.holding = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        head = bytes(envelope.content).split(b"\r\n\r\n", 1)[0]
        found = [
            line.split(b":", 1)[1].strip().decode()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"message-id:")
        ]
        self.ids.append(found[0] if found else "")

        if len(self.ids) == HOLD_AT:
            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.02)
        return "250 OK"


def _worker(ws: Path, port: int) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "ARREARS_CHANNELS_EMAIL": "smtp",
        "ARREARS_SMTP_SECURITY": "none",
        "ARREARS_SMTP_PORT": str(port),
        "ARREARS_DISPATCH_BATCH_SIZE": "3",
        "ARREARS_DISPATCH_LEASE_SECONDS": "1",
        "ARREARS_DISPATCH_POLL_SECONDS": "0.2",
        "PYTHONUNBUFFERED": "1",
        **SENDING_ENV,  # the time the messages leave, in every window of the base workspace
    }
    return subprocess.Popen(
        [sys.executable, "-m", "arrears.cli.app", "-w", str(ws), "worker", "--as-of", str(DAY)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _wait(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.05)


def _store_for(
    backend: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    base: Path,
    ws: Path,
) -> str:
    """The workspace's store: its SQLite copy, or a fresh PostgreSQL database with the same
    portfolio (imported and run as the base workspace was; the workers inherit the URL)."""
    if backend == "sqlite":
        return f"sqlite:///{ws / 'arrears.db'}"
    url = str(request.getfixturevalue("pg_url"))
    monkeypatch.setenv("ARREARS_DATABASE_URL", url)
    assert main(["-w", str(ws), "portfolio", "add", "default"]) == 0
    for kind in ("debtors", "invoices", "payments"):
        assert main(["-w", str(ws), "import", kind, str(base / "data" / f"{kind}.csv")]) == 0
    assert main(["-w", str(ws), "run", "--as-of", DAY.isoformat()]) == 0
    return url


def _rows(url: str) -> list[dict[str, Any]]:
    engine = connect(url)
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(outbox).order_by(outbox.c.id))]
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_worker_killed_mid_batch_loses_nothing_and_doubles_only_the_message_in_flight(
    backend: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
) -> None:
    base = base_workspace(tmp_path_factory.mktemp("channels"))
    ws = copy_workspace(base, tmp_path / "ws")
    url = _store_for(backend, request, monkeypatch, base, ws)

    now = SENDING_TIME
    emails = {
        str(r["key"]): r
        for r in _rows(url)
        if r["channel"] == "email" and r["send_at"].replace(tzinfo=UTC) <= now  # type: ignore[union-attr]
    }
    assert len(emails) > HOLD_AT + 2, "the workspace needs more emails for a batch to be cut"
    message_id = {k: f"<{idempotency_key(k)}@example.com>" for k in emails}
    box = SlowMailbox()
    port = free_port()
    controller = controller_module.Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    procs: list[subprocess.Popen[str]] = []
    try:
        first = _worker(ws, port)
        procs.append(first)
        _wait(box.holding.is_set, 60, "the server holds a message")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        box.release.set()
        # mid-batch: one row in flight, its batch's rest still claimed, emails still queued
        at_kill = {str(r["key"]): r for r in _rows(url) if str(r["key"]) in emails}
        in_flight = [k for k, r in at_kill.items() if r["status"] == "sending"]
        assert len(in_flight) == 1 and message_id[in_flight[0]] == box.ids[HOLD_AT - 1]
        assert len(box.ids) == HOLD_AT
        assert sum(1 for r in at_kill.values() if r["status"] == "sent") == HOLD_AT - 1
        assert any(r["status"] in ("claimed", "queued") for r in at_kill.values())

        second = _worker(ws, port)
        procs.append(second)

        def drained() -> bool:
            return all(
                r["status"] not in ("queued", "claimed", "sending")
                for r in _rows(url)
                if str(r["key"]) in emails
            )

        _wait(drained, 60, "the restarted worker has sent every email")
        second.send_signal(signal.SIGTERM)
        _, err = second.communicate(timeout=60)
        assert second.returncode == 0, err
    finally:
        box.release.set()
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        controller.stop()

    after = {str(r["key"]): r for r in _rows(url) if str(r["key"]) in emails}
    assert all(r["status"] == "sent" for r in after.values())
    arrived = Counter(box.ids)
    assert set(arrived) == set(message_id.values())  # none lost, nothing foreign
    (doubled,) = in_flight
    assert arrived[message_id[doubled]] == 2  # the one in flight: resent under the same id
    assert all(n == 1 for mid, n in arrived.items() if mid != message_id[doubled])
    engine = connect(url)
    with engine.connect() as conn:
        reconciled = conn.execute(
            select(activity.c.subject_id, activity.c.payload).where(
                activity.c.kind == "message.reconciled"
            )
        ).all()
    engine.dispose()
    assert [(k, p["resend"]) for k, p in reconciled] == [(doubled, True)]
