"""``arrears compliance report`` and ``arrears call start``: proving the contact rules held.

The report lists the contacts made in a period (messages that went out, at the time they were
sent; contacts logged by hand) by channel and rule pack, the deferrals and blocks the rules
decided, and every contact that broke a rule at the time it was made, with the consent then in
force (``violations``: there must be none). The CSV is the list of contacts with their verdict,
for an auditor. ``call start`` asks the guard, with the
current time, whether a collector may call a task's debtor now.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

import polars as pl
import typer

from arrears.cli.context import cli_actor, store, workspace, workspace_today
from arrears.cli.output import Format, Wide, console, emit, emit_json
from arrears.services.outreach.compliance import (
    call_task,
    compliance_report,
    grant_consent,
    may_call,
)
from arrears.services.uow import SqlUnitOfWork

compliance_app = typer.Typer(help="Contact-rule compliance.", no_args_is_help=True)
call_app = typer.Typer(help="Calls from the worklist.", no_args_is_help=True)


def _day(text: str | None, name: str, default: date) -> date:
    from arrears.cli.app import UserError

    if text is None:
        return default
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UserError(f"{name} {text!r} is not a date; write it as YYYY-MM-DD") from None


@compliance_app.command("report")
def report(
    ctx: typer.Context,
    start: Annotated[
        str | None, typer.Option("--from", help="First day, YYYY-MM-DD (default: 30 days ago).")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Last day, included, YYYY-MM-DD (default: today).")
    ] = None,
    portfolio: Annotated[str | None, typer.Option(help="Portfolio code.")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.TABLE,
    wide: Wide = False,
) -> None:
    """Contacts by channel and rule pack, deferrals and blocks by rule, and violations."""
    from arrears.cli.app import UserError
    from arrears.services.cycle import PolicyProblems, load_compiled

    today = workspace_today(ctx)
    last = _day(end, "--to", today)
    first = _day(start, "--from", last - timedelta(days=29))
    if first > last:
        raise UserError(f"--from {first} is after --to {last}")
    ws = workspace(ctx)
    code = portfolio or ws.get("portfolio")
    path = ws.policy_for(code)
    try:
        packs = load_compiled(path).packs
    except (PolicyProblems, FileNotFoundError) as exc:
        raise UserError(f"the contact rules come from the policy {path}: {exc}") from None
    found = compliance_report(
        SqlUnitOfWork(store(ws)), cli_actor(), portfolio=code, first=first, last=last, packs=packs
    )
    checked, violations = found.contacts, found.violations
    if fmt is Format.CSV:
        emit(checked.with_columns(pl.col("at").dt.strftime("%Y-%m-%dT%H:%M:%SZ")), fmt)
        return
    if fmt is Format.JSON:
        emit_json(
            {
                "from": first.isoformat(),
                "to": last.isoformat(),
                "contacts": found.by_channel.to_dicts(),
                "rules": found.rules.to_dicts(),
                "violations": violations.with_columns(pl.col("at").cast(pl.String)).to_dicts(),
            }
        )
        return
    console.print(f"[bold]contact-rule compliance of {code}, {first} to {last}[/bold]")
    emit(found.by_channel, fmt, title="contacts by rule pack and channel", wide=wide)
    emit(found.rules, fmt, title="deferred and blocked by the rules", wide=wide)
    if violations.is_empty():
        console.print(f"violations: 0 (of {checked.height} contacts)")
    else:
        console.print(f"[red]violations: {violations.height} (of {checked.height} contacts)[/red]")
        emit(
            violations.select("at", "debtor", "channel", "source", "pack", "rule"),
            fmt,
            key=("at", "debtor"),
            wide=wide,
        )


@compliance_app.command("grant")
def grant(
    ctx: typer.Context,
    debtor: Annotated[str, typer.Argument(help="Debtor's external id.")],
    channel: Annotated[str, typer.Option(help="email, sms, whatsapp, call or letter.")],
    reason: Annotated[
        str, typer.Option(help="How the debtor gave consent again (kept in the activity log).")
    ],
    portfolio: Annotated[str | None, typer.Option(help="Portfolio code.")] = None,
) -> None:
    """Record that a debtor gave consent to a channel again: the only way to lift their opt-out
    (a debtors import cannot)."""
    from arrears.cli.app import UserError
    from arrears.domain.ledger import Channel

    channels = [c.value for c in Channel]
    channel = channel.strip().lower()
    if channel not in channels:
        raise UserError(f"--channel {channel!r}: one of {', '.join(channels)}")
    if not reason.strip():
        raise UserError("--reason: say how the debtor gave consent again")
    ws = workspace(ctx)
    changed = grant_consent(
        SqlUnitOfWork(store(ws)), cli_actor(), portfolio=portfolio or ws.get("portfolio"),
        debtor=debtor, channel=channel, reason=reason, at=datetime.now(UTC),
    )  # fmt: skip
    console.print(f"{debtor}: {channel} consent granted ({changed} contact points changed)")


@call_app.command("start")
def call_start(
    ctx: typer.Context,
    task_id: Annotated[int, typer.Argument(metavar="TASK", help="The call task's id.")],
    at: Annotated[
        str | None,
        typer.Option(help="Check for this time instead of now (ISO 8601 with an offset)."),
    ] = None,
) -> None:
    """May the debtor of a call task be called now? (The contact rules, with the current time.)"""
    from arrears.cli.app import UserError
    from arrears.services.cycle import PolicyProblems, load_compiled

    ws = workspace(ctx)
    uow = SqlUnitOfWork(store(ws))
    task = call_task(uow, cli_actor(), task_id)
    now = datetime.now(UTC)
    if at is not None:
        try:
            now = datetime.fromisoformat(at.strip())
        except ValueError:
            raise UserError(f"--at {at!r} is not a time; write ISO 8601 with an offset") from None
        if now.tzinfo is None:
            raise UserError(f"--at {at!r}: give the offset, e.g. 2026-03-02T10:00-05:00")
    try:
        compiled = load_compiled(ws.policy_for(task.portfolio))
    except (PolicyProblems, FileNotFoundError) as exc:
        raise UserError(str(exc)) from None
    verdict = may_call(uow, cli_actor(), task, at=now, packs=compiled.packs)
    if verdict.allowed:
        console.print(f"task {task_id}: you may call now ({verdict.pack} rules)")
        return
    when = f"; next allowed {verdict.next_local:%Y-%m-%d %H:%M} local" if verdict.next_local else ""
    console.print(f"task {task_id}: do not call now: {verdict.rule}: {verdict.reason}{when}")
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(compliance_app, name="compliance")
    app.add_typer(call_app, name="call")
