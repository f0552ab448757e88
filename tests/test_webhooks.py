"""Outbound webhooks through the command line against a real HTTP server on 127.0.0.1
(docs/web.md, "Outbound webhooks"): a payment recorded with ``arrears payment add`` reaches the
client's URL signed with the endpoint's secret; a 500 is retried (the same delivery, the same
body) and the log shows both attempts; the backoff holds a retry until its time; a delivery
fails for good after the last attempt; nothing is sent twice."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import Engine

from arrears.cli.app import main
from arrears.domain.actor import Actor, Role
from arrears.domain.errors import NotAllowed
from arrears.domain.problems import ProblemsFound
from arrears.services.outreach import webhooks
from arrears.services.uow import SqlUnitOfWork
from arrears.webhooks import sending, signing
from channels_support import DAY, base_workspace, copy_workspace, engine_of


@dataclass
class Hook:
    port: int
    requests: list[dict[str, Any]] = field(default_factory=list)
    #: the statuses to answer, in order; then 200
    statuses: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


class Receiver(BaseHTTPRequestHandler):
    hook: ClassVar[Hook]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.hook.requests.append({"headers": dict(self.headers), "body": body})
        status = Receiver.hook.statuses.pop(0) if Receiver.hook.statuses else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def hook() -> Iterator[Hook]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    Receiver.hook = Hook(int(server.server_address[1]))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Receiver.hook
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def ws(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Path:
    return copy_workspace(base_workspace(tmp_path_factory.mktemp("hooks")), tmp_path / "ws")


def run(ws: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    code = main(["-w", str(ws), *args])
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


def a_debtor(ws: Path) -> tuple[str, str]:
    from sqlalchemy import select

    from arrears.store.schema import debtor

    with engine_of(ws).connect() as conn:
        row = conn.execute(select(debtor.c.external_id, debtor.c.currency).limit(1)).one()
    return str(row[0]), str(row[1])


def test_a_payment_reaches_the_url_signed_and_a_500_is_retried(
    ws: Path, hook: Hook, capsys: pytest.CaptureFixture[str]
) -> None:
    said = run(
        ws,
        capsys,
        "webhooks",
        "add",
        "crm",
        hook.url,
        "--event",
        "payment.recorded",
        "--event",
        "promise.made",
    )
    secret = re.search(r"^(whsec_\S+)$", said, re.M)
    assert secret, said
    listed = json.loads(run(ws, capsys, "webhooks", "list", "--format", "json"))
    assert [(w["webhook"], w["url"], w["pending"]) for w in listed] == [("crm", hook.url, 0)]
    # what happened before the webhook was added is not sent
    assert "0 new events" in run(ws, capsys, "webhooks", "deliver")
    assert hook.requests == []

    debtor, currency = a_debtor(ws)
    run(
        ws,
        capsys,
        "payment",
        "add",
        "--debtor",
        debtor,
        "--id",
        "HOOK-P1",
        "--on",
        DAY.isoformat(),
        "--amount",
        "12.50",
        "--currency",
        currency,
    )
    run(
        ws,
        capsys,
        "hold",
        "add",
        debtor,
        "--from",
        DAY.isoformat(),
        "--until",
        (DAY + timedelta(days=3)).isoformat(),
        "--reason",
        "not an event of this hook",
    )

    hook.statuses = [500]
    first = run(ws, capsys, "webhooks", "deliver")
    assert "1 new events; 0 delivered, 1 to retry, 0 failed" in first
    log = json.loads(run(ws, capsys, "webhooks", "log", "--format", "json"))
    assert [(a["event"], a["attempt"], a["status"], a["state"]) for a in log] == [
        ("payment.recorded", 1, 500, "pending")
    ]
    assert log[0]["next"] and "HTTP 500" in log[0]["error"]
    # not due yet: nothing is sent
    assert "0 delivered, 0 to retry" in run(ws, capsys, "webhooks", "deliver")
    assert len(hook.requests) == 1

    second = run(ws, capsys, "webhooks", "deliver", "--retry-now")
    assert "0 new events; 1 delivered, 0 to retry, 0 failed" in second
    assert len(hook.requests) == 2
    one, two = hook.requests
    assert one["body"] == two["body"]
    assert one["headers"]["X-Arrears-Delivery"] == two["headers"]["X-Arrears-Delivery"]
    for got in (one, two):
        stamp, body = got["headers"]["X-Arrears-Timestamp"], got["body"]
        mac = hmac.new(secret.group(1).encode(), f"{stamp}.".encode() + body, hashlib.sha256)
        assert got["headers"]["X-Arrears-Signature"] == "v1=" + mac.hexdigest()
        assert signing.verify(
            secret.group(1),
            stamp,
            body,
            got["headers"]["X-Arrears-Signature"],
            now=datetime.now(UTC),
        )
        assert not signing.verify(
            "whsec_another",
            stamp,
            body,
            got["headers"]["X-Arrears-Signature"],
            now=datetime.now(UTC),
        )
    event = json.loads(two["body"])
    assert (event["event"], event["debtor"], event["subject"]["id"]) == (
        "payment.recorded",
        debtor,
        "HOOK-P1",
    )
    assert two["headers"]["X-Arrears-Event"] == "payment.recorded"

    log = json.loads(run(ws, capsys, "webhooks", "log", "--format", "json"))
    assert [(a["attempt"], a["status"], a["state"]) for a in log] == [
        (2, 200, "delivered"),
        (1, 500, "delivered"),
    ]
    assert "0 new events; 0 delivered" in run(ws, capsys, "webhooks", "deliver", "--retry-now")
    assert len(hook.requests) == 2
    table = run(ws, capsys, "webhooks", "log")
    assert "payment.recorded" in table and "500" in table

    run(ws, capsys, "webhooks", "remove", "crm")
    assert "no webhooks yet" in run(ws, capsys, "webhooks", "list")


def test_backoff_then_failed_for_good(ws: Path, hook: Hook) -> None:
    uow = SqlUnitOfWork(engine_of(ws))
    admin = Actor("cli:test", Role.ADMIN)
    t0 = datetime(2026, 12, 7, 12, tzinfo=UTC)
    now = [t0]
    webhooks.add_endpoint(
        uow,
        admin,
        portfolio="default",
        name="all",
        url=hook.url,
        event_names=None,
        at=t0,
        secret="s" * 20,
    )
    from arrears.domain.ledger import Payment
    from arrears.domain.money import Money
    from arrears.services.books import ledger

    debtor, currency = a_debtor(ws)
    ledger.record_payment(
        uow,
        admin,
        Payment("HOOK-P2", debtor, DAY, Money(Decimal("3"), currency), None, None, "default"),
        at=t0,
    )
    hook.statuses = [503] * sending.MAX_ATTEMPTS
    first = webhooks.deliver(uow, admin, portfolio="default", clock=lambda: now[0])
    assert (first.collected, first.retrying) == (1, 1)
    now[0] = t0 + timedelta(seconds=29)
    assert webhooks.deliver(uow, admin, portfolio="default", clock=lambda: now[0]).retrying == 0
    for attempt in range(2, sending.MAX_ATTEMPTS + 1):
        now[0] += sending.backoff(attempt - 1) + timedelta(seconds=1)
        done = webhooks.deliver(uow, admin, portfolio="default", clock=lambda: now[0])
        assert (done.retrying, done.failed) == (
            (1, 0) if attempt < sending.MAX_ATTEMPTS else (0, 1)
        )
    assert len(hook.requests) == sending.MAX_ATTEMPTS
    log = webhooks.delivery_log(uow, admin, portfolio="default")
    assert [a.attempt for a in log] == list(range(sending.MAX_ATTEMPTS, 0, -1))
    assert {a.state for a in log} == {"failed"} and all(a.status == 503 for a in log)
    now[0] += timedelta(days=1)
    webhooks.deliver(uow, admin, portfolio="default", clock=lambda: now[0], every_pending=True)
    assert len(hook.requests) == sending.MAX_ATTEMPTS


def test_requests_checked_and_roles(ws: Path) -> None:
    uow = SqlUnitOfWork(engine_of(ws))
    at = datetime(2026, 12, 7, 12, tzinfo=UTC)
    with pytest.raises(ProblemsFound) as bad:
        webhooks.add_endpoint(
            uow,
            Actor("cli:t", Role.ADMIN),
            portfolio="default",
            name="Bad!",
            url="ftp://x",
            event_names=["payment.lost"],
            at=at,
            secret="short",
        )
    assert len(bad.value.problems) == 4
    with pytest.raises(NotAllowed):
        webhooks.add_endpoint(
            uow,
            Actor("token:a", Role.AUDITOR),
            portfolio="default",
            name="a",
            url="http://127.0.0.1/x",
            event_names=None,
            at=at,
        )
    assert webhooks.list_endpoints(uow, Actor("token:a", Role.AUDITOR), portfolio="default") == []


def test_collect_and_deliver_on_sqlite_and_postgresql(engine: Engine, hook: Hook) -> None:
    from arrears.domain.activity import PaymentPosted, PromiseBroken
    from arrears.store.activity_log import Entry, record
    from arrears.store.portfolios import ensure_portfolio

    at = datetime(2026, 12, 7, 9, tzinfo=UTC)
    with engine.begin() as conn:
        pid = ensure_portfolio(conn, "default", name=None, base_currency="USD", actor="test")

    def happen(kind: type[PaymentPosted] | type[PromiseBroken], subject: str) -> None:
        with engine.begin() as conn:
            activity = kind(at, "test", "default", None, "payment", subject, {"amount": "1.00"})
            record(conn, [Entry(activity, pid)])

    happen(PaymentPosted, "before")
    uow = SqlUnitOfWork(engine)
    admin = Actor("cli:test", Role.ADMIN)
    webhooks.add_endpoint(uow, admin, portfolio="default", name="crm", url=hook.url,
                          event_names=["payment.recorded"], at=at, secret="k" * 20)  # fmt: skip
    happen(PaymentPosted, "P1")
    happen(PromiseBroken, "not-subscribed")
    happen(PaymentPosted, "P2")
    assert webhooks.collect(uow, admin, portfolio="default", at=at) == 2
    assert webhooks.collect(uow, admin, portfolio="default", at=at) == 0
    done = webhooks.deliver(uow, admin, portfolio="default", clock=lambda: at)
    assert (done.collected, done.delivered) == (0, 2)
    sent = [json.loads(r["body"])["subject"]["id"] for r in hook.requests]
    assert sent == ["P1", "P2"]
    [crm] = webhooks.list_endpoints(uow, admin, portfolio="default")
    assert (crm.pending, crm.delivered, crm.failed) == (0, 2, 0)


def test_arrears_dispatch_delivers_the_events_too(
    ws: Path, hook: Hook, capsys: pytest.CaptureFixture[str]
) -> None:
    """The day's `arrears dispatch` (the scheduled job) also sends the webhooks' events; a
    workspace without webhooks sees no webhook line."""
    assert "webhooks:" not in run(ws, capsys, "dispatch", "--as-of", DAY.isoformat())
    run(ws, capsys, "webhooks", "add", "erp", hook.url, "--event", "payment.recorded")
    debtor, currency = a_debtor(ws)
    run(ws, capsys, "payment", "add", "--debtor", debtor, "--id", "HOOK-D1",
        "--on", DAY.isoformat(), "--amount", "3.00", "--currency", currency)  # fmt: skip
    said = run(ws, capsys, "dispatch", "--as-of", DAY.isoformat())
    assert "webhooks: 1 new events; 1 delivered, 0 to retry, 0 failed" in said, said
    [got] = hook.requests
    assert json.loads(got["body"])["subject"]["id"] == "HOOK-D1"
    again = run(ws, capsys, "dispatch", "--as-of", DAY.isoformat())
    assert "webhooks: 0 new events; 0 delivered" in again and len(hook.requests) == 1


def test_the_worker_delivers_the_events_as_they_happen(
    ws: Path, hook: Hook, capsys: pytest.CaptureFixture[str]
) -> None:
    """`arrears worker` (kept running) delivers new events after each pass."""
    import os
    import signal
    import subprocess
    import sys
    import time

    run(ws, capsys, "webhooks", "add", "erp", hook.url, "--event", "payment.recorded")
    env = {**os.environ, "ARREARS_DISPATCH_POLL_SECONDS": "0.2", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "arrears.cli.app", "-w", str(ws), "worker"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and "worker" in proc.stdout.readline()
        debtor, currency = a_debtor(ws)
        run(ws, capsys, "payment", "add", "--debtor", debtor, "--id", "HOOK-W1",
            "--on", DAY.isoformat(), "--amount", "2.00", "--currency", currency)  # fmt: skip
        deadline = time.monotonic() + 60
        while not hook.requests and time.monotonic() < deadline:
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    [got] = hook.requests
    assert json.loads(got["body"])["subject"]["id"] == "HOOK-W1"
    assert "webhooks: 1 new events; 1 delivered" in out, out
