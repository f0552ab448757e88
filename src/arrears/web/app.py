"""The application factory: one workspace, one portfolio, its store and settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI, Request
from sqlalchemy import Engine

from arrears import config
from arrears.channels.base import ChannelSettings
from arrears.store.database import connect
from arrears.store.messages.outbox import portfolio_id
from arrears.web import errors


@dataclass(frozen=True, slots=True)
class Site:
    """What every endpoint needs."""

    engine: Engine
    settings: ChannelSettings
    portfolio: int
    clock: Callable[[], datetime]
    #: ``web.max_body_bytes``: the longest request body read
    max_body: int = 1 << 20

    def setting(self, key: str) -> str:
        return self.settings.get(key)


def site(request: Request) -> Site:
    found: Site = request.app.state.site
    return found


def create_app(
    workspace: config.Workspace | Path | str,
    *,
    portfolio: str | None = None,
    engine: Engine | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> FastAPI:
    """The web app of ``workspace`` (a loaded :class:`arrears.config.Workspace` or its folder)
    for ``portfolio`` (default: the workspace's ``portfolio`` setting). Raises ``LookupError``
    for an unknown portfolio and :class:`arrears.config.ConfigError` for a ``web.*`` setting
    that is not usable."""
    from arrears.web import callbacks, optout, tracking  # noqa: PLC0415 (they import us)

    ws = workspace if isinstance(workspace, config.Workspace) else config.load(Path(workspace))
    max_body = _max_body(ws)
    engine = engine or connect(ws.database_url)
    code = portfolio or ws.get("portfolio")
    pid = portfolio_id(engine, code)
    if pid is None:
        raise LookupError(f"no portfolio {code!r} in {ws.database_url}")
    app = FastAPI(
        title="arrears",
        summary="Delivery callbacks, inbound replies, opt-out and email tracking.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.site = Site(engine, ChannelSettings(ws.values, ws.root), pid, clock, max_body)
    errors.install(app)
    app.include_router(callbacks.router)
    app.include_router(optout.router)
    app.include_router(tracking.router)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "portfolio": code}

    return app


def _max_body(ws: config.Workspace) -> int:
    text = ws.get("web.max_body_bytes").strip().replace("_", "")
    if not text.isdigit() or int(text) < 1:
        raise config.ConfigError(
            f"{ws.sources['web.max_body_bytes']}: web.max_body_bytes = "
            f"{ws.get('web.max_body_bytes')!r}; give a positive whole number of bytes "
            "(default 1048576)"
        )
    return int(text)
