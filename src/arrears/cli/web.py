"""``arrears serve``: the collectors' pages and the web endpoints of the channels (docs/web.md),
one FastAPI app served by uvicorn."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from arrears.cli.context import store, workspace
from arrears.cli.output import console, err_console


def serve(
    ctx: typer.Context,
    directory: Annotated[
        Path | None,
        typer.Argument(help="Workspace folder (default: --workspace, or here)."),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    portfolio: Annotated[str | None, typer.Option(help="Portfolio code.")] = None,
    workers: Annotated[
        int,
        typer.Option(
            help="Server processes (uvicorn workers), each with its own store connections; "
            "about one per core.",
            min=1,
            max=64,
        ),
    ] = 1,
) -> None:
    """Serve the collectors' pages (log in, worklist, accounts), delivery callbacks, inbound
    replies, the opt-out page and email tracking."""
    import uvicorn

    from arrears.cli.app import UserError
    from arrears.cli.context import cli_actor
    from arrears.services.uow import SqlUnitOfWork
    from arrears.services.users import list_users
    from arrears.web import create_app

    if directory is not None:  # `arrears serve ./demo`, as `arrears -w ./demo serve`
        ctx.find_root().obj["workspace"] = directory
    ws = workspace(ctx)
    engine = store(ws)  # reachable and migrated, or a one-line error
    try:
        app = create_app(ws, portfolio=portfolio, engine=engine)
    except (LookupError, ValueError) as exc:  # an unknown portfolio, a web.* setting
        raise UserError(str(exc)) from None
    if not ws.get("channels.secret"):
        console.print("warning: channels.secret is not set: every opt-out link, tracking link and")
        console.print("         webhook callback is refused (403); `arrears init <workspace>`")
        console.print("         writes a random one to secrets.toml; no one can log in either")
    elif not list_users(SqlUnitOfWork(engine), cli_actor()):
        console.print(
            "warning: no users: add one to log in: arrears user add NAME --role collector"
        )
    for line in checkout_warnings(ws.get("checkout.provider")):
        err_console.print(line, highlight=False, markup=False)
    console.print(f"serving {portfolio or ws.get('portfolio')} on http://{host}:{port}")
    console.print(f"log in at http://{_shown(host)}:{port}/login", highlight=False)
    if workers == 1:
        uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=True)
        return
    # several processes: each builds the app again (arrears.web.served) from the environment
    engine.dispose()
    os.environ["ARREARS_WORKSPACE"] = str(ws.root)
    if portfolio is not None:
        os.environ["ARREARS_PORTFOLIO"] = portfolio
    console.print(f"{workers} worker processes")
    uvicorn.run(
        "arrears.web.served:app",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level="info",
        proxy_headers=True,
    )


def checkout_warnings(provider: str) -> list[str]:
    """The lines ``arrears serve`` prints on stderr about ``checkout.provider``: the fake
    provider records payments no money backs (for tests and the demo only)."""
    if provider.strip().lower() != "fake":
        return []
    return [
        'warning: [checkout] provider = "fake": the debtor\'s "Pay online" button records a',
        "         payment in the ledger without any money moving (tests and the demo only);",
        '         set provider = "hosted" (checkout.url, checkout.secret) or leave it empty',
        "         (bank transfer) before debtors use this server",
    ]


def _shown(host: str) -> str:
    """The host to open in a browser: a wildcard address is reached on the loopback."""
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
