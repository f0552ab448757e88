"""The backlog's escalations waiting for approval: the line ``plan`` and ``run`` print about them,
and ``arrears approve-waiting STAGE``, which approves them all (``arrears approve`` does one).
See ``docs/cycle.md`` (what a manager sees on day one)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer

from arrears.cli.context import cli_actor, store
from arrears.cli.output import console
from arrears.cycle.compiled import CompiledPolicy
from arrears.cycle.frames import Decisions
from arrears.cycle.onboarding import waiting_for_approval
from arrears.services.casework import collection
from arrears.services.uow import SqlUnitOfWork


def waiting_line(decisions: Decisions, policy: CompiledPolicy, *, plan: bool) -> dict[str, str]:
    """``{"waiting for approval": ...}`` when cases wait to enter an escalation stage."""
    waiting = waiting_for_approval(decisions, policy)
    if waiting is None:
        return {}
    stages = " or ".join(f"{stage} ({every})" for stage, _, every in waiting.by_stage)
    first = waiting.first_stage
    how = (
        f"after checking them, `arrears approve-waiting {first}` lets them all proceed on the "
        f"next run (`arrears approve DEBTOR {first}`: one)"
    )

    def cases(n: int) -> str:
        return f"{n} case{'s' if n != 1 else ''}"

    def wait(n: int) -> str:
        return f"{cases(n)} {'waits' if n == 1 else 'wait'}"

    if waiting.opened == waiting.cases and plan:
        text = f"{cases(waiting.opened)} would enter {stages} on their first run and wait for "
        text += "approval instead"
    elif waiting.opened == waiting.cases:
        text = f"{wait(waiting.opened)} for approval instead of entering {stages} on "
        text += "their first run"
    else:
        text = f"{wait(waiting.cases)} for approval to enter {stages}"
        text += f" ({waiting.opened} of them new)" if waiting.opened else ""
    return {"waiting for approval": f"{text}; {how}"}


def approve_waiting_command(
    ctx: typer.Context,
    stage: Annotated[str, typer.Argument(help="The escalation stage to let them enter.")],
    on: Annotated[
        str | None, typer.Option("--on", help="Day of the approval (YYYY-MM-DD; today).")
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option("--policy", help="Policy file (default: the workspace's for the portfolio)."),
    ] = None,
    portfolio: Annotated[
        str | None, typer.Option(help="Portfolio code (default: the workspace's).")
    ] = None,
) -> None:
    """Approve entering STAGE for every open case waiting for it (or for a more severe stage)."""
    from arrears.cli.app import UserError
    from arrears.cli.cycle import _setup

    ws, _, compiled, code = _setup(ctx, None, policy, portfolio)
    try:
        day = ws.today() if on is None else date.fromisoformat(on)
    except ValueError:
        raise UserError(f"--on {on!r} is not a date; write it as YYYY-MM-DD") from None
    given = collection.approve_waiting(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        portfolio=code,
        stage=stage,
        stages=compiled.stages,
        policy=compiled.policy.policy,
        on=day,
        at=datetime.now(UTC),
    ).given
    console.print(
        f"entering {stage!r} approved for {given} case{'s' if given != 1 else ''} waiting for it"
        + ("; the next run moves them" if given else ""),
        highlight=False,
    )
