"""What every command needs: the workspace's settings, its store, who is acting, and the old
names of its renamed options."""

from __future__ import annotations

import getpass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from arrears import config
from arrears.domain.actor import Actor, Role

if TYPE_CHECKING:
    from arrears.services.uow import Store


class NoWorkspace(config.ConfigError):
    pass


def workspace(ctx: typer.Context, *, must_exist: bool = True) -> config.Workspace:
    root: Path | None = (ctx.find_root().obj or {}).get("workspace")
    ws = config.load(root)
    if must_exist and not ws.exists and "ARREARS_DATABASE_URL" not in _env():
        raise NoWorkspace(
            f"no arrears workspace in {ws.root} (no {config.CONFIG_FILE}): run `arrears init` "
            "there, or pass --workspace DIR"
        )
    return ws


def workspace_today(ctx: typer.Context) -> date:
    """The workspace's day (its ``timezone``), the default of every command's dates: the
    same day the web pages take, whatever the machine's zone."""
    return workspace(ctx, must_exist=False).today()


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


def store(ws: config.Workspace) -> Store:
    """The workspace's database, checked to be reachable and migrated to the current schema."""
    from arrears.services.uow import open_store  # SQLAlchemy and Alembic: when a store is used

    return open_store(ws.database_url)


def cli_actor() -> Actor:
    """Whoever runs the command line owns the workspace: an administrator named ``cli:USER``."""
    return Actor(actor(), Role.ADMIN)


def actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def renamed(**old_names: str) -> dict[str, Any]:
    """Context settings for a command whose options were renamed: ``renamed(date="on")`` still
    reads ``--date`` as ``--on`` (for a release, with a warning on stderr), but ``--help`` shows
    only ``--on``."""
    from arrears.cli.output import err_console

    names = {old.replace("_", "-"): new for old, new in old_names.items()}

    def normalize(name: str) -> str:  # an option's name without its dashes (Click's tokens)
        if name in names:
            err_console.print(
                f"warning: --{name} is now --{names[name]} (the old name goes in a later release)",
                highlight=False,
                markup=False,
            )
        return names.get(name, name)

    return {"token_normalize_func": normalize}
