"""``arrears serve``: the web endpoints of the channels (docs/web.md) with uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from arrears.cli.context import store, workspace
from arrears.cli.output import console


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    portfolio: Annotated[str | None, typer.Option(help="Portfolio code.")] = None,
) -> None:
    """Serve delivery callbacks, inbound replies, the opt-out page and email tracking."""
    import uvicorn

    from arrears.cli.app import UserError
    from arrears.web import create_app

    ws = workspace(ctx)
    engine = store(ws)  # reachable and migrated, or a one-line error
    try:
        app = create_app(ws, portfolio=portfolio, engine=engine)
    except (LookupError, ValueError) as exc:  # an unknown portfolio, a web.* setting
        raise UserError(str(exc)) from None
    if not ws.get("channels.secret"):
        console.print("warning: channels.secret is not set: every opt-out link, tracking link and")
        console.print("         webhook callback is refused (403); `arrears init <workspace>`")
        console.print("         writes a random one to secrets.toml")
    console.print(f"serving {portfolio or ws.get('portfolio')} on http://{host}:{port}")
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=True)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
