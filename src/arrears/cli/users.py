"""``arrears user add NAME --role R``, ``arrears user list`` and ``arrears user remove NAME``:
the people who log in to the web application (docs/web.md), each one use case of
``arrears.services.users``.

The password is prompted for twice (never an argument: it would stay in the shell's history
and be visible to other users in the process list), or read from the first line of standard
input with ``--password-stdin`` for scripts.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated

import polars as pl
import typer

from arrears.cli.context import cli_actor, store, workspace
from arrears.cli.output import Format, console, emit
from arrears.services import users
from arrears.services.uow import SqlUnitOfWork

user_app = typer.Typer(
    help="Users of the web application: add one, list them, set their task queues, remove one.",
    no_args_is_help=True,
)

ROLES = ", ".join(r.value for r in users.ROLES)


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Username: lowercase letters, digits, . _ -")],
    role: Annotated[str, typer.Option(help=f"One of {ROLES}.")],
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from stdin's first line."),
    ] = False,
    queue: Annotated[
        list[str] | None,
        typer.Option(
            "--queue",
            help="A task queue they work (repeat it for several): each run gives them its "
            "waiting tasks.",
        ),
    ] = None,
) -> None:
    """Add a user of the web application; the password is prompted for twice."""
    from arrears.cli.app import UserError

    ws = workspace(ctx)
    engine = store(ws)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True)
        if typer.prompt("Password again", hide_input=True) != password:
            raise UserError("the two passwords differ; nothing was changed")
    added = users.add_user(
        SqlUnitOfWork(engine),
        cli_actor(),
        username=name,
        role=role.strip().lower(),
        password=password,
        at=datetime.now(UTC),
        queues=queue or (),
    )
    works = f", queues {', '.join(added.queues)}" if added.queues else ""
    console.print(
        f"user {added.username} added ({added.role}{works})", highlight=False, markup=False
    )


@user_app.command("queues")
def user_queues(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The username.")],
    queues: Annotated[
        list[str] | None,
        typer.Argument(help="The task queues they work from now on (none: no queue)."),
    ] = None,
) -> None:
    """Set the task queues a collector works: each run gives them their queues' waiting tasks
    (the least loaded collector first); tasks assigned by hand stay where they are."""
    ws = workspace(ctx)
    done = users.set_queues(
        SqlUnitOfWork(store(ws)), cli_actor(), username=name, queues=queues or (),
        at=datetime.now(UTC),
    )  # fmt: skip
    works = ", ".join(done.queues) or "no queue"
    console.print(f"user {done.username} works {works}", highlight=False, markup=False)


@user_app.command("list")
def user_list(
    ctx: typer.Context,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.TABLE,
) -> None:
    """The users of the web application and their roles."""
    ws = workspace(ctx)
    found = users.list_users(SqlUnitOfWork(store(ws)), cli_actor())
    if not found and fmt is Format.TABLE:
        console.print("no users yet: arrears user add NAME --role collector")
        return
    frame = pl.DataFrame(
        {
            "user": [u.username for u in found],
            "role": [u.role.value for u in found],
            "added": [u.created_at.strftime("%Y-%m-%d %H:%M") for u in found],
            "by": [u.created_by for u in found],
            "queues": [", ".join(u.queues) for u in found],
        },
        schema={
            "user": pl.String(),
            "role": pl.String(),
            "added": pl.String(),
            "by": pl.String(),
            "queues": pl.String(),
        },
    )
    emit(frame, fmt, title="users", key=("user",))


@user_app.command("remove")
def user_remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The username to remove.")],
) -> None:
    """Remove a user: their session stops at once; the activity log keeps what they did."""
    ws = workspace(ctx)
    removed = users.remove_user(
        SqlUnitOfWork(store(ws)), cli_actor(), username=name, at=datetime.now(UTC)
    )
    console.print(
        f"user {removed.username} removed ({removed.role})", highlight=False, markup=False
    )


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
