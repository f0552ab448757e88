"""``arrears plan``, ``arrears run`` and ``arrears explain``: the daily cycle from the CLI.

``plan`` is a dry run (changes nothing), ``run`` commits the same decisions in one transaction;
both print the decisions as tables (cases by segment and stage, steps), or with ``--summary`` in a
few lines (cases by stage, steps by status, what was queued);
``explain`` shows one debtor's features, segment, stage, arm, pause and every step of its
cadence with why it was or was not taken. See ``docs/cycle.md``.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import polars as pl
import typer
from rich.markup import escape

from arrears.cli.aging import parse_as_of
from arrears.cli.context import cli_actor, store, workspace, workspace_today
from arrears.cli.onboarding import approve_waiting_command, waiting_line
from arrears.cli.output import Format, Wide, amount_text, console, emit, emit_json, err_console
from arrears.config import Workspace
from arrears.cycle.compiled import CompiledPolicy
from arrears.cycle.frames import Decisions
from arrears.domain.money import from_minor
from arrears.services.casework.collection import kept_share
from arrears.services.casework.explain import Explained, ExplainedStep, ExplainView, explain_view
from arrears.services.cycle import (
    PolicyProblems,
    RunSummary,
    Timings,
    load_compiled,
    plan_cycle,
    run_cycle,
    stale_reference_rate,
    summarize,
    unrated,
)
from arrears.services.ports import PromiseView
from arrears.services.uow import SqlUnitOfWork

if TYPE_CHECKING:
    from arrears.scoring.model import Model

AsOf = Annotated[
    str | None, typer.Option("--as-of", help="Day of the cycle, YYYY-MM-DD (default: today).")
]
PolicyOpt = Annotated[
    Path | None,
    typer.Option("--policy", help="Policy file (default: the workspace's for the portfolio)."),
]
PortfolioOpt = Annotated[
    str | None, typer.Option(help="Portfolio code (default: the workspace's).")
]
FormatOpt = Annotated[Format, typer.Option("--format", help="Output format.")]
SummaryOpt = Annotated[
    bool,
    typer.Option(
        "--summary",
        help="The decisions in a few lines instead of the tables (table format only).",
    ),
]


def _setup(
    ctx: typer.Context, as_of: str | None, policy: Path | None, portfolio: str | None
) -> tuple[Workspace, date, CompiledPolicy, str]:
    from arrears.cli.app import UserError

    try:
        day = parse_as_of(as_of, workspace_today(ctx))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    ws = workspace(ctx)
    code = portfolio or ws.get("portfolio")
    path = policy if policy is not None else ws.policy_for(code)
    if not path.is_file():
        raise UserError(
            f"policy file {path} not found: pass --policy FILE or set 'policy' in arrears.toml"
        )
    try:
        compiled = load_compiled(path)
    except PolicyProblems as exc:
        raise UserError(str(exc)) from None
    return ws, day, compiled, code


def _money(minor: int | None, currency: str, locale: str) -> str:
    return amount_text(from_minor(minor or 0, currency), currency, locale)


def _print_summary(
    decisions: Decisions,
    fmt: Format,
    *,
    title: str,
    locale: str,
    extra: dict[str, object],
    written: RunSummary | None = None,
    wide: bool = False,
    brief: tuple[str, ...] | None = None,
) -> None:
    """``plan``'s decisions, or (``written``) what ``run`` committed: its case changes and steps
    are the ones it wrote, none when another run had already committed them. ``brief``: the
    policy's stages, in order, for the summary in a few lines instead of the tables."""
    figures = summarize(decisions, written)
    cases, steps, changes = figures.cases, figures.steps, figures.changes
    if fmt is Format.JSON:
        emit_json(
            {
                **extra,
                "case_changes": changes,
                "cases": cases.with_columns(pl.col("overdue_minor")).to_dicts(),
                "steps": steps.to_dicts(),
            }
        )
        return
    if fmt is Format.CSV:
        emit(cases, fmt)
        return
    console.print(f"[bold]{title}[/bold]")
    if brief is not None:  # the counts are in the brief lines, the notes come after them
        counted = set(written.as_dict()) if written is not None else set()
        notes = {k: v for k, v in extra.items() if k not in counted}
        extra = {}
    for key, value in extra.items():
        console.print(f"  {key}: {escape(str(value))}")
    if written is None:
        console.print(
            "  cases: "
            + ", ".join(f"{changes.get(k, 0)} {k}" for k in ("open", "reopen", "stage", "close"))
            + f"; {changes.get('update', 0) + changes.get('stay', 0)} unchanged in stage"
        )
    else:
        console.print(
            "  cases written: "
            + ", ".join(
                f"{changes.get(k, 0)} {what}"
                for k, what in (
                    ("open", "opened"),
                    ("reopen", "reopened"),
                    ("stage", "changed stage"),
                    ("close", "closed"),
                    ("update", "updated"),
                )
            )
        )
    if brief is not None:
        for line in brief_lines(cases, steps, brief):
            console.print(f"  {line}", highlight=False, markup=False)
        for key, value in notes.items():
            console.print(f"  {key}: {escape(str(value))}")
        return
    shown = cases.with_columns(
        pl.struct("overdue_minor", "currency")
        .map_elements(
            lambda r: _money(r["overdue_minor"], r["currency"], locale), return_dtype=pl.String
        )
        .alias("overdue")
    ).select(
        "segment", "stage", "currency", "cases", "overdue", "paused",
        pl.col("awaiting_approval").alias("awaiting approval"),
    )  # fmt: skip
    emit(
        shown,
        fmt,
        title="cases by segment and stage",
        right=["overdue"],
        key=("segment", "stage", "currency"),
        wide=wide,
    )
    if written is None or written.written:
        title = "steps today" if written is None else "steps written today"
        emit(steps, fmt, title=title, wide=wide)


def brief_lines(cases: pl.DataFrame, steps: pl.DataFrame, stages: tuple[str, ...]) -> list[str]:
    """The decisions in a few lines: open cases by stage (the policy's order), steps by status,
    and what the executed steps queued (messages by channel, call tasks, offers, credit holds)."""
    by_stage = cases.group_by("stage").agg(pl.col("cases").sum(), pl.col("paused").sum())
    counts = {row[0]: (row[1], row[2]) for row in by_stage.iter_rows()}
    order = [s for s in stages if s in counts] + sorted(set(counts) - set(stages))
    paused = sum(p for _, p in counts.values())
    lines = [
        "open cases by stage: "
        + (", ".join(f"{stage} {counts[stage][0]}" for stage in order) or "none")
        + (f" ({paused} paused by a hold, dispute, promise or plan)" if paused else "")
    ]
    statuses = steps.group_by("status").agg(pl.col("steps").sum())
    by_status = dict(statuses.iter_rows())
    if by_status:
        lines.append(
            "steps: "
            + ", ".join(f"{by_status.get(s, 0)} {s}" for s in ("executed", "skipped", "blocked"))
            + " (why: arrears explain DEBTOR)"
        )
    done = steps.filter(pl.col("status") == "executed")
    sent = done.filter(pl.col("channel").is_not_null() & (pl.col("channel") != "call"))
    channels = sent.group_by("channel").agg(pl.col("steps").sum()).sort("channel")
    parts = []
    if channels.height:
        total = channels["steps"].sum()
        each = ", ".join(f"{n} {channel}" for channel, n in channels.iter_rows())
        parts.append(f"{_many(int(total), 'message')} ({each})")
    for action, what in (
        ("call_task", "call task"),
        ("settlement_offer", "settlement offer"),
        ("credit_hold", "credit hold"),
        ("credit_release", "credit release"),
        ("late_fee", "late fee"),
        ("place_with_agency", "agency placement"),
        ("propose_write_off", "write-off proposal"),
    ):
        n = done.filter(pl.col("action") == action)["steps"].sum()
        if n:
            parts.append(_many(int(n), what))
    if parts:
        lines.append("executed: " + ", ".join(parts))
    return lines


def _many(n: int, thing: str) -> str:
    return f"{n} {thing}{'' if n == 1 else 's'}"


def plan_command(
    ctx: typer.Context,
    as_of: AsOf = None,
    policy: PolicyOpt = None,
    portfolio: PortfolioOpt = None,
    debtor: Annotated[
        str | None, typer.Option("--debtor", help="Show the full reasoning for this debtor.")
    ] = None,
    fmt: FormatOpt = Format.TABLE,
    wide: Wide = False,
    summary: SummaryOpt = False,
) -> None:
    """Dry run: what the cycle would do on a day (changes nothing)."""
    if debtor is not None:
        explain_command(ctx, debtor, as_of, policy, portfolio, fmt, wide)
        return
    ws, day, compiled, code = _setup(ctx, as_of, policy, portfolio)
    timings = Timings()
    model, score = _model(ws)
    decisions = _plan(ws, code, day, compiled, model, timings=timings)
    _print_summary(
        decisions,
        fmt,
        title=f"plan for {code} on {day} with {compiled.policy.policy} (nothing written)",
        locale=ws.get("locale"),
        extra={
            "debtors read": timings.rows.get("debtors", 0),
            "score": score,
            **_unrated(decisions, compiled, ws),
            **waiting_line(decisions, compiled, plan=True),
        },
        wide=wide,
        brief=_stages(compiled) if summary else None,
    )
    _stale_rate(ws, day, compiled)


def _stale_rate(ws: Workspace, day: date, compiled: CompiledPolicy) -> None:
    """Warn (stderr) when the EU late-payment interest would use an out-of-date reference rate."""
    line = stale_reference_rate(ws.reference_rates, day, compiled)
    if line:
        err_console.print(f"warning: {line}", markup=False, highlight=False, soft_wrap=True)


def _stages(compiled: CompiledPolicy) -> tuple[str, ...]:
    return tuple(stage.name for stage in compiled.policy.stages)


def _model(ws: Workspace) -> tuple[Model | None, str]:
    """The workspace's propensity model (``None``: the rules score) and which score that is;
    a model that cannot be loaded stops the command with what to do."""
    from arrears.cli.app import UserError
    from arrears.scoring.registry import ModelFileError, describe, load

    try:
        model = load(ws.root)
    except ModelFileError as exc:
        raise UserError(str(exc)) from None
    return model, describe(model, ws.root)


def _plan(
    ws: Workspace,
    code: str,
    day: date,
    compiled: CompiledPolicy,
    model: Model | None,
    *,
    timings: Timings | None = None,
) -> Decisions:
    return plan_cycle(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        portfolio=code,
        as_of=day,
        policy=compiled,
        timings=timings,
        model=model,
        rates=ws.rates,
        reference_rates=ws.reference_rates,
    )


def run_command(
    ctx: typer.Context,
    as_of: AsOf = None,
    policy: PolicyOpt = None,
    portfolio: PortfolioOpt = None,
    fmt: FormatOpt = Format.TABLE,
    wide: Wide = False,
    summary: SummaryOpt = False,
) -> None:
    """Run the cycle for a day: commit stage changes, steps, messages and tasks (idempotent)."""
    ws, day, compiled, code = _setup(ctx, as_of, policy, portfolio)
    model, score = _model(ws)
    decisions, written = run_cycle(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        portfolio=code,
        as_of=day,
        policy=compiled,
        at=datetime.now(UTC),
        model=model,
        rates=ws.rates,
        reference_rates=ws.reference_rates,
    )
    title = f"run for {code} on {day} with {compiled.policy.policy}"
    if written.written:
        extra: dict[str, object] = {k: v for k, v in written.as_dict().items() if v}
    else:
        # the same decisions were committed before: by an earlier run of this day, or by
        # another run at the same time that took the write lock first
        title += (
            ": nothing new to write (this day's decisions were already committed, by an "
            "earlier run or by another run at the same time); nothing written"
        )
        extra = {}
    if fmt is Format.JSON:
        extra = {"written": written.written, **written.as_dict()}
    extra |= {"score": score, **_unrated(decisions, compiled, ws)}
    extra |= waiting_line(decisions, compiled, plan=False)
    _print_summary(
        decisions,
        fmt,
        title=title,
        locale=ws.get("locale"),
        extra=extra,
        written=written,
        wide=wide,
        brief=_stages(compiled) if summary else None,
    )
    from arrears.cli.model import drift_warning  # the live model's score drift (issue 18)

    drift_warning(model, decisions.features)
    _stale_rate(ws, day, compiled)


def _unrated(decisions: Decisions, compiled: CompiledPolicy, ws: Workspace) -> dict[str, object]:
    """A warning when the priority ranks some cases in their own currency (no [rates] rate)."""
    missing = unrated(decisions, compiled, ws.rates)
    if not missing:
        return {}
    return {
        "warning": f"no [rates] rate for {', '.join(missing)} in arrears.toml: the priority of "
        "those cases falls back to their own currency, which does not compare across currencies"
    }


def _feature_value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "-"
    return "-" if value is None else str(value)


def explain_command(
    ctx: typer.Context,
    debtor: Annotated[str, typer.Argument(help="The debtor's external id.")],
    as_of: AsOf = None,
    policy: PolicyOpt = None,
    portfolio: PortfolioOpt = None,
    fmt: FormatOpt = Format.TABLE,
    wide: Wide = False,
) -> None:
    """Why the cycle does what it does for one debtor: features, segment, stage, steps."""
    ws, day, compiled, code = _setup(ctx, as_of, policy, portfolio)
    view = explain_view(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        portfolio=code,
        debtor=debtor,
        as_of=day,
        policy=compiled,
        model=_model(ws)[0],
        rates=ws.rates,
        reference_rates=ws.reference_rates,
    )
    if fmt is Format.JSON:
        emit_json([_explained_json(view, item) for item in view.currencies])
        return
    if not view.currencies:
        console.print(f"{debtor}: nothing open and no case on {day}; the cycle does nothing")
        return
    for item in view.currencies:
        if fmt is Format.CSV:
            steps = [_step_json(step) for step in item.steps]
            emit(pl.DataFrame(steps) if steps else pl.DataFrame(), fmt)
        else:
            _print_explained(view, item, wide=wide, locale=ws.get("locale"))


def _step_json(step: ExplainedStep) -> dict[str, object]:
    return {**asdict(step), "due_on": step.due_on.isoformat()}


def _explained_json(view: ExplainView, item: Explained) -> dict[str, object]:
    """One currency of the explain view as ``--format json`` prints it (features as text)."""
    return {
        "debtor": view.debtor,
        "currency": item.currency,
        "as_of": view.as_of.isoformat(),
        "segment": item.segment,
        "segment_rule": item.segment_rule,
        "stage": item.stage,
        "stage_rule": item.stage_rule,
        "case": item.case,
        "opened_on": _day_text(item.opened_on),
        "awaiting_approval": item.awaiting_approval,
        "arm": item.arm,
        "paused_by": item.paused_by,
        "paused_until": _day_text(item.paused_until),
        "priority": item.priority,
        "score_source": item.score_source,
        "score_reasons": list(item.score_reasons),
        "features": {name: _feature_value(v) for name, v in item.features.items()},
        "steps": [_step_json(step) for step in item.steps],
        "promises": [_promise_json(promise) for promise in item.promises],
    }


def _promise_json(promise: PromiseView) -> dict[str, object]:
    share = kept_share(promise)
    return {
        "promise_id": promise.promise_id,
        "amount": str(from_minor(promise.amount_minor, promise.currency)),
        "due_on": promise.due_on.isoformat(),
        "grace_days": promise.grace_days,
        "status": promise.status,
        "outcome": promise.outcome,
        "kept_share": None if share is None else str(share),
        "outcome_on": _day_text(promise.outcome_on),
    }


def _promise_text(promise: PromiseView, locale: str) -> str:
    amount = amount_text(from_minor(promise.amount_minor, promise.currency), promise.currency,
                         locale)  # fmt: skip
    text = f"promise {promise.promise_id}: {amount} {promise.currency} by {promise.due_on}"
    if promise.grace_days:
        text += f" (+{promise.grace_days} days' grace)"
    if promise.status == "cancelled":
        return text + ": cancelled"
    if promise.outcome is None:
        return text + ": open"
    share = kept_share(promise)
    if promise.outcome == "partial" and share is not None:
        return text + f": partial ({int(share * 100)} % kept) on {promise.outcome_on}"
    return text + f": {promise.outcome} on {promise.outcome_on}"


def _day_text(day: date | None) -> str | None:
    return str(day) if day else None


def _print_explained(view: ExplainView, item: Explained, *, wide: bool, locale: str) -> None:
    debtor = view.debtor
    console.print(f"[bold]{debtor} ({item.currency}) on {view.as_of}[/bold]")
    console.print(f"  segment: {item.segment}  (rule: {item.segment_rule})")
    console.print(f"  stage: {item.stage}  (rule: {item.stage_rule})")
    shown = {
        "case": item.case,
        "opened_on": _day_text(item.opened_on),
        "awaiting_approval": item.awaiting_approval,
        "arm": item.arm,
        "paused_by": item.paused_by,
        "paused_until": _day_text(item.paused_until),
    }
    for key, value in shown.items():
        if value is not None:
            console.print(f"  {key}: {value}")
    if item.awaiting_approval is not None:
        console.print(
            f"    (stays in {item.stage} until a person approves: "
            f"arrears approve {debtor} {item.awaiting_approval})",
            highlight=False,
            markup=False,
        )
    for promise in item.promises:
        console.print(f"  {_promise_text(promise, locale)}", highlight=False, markup=False)
    console.print(f"  priority: {item.priority:.2f}")
    if item.score_source:
        reasons = item.score_reasons
        console.print(
            f"  score: {_feature_value(item.features.get('score'))} ({item.score_source})"
            + (": " + "; ".join(reasons) if reasons else ""),
            highlight=False,
            markup=False,
        )
    features = {name: _feature_value(value) for name, value in item.features.items()}
    emit(
        pl.DataFrame({"feature": list(features), "value": list(features.values())}),
        Format.TABLE,
        title="features",
        wrap=("value",),
        wide=wide,
    )
    if not item.steps:
        console.print("  no steps: the policy has no cadence for this segment and stage")
        return
    console.print("  steps of the current cadence:")
    for step in item.steps:
        name = step.step_id + (f"#{step.occurrence}" if step.occurrence else "")
        how = step.action + (f"/{step.channel}" if step.channel else "")
        console.print(
            f"    {step.due_on}  {name}  {how}: {step.status}"
            + (f" ({step.reason})" if step.reason else ""),
            highlight=False,
            markup=False,
        )


def register(app: typer.Typer) -> None:
    app.command("plan")(plan_command)
    app.command("run")(run_command)
    app.command("explain")(explain_command)
    app.command("approve-waiting")(approve_waiting_command)
