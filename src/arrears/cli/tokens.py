"""``arrears token add NAME --role R [--until D]`` (also spelt ``--expires``), ``arrears token
list`` and ``arrears token revoke NAME``: the API tokens of machine clients of the REST API
(docs/web.md), each one use case of ``arrears.services.tokens``. The token is printed once, when
it is added: only its SHA-256 is kept."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

import polars as pl
import typer

from arrears.cli.context import cli_actor, store, workspace
from arrears.cli.output import Format, console, emit
from arrears.domain.problems import Problem, ProblemsFound
from arrears.services import tokens, users
from arrears.services.uow import SqlUnitOfWork

token_app = typer.Typer(
    help="API tokens of the REST API's machine clients: add, list, revoke.", no_args_is_help=True
)

ROLES = ", ".join(r.value for r in users.ROLES)
DAYS = re.compile(r"(\d{1,5})d")


def parse_expiry(text: str, now: datetime, name: str, role: str) -> datetime:
    """``YYYY-MM-DD`` (the token works until that day begins, UTC) or ``Nd`` (N days from now);
    when it is neither, its problem is reported with the request's others."""
    text = text.strip()
    days = DAYS.fullmatch(text)
    if days:
        return now + timedelta(days=int(days.group(1)))
    try:
        return datetime.combine(date.fromisoformat(text), time(0), tzinfo=UTC)
    except ValueError:
        bad = Problem("--until", None, None, f"{text!r}: a date (YYYY-MM-DD) or days (90d)")
        raise ProblemsFound([*tokens.problems(name, role, None, now), bad]) from None


@token_app.command("add")
def token_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Token name: lowercase letters, digits, . _ -")],
    role: Annotated[str, typer.Option(help=f"One of {ROLES}.")],
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            help="The day it stops working (YYYY-MM-DD, UTC), or days from now (90d); "
            "default: until revoked.",
        ),
    ] = None,
    expires: Annotated[str | None, typer.Option("--expires", hidden=True)] = None,
) -> None:
    """Add an API token; it is printed once (keep it: only its hash is stored)."""
    from arrears.cli.app import UserError

    if until is not None and expires is not None:
        raise UserError("--until and --expires are the same option: give one")
    ends_on = until if until is not None else expires
    ws = workspace(ctx)
    now = datetime.now(UTC)
    role = role.strip().lower()
    stops = parse_expiry(ends_on, now, name, role) if ends_on is not None else None
    token, secret = tokens.add_token(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        name=name,
        role=role,
        at=now,
        expires_at=stops,
    )
    ends = f"until {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else "until revoked"
    console.print(
        f"token {token.name} added ({token.role}, {ends}); it is shown this once:",
        highlight=False,
        markup=False,
    )
    console.print(secret, highlight=False, markup=False, soft_wrap=True)


@token_app.command("list")
def token_list(
    ctx: typer.Context,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.TABLE,
) -> None:
    """The API tokens, their roles and states (never the tokens themselves)."""
    ws = workspace(ctx)
    found = tokens.list_tokens(SqlUnitOfWork(store(ws)), cli_actor())
    if not found and fmt is Format.TABLE:
        console.print("no API tokens yet: arrears token add NAME --role collector")
        return
    now = datetime.now(UTC)
    stamp = "%Y-%m-%d %H:%M"
    frame = pl.DataFrame(
        {
            "token": [t.name for t in found],
            "role": [t.role.value for t in found],
            "state": [t.state(now) for t in found],
            "expires": [t.expires_at.strftime(stamp) if t.expires_at else "" for t in found],
            "added": [t.created_at.strftime(stamp) for t in found],
            "by": [t.created_by for t in found],
        },
        schema={k: pl.String() for k in ("token", "role", "state", "expires", "added", "by")},
    )
    emit(frame, fmt, title="API tokens", key=("token",))


@token_app.command("revoke")
def token_revoke(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The token's name.")],
) -> None:
    """Revoke an API token: refused from the next request on."""
    ws = workspace(ctx)
    changed = tokens.revoke_token(
        SqlUnitOfWork(store(ws)), cli_actor(), name=name, at=datetime.now(UTC)
    )
    said = "revoked" if changed else "was revoked already; nothing changed"
    console.print(f"token {name.strip()} {said}", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(token_app, name="token")
