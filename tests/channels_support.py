"""A small workspace with queued messages (init, generate, import, run), copied per test."""

from __future__ import annotations

import json
import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import Engine, select

from arrears import config
from arrears.channels.base import Channel, ChannelSettings, Message
from arrears.channels.dispatch import Dispatcher, Options
from arrears.cli.app import main
from arrears.services.cycle import load_compiled
from arrears.store.database import connect
from arrears.store.schema import outbox

DAY = date(2026, 11, 23)
#: When the tests' messages leave: a time of DAY at which the contact rules allow every queued
#: message of the base workspace (Berlin 17:00, London 16:00, Bogota and New York 11:00,
#: Mexico City and Chicago 10:00). Commands run with it through ``SENDING_ENV``.
SENDING_TIME = datetime.combine(DAY, time(16, 0), tzinfo=UTC)
SENDING_ENV = {"ARREARS_TEST_DISPATCH_NOW": SENDING_TIME.isoformat()}
_BASE: dict[str, Path] = {}


def base_workspace(root: Path) -> Path:
    if "ws" not in _BASE:
        ws = root / "base"
        data = ws / "data"
        assert main(["init", str(ws)]) == 0
        gen = ["generate", str(data), "--debtors", "60", "--months", "4", "--seed", "3"]
        assert main([*gen, "--as-of", DAY.isoformat()]) == 0
        for kind in ("debtors", "invoices", "payments"):
            assert main(["-w", str(ws), "import", kind, str(data / f"{kind}.csv")]) == 0
        assert main(["-w", str(ws), "run", "--as-of", DAY.isoformat()]) == 0
        _BASE["ws"] = ws
    return _BASE["ws"]


def copy_workspace(base: Path, to: Path) -> Path:
    shutil.copytree(base, to, ignore=shutil.ignore_patterns("data"))
    return to


def engine_of(ws: Path) -> Engine:
    return connect(f"sqlite:///{ws / 'arrears.db'}")


def rows(ws: Path) -> list[dict[str, object]]:
    with engine_of(ws).connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(outbox).order_by(outbox.c.id))]


class Recorder:
    """A channel adapter that records what it is asked to send, or fails as told."""

    def __init__(self, dedup: bool = True, fail: Exception | None = None) -> None:
        self.dedup = dedup
        self.fail = fail
        self.sent: list[Message] = []

    def send(self, message: Message) -> str:
        if self.fail is not None:
            raise self.fail
        self.sent.append(message)
        return f"ref-{len(self.sent)}"

    def close(self) -> None:
        return None


def dispatcher(
    ws: Path,
    adapters: dict[str, Channel] | None = None,
    *,
    at: datetime | None = None,
    options: Options | None = None,
    env: dict[str, str] | None = None,
    **extra: Any,
) -> Dispatcher:
    settings = config.load(ws, env=env or {})
    when = at or SENDING_TIME
    roots = [ws / "templates"]
    return Dispatcher(
        engine_of(ws),
        ChannelSettings(settings.values, ws),
        portfolio="default",
        packs=load_compiled(settings.policy_for("default")).packs,
        template_roots=roots,
        options=options,
        clock=lambda: when,
        adapters=adapters,
        today=DAY,
        **extra,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Provider(BaseHTTPRequestHandler):
    """A local SMS/WhatsApp provider: records each request; answers 200 with an id, or what
    ``answers`` says for a recipient (``/send`` JSON ``to``)."""

    requests: ClassVar[list[dict[str, Any]]] = []
    answers: ClassVar[dict[str, tuple[int, dict[str, Any]]]] = {}

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        entry = {"path": self.path, "headers": dict(self.headers), "body": body}
        Provider.requests.append(entry)
        to = json.loads(body)["to"] if self.path == "/send" else ""
        code, answer = Provider.answers.get(
            to, (200, {"id": f"p{len(Provider.requests)}", "sid": "SM1"})
        )
        data = json.dumps(answer).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        return None


@contextmanager
def provider_server() -> Iterator[int]:
    """A :class:`Provider` on a free loopback port (its requests reset); yields the port."""
    Provider.requests = []
    Provider.answers = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), Provider)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
