"""The application factory: one workspace, one portfolio, its store and settings.

The endpoints parse and verify what they receive, call one use case of
:mod:`arrears.services.outreach.messages` with a unit of work (:meth:`Site.uow`) and an actor, and
answer;
they hold no SQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI, Request

from arrears import config
from arrears.channels.base import ChannelSettings
from arrears.domain.errors import NotFound
from arrears.scoring.model import Model
from arrears.scoring.registry import ModelFileError, promoted_number, versions
from arrears.scoring.registry import load as load_model
from arrears.services.outreach import messages
from arrears.services.uow import SqlUnitOfWork, Store, open_store
from arrears.web import errors
from arrears.web.session import Sessions


@dataclass(frozen=True, slots=True)
class Site:
    """What every endpoint needs."""

    engine: Store
    settings: ChannelSettings
    #: the portfolio's code
    portfolio: str
    clock: Callable[[], datetime]
    #: ``web.max_body_bytes``: the longest request body read
    max_body: int = 1 << 20
    #: the workspace (its locale, time zone, policy, rates and model, for the pages)
    workspace: config.Workspace | None = None
    #: the pages' session cookies; ``None`` without ``channels.secret`` (no one logs in)
    sessions: Sessions | None = None
    #: the models loaded, by the workspace's model versions
    models: dict[tuple[int, ...], Model | None] = field(default_factory=dict)

    def setting(self, key: str) -> str:
        return self.settings.get(key)

    def uow(self) -> SqlUnitOfWork:
        """A new unit of work on the store: one a use case."""
        return SqlUnitOfWork(self.engine)

    def model(self) -> Model | None:
        """The workspace's propensity model (``None``: the rules score, or it cannot be read)."""
        if self.workspace is None:
            return None
        root = self.workspace.root  # a model trained or promoted since is loaded once
        key = (*versions(root), -promoted_number(root))
        if key not in self.models:
            try:
                self.models[key] = load_model(self.workspace.root)
            except (ModelFileError, ValueError):
                self.models[key] = None
        return self.models[key]


def site(request: Request) -> Site:
    found: Site = request.app.state.site
    return found


def create_app(
    workspace: config.Workspace | Path | str,
    *,
    portfolio: str | None = None,
    engine: Store | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> FastAPI:
    """The web app of ``workspace`` (a loaded :class:`arrears.config.Workspace` or its folder)
    for ``portfolio`` (default: the workspace's ``portfolio`` setting). Raises ``LookupError``
    for an unknown portfolio and :class:`arrears.config.ConfigError` for a ``web.*`` setting
    that is not usable."""
    from arrears.web import api, callbacks, checkout, optout, pages, tracking  # noqa: PLC0415

    ws = workspace if isinstance(workspace, config.Workspace) else config.load(Path(workspace))
    max_body = _max_body(ws)
    engine = engine or open_store(ws.database_url, checked=False)
    code = portfolio or ws.get("portfolio")
    try:
        messages.check_portfolio(SqlUnitOfWork(engine), code)
    except NotFound:
        raise LookupError(f"no portfolio {code!r} in {ws.database_url}") from None
    app = FastAPI(
        title="arrears",
        summary="The REST API (/api/v1, Bearer API tokens), the collectors' pages, delivery "
        "callbacks, inbound replies, opt-out and email tracking.",
        docs_url=None,
        redoc_url=None,
    )
    secret = ws.get("channels.secret")
    sessions = (
        Sessions(secret, secure=ws.get("web.public_url").lower().startswith("https://"))
        if secret
        else None
    )
    app.state.site = Site(
        engine, ChannelSettings(ws.values, ws.root), code, clock, max_body, ws, sessions
    )
    errors.install(app)
    app.include_router(callbacks.router)
    app.include_router(optout.router)
    app.include_router(tracking.router)
    pages.install(app)
    from arrears.web import dashboard, disputes  # noqa: PLC0415 (they import pages, which imports us)

    app.include_router(dashboard.router)  # /dashboard, the manager's (docs/kpi.md)
    app.include_router(disputes.router)  # /disputes: open, resolve, list (docs/agreements.md)
    api.install(app)  # /api/v1 (its Bearer-token actor: api.api_actor) and /docs
    app.include_router(checkout.router)  # paying online: /pay/<token>/checkout, /checkout/webhook

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
