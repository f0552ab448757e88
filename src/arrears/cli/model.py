"""``arrears model``: the propensity-to-pay model's lifecycle.

``train`` reads the portfolio's whole history, trains the models on snapshot days in ``--from ..
--to`` and stores them as the next version in ``<workspace>/models/`` with their validation
metrics (``arrears.services.insight.scoring.train_model``); the first version goes live, later ones
wait
for ``promote``; ``list`` shows the versions. ``evaluate`` runs the chronological backtest.
``explain`` scores one debtor as of a day with the live model (the rules score when none is
trained) and its reasons in words; ``score`` scores the whole portfolio that way, least likely
to pay first, and stores the day's scores; ``monitor`` compares today's portfolio with what the
live model learned from (population stability).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer

from arrears.cli.context import cli_actor, store, workspace, workspace_today
from arrears.cli.output import Format, FormatOpt, Wide, amount_text, emit
from arrears.config import Workspace
from arrears.domain.money import from_minor

model_app = typer.Typer(
    help="The propensity-to-pay model: train, evaluate, explain, score.", no_args_is_help=True
)


def _day(text: str | None, option: str) -> date | None:
    from arrears.cli.app import UserError

    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UserError(f"{option} {text!r} is not a date; write it as YYYY-MM-DD") from None


def _live_model(ws: Workspace) -> Any:
    """The workspace's live model (``None`` before any training); a broken file a user error."""
    from arrears.cli.app import UserError
    from arrears.scoring.registry import ModelFileError, load

    try:
        return load(ws.root)
    except ModelFileError as exc:
        raise UserError(str(exc)) from None


def _history(ctx: typer.Context, portfolio: str | None) -> tuple[Any, Any, str]:
    from arrears.services.insight.scoring import scoring_history
    from arrears.services.uow import SqlUnitOfWork

    ws = workspace(ctx)
    code = portfolio or ws.get("portfolio")
    history = scoring_history(SqlUnitOfWork(store(ws)), cli_actor(), portfolio=code)
    return ws, history, code


def _target(ws: Workspace) -> tuple[Any, Any]:
    """The workspace's score target and example schedule (``[scoring]`` in arrears.toml,
    :func:`arrears.scoring.targets.parse`); every problem at once as a user error."""
    from arrears.cli.app import UserError
    from arrears.scoring.targets import TargetError, parse

    try:
        return parse(ws.values, where=str(ws.config_path))
    except TargetError as exc:
        raise UserError(str(exc)) from None


AsOf = Annotated[str | None, typer.Option("--as-of", help="Day, YYYY-MM-DD (default: today).")]
Portfolio = Annotated[str | None, typer.Option(help="Portfolio code.")]

#: The examples each model learns from: debtor-days, invoices at issue, every invoice row.
_EXAMPLES = {"debtor": "debtor", "paid_late": "invoice_at_issue", "days_to_pay": "invoice"}


@model_app.command("train")
def train_command(
    ctx: typer.Context,
    start: Annotated[
        str | None, typer.Option("--from", help="First snapshot day, YYYY-MM-DD.")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last snapshot day, YYYY-MM-DD.")] = None,
    portfolio: Portfolio = None,
    max_debtors: Annotated[
        int | None,
        typer.Option(
            "--max-debtors",
            min=1,
            help="Learn from at most this many debtors, a deterministic sample "
            "(default: Settings.max_debtors, 100,000).",
        ),
    ] = None,
    fmt: FormatOpt = Format.TABLE,
    wide: Wide = False,
) -> None:
    """Train on the history and store the model as the next version in <workspace>/models/.

    The workspace's first version goes live; later ones wait for `arrears model promote vN`
    (compare them with `arrears model list`)."""
    from arrears.cli.app import UserError
    from arrears.scoring import NotEnoughHistory
    from arrears.services.insight.scoring import train_model
    from arrears.services.uow import SqlUnitOfWork

    first, last = _day(start, "--from"), _day(end, "--to")
    ws = workspace(ctx)
    code = portfolio or ws.get("portfolio")
    target, schedule = _target(ws)
    try:
        trained = train_model(
            SqlUnitOfWork(store(ws)),
            cli_actor(),
            portfolio=code,
            root=ws.root,
            start=first,
            end=last,
            at=datetime.now(UTC),
            max_debtors=max_debtors,
            target=target,
            schedule=schedule,
        )
    except NotEnoughHistory as exc:
        raise UserError(str(exc)) from None
    model, version = trained.model, trained.version
    status = model.metadata["models"]
    rows = [
        {
            "model": name,
            "source": "trained" if state == "trained" else "rules",
            "examples": model.metadata["examples"][_EXAMPLES[name]],
            "note": "" if state == "trained" else state.removeprefix("rules: "),
        }
        for name, state in status.items()
    ]
    window = model.metadata["training_window"]
    emit(
        pl.DataFrame(rows),
        fmt,
        title=f"model {version} trained on {code}, snapshot days {window['from']}..{window['to']}",
        wrap=("note",),
        wide=wide,
    )
    if fmt is Format.TABLE:
        for name, state in status.items():
            if state != "trained":
                typer.echo(f"{name}: {state.removeprefix('rules: ')}")
        sample = model.metadata["sample"]
        if sample["sampled_debtors"] < sample["debtors"]:
            typer.echo(
                f"trained on a sample of {sample['sampled_debtors']:,} of {sample['debtors']:,} "
                f"debtors (at most {sample['max_debtors']:,}: the lowest hashes of the debtor id)"
            )
        typer.echo(f"validation: {_validation_text(model.metadata.get('validation') or {})}")
    _say_target(target, schedule, err=fmt is not Format.TABLE)
    message = (
        f"{version} is live (the workspace's first version)"
        if trained.promoted
        else f"{version} is not live yet: compare with `arrears model list`, then "
        f"`arrears model promote {version}`"
    )
    typer.echo(message, err=fmt is not Format.TABLE)


def _validation_text(validation: dict[str, Any]) -> str:
    """``AUC 0.91 (95 % 0.88-0.93), Brier 0.10 on 418 held-out debtor-days from 2026-04-20``."""
    if validation.get("auc") is None:
        return str(validation.get("error") or "none")
    interval = validation.get("auc_95") or [None, None]
    band = f" (95 % {interval[0]:.3f}-{interval[1]:.3f})" if interval[0] is not None else ""
    return (
        f"AUC {validation['auc']:.3f}{band}, Brier {validation['brier']:.3f} on "
        f"{validation['validation']:,} held-out debtor-days from {validation['validation_from']} "
        f"(days past due alone: AUC {validation['auc_days_past_due']})"
    )


@model_app.command("list")
def list_command(
    ctx: typer.Context,
    fmt: FormatOpt = Format.TABLE,
    wide: Wide = False,
) -> None:
    """Every version trained, newest first: which is live, its validation, training window,
    examples, libraries and data hash."""
    from arrears.services.insight.scoring import list_models

    ws = workspace(ctx)
    versions = list_models(cli_actor(), root=ws.root)
    if fmt is Format.JSON:
        typer.echo(json.dumps(versions, indent=2, default=str))
        return
    rows = []
    for meta in versions:
        validation = meta.get("validation") or {}
        window = meta.get("training_window") or {}
        interval = validation.get("auc_95") or [None, None]
        libraries = meta.get("libraries") or {}
        rows.append(
            {
                "version": meta["version"],
                "live": "live" if meta["live"] else "",
                "trained_at": str(meta.get("trained_at", ""))[:19],
                "snapshot days": f"{window.get('from', '')}..{window.get('to', '')}",
                "target": (meta.get("target") or {}).get("text", ""),
                "examples": (meta.get("examples") or {}).get("debtor"),
                "auc": validation.get("auc"),
                "auc_95_low": interval[0],
                "auc_95_high": interval[1],
                "brier": validation.get("brier"),
                "auc_days_past_due": validation.get("auc_days_past_due"),
                "validation": validation.get("validation"),
                "scikit-learn": libraries.get("scikit-learn"),
                "data_hash": str(meta.get("data_hash", ""))[:12],
                "note": meta.get("error") or validation.get("error") or "",
            }
        )
    schema = {"version": pl.String, "live": pl.String, "auc": pl.Float64, "brier": pl.Float64}
    frame = pl.DataFrame(rows, schema_overrides=schema) if rows else pl.DataFrame(schema=schema)
    if fmt is Format.TABLE and not rows:
        typer.echo(f"no model trained in {ws.root / 'models'} yet: arrears model train")
        return
    if fmt is Format.TABLE:  # the AUC with its interval in one column
        auc = [
            "" if a is None else f"{a:.3f}" + ("" if lo is None else f" ({lo:.3f}-{hi:.3f})")
            for a, lo, hi in zip(
                frame["auc"], frame["auc_95_low"], frame["auc_95_high"], strict=True
            )
        ]
        frame = (
            frame.with_columns(pl.Series("auc", auc, dtype=pl.String))
            .drop("auc_95_low", "auc_95_high")
            .rename({"auc": "AUC (95 %)", "auc_days_past_due": "AUC days past due"})
        )
        if not any(frame["note"]):
            frame = frame.drop("note")
    emit(
        frame,
        fmt,
        title=f"model versions in {ws.root / 'models'}",
        wrap=("note",),
        optional=("data_hash", "scikit-learn", "validation", "AUC days past due", "trained_at"),
        wide=wide,
    )


@model_app.command("promote")
def promote_command(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="The version to put live, e.g. v3.")],
    portfolio: Portfolio = None,
) -> None:
    """Put a version live: the cycle (plan, run), explain, the worklist and model score use it."""
    from arrears.cli.app import UserError
    from arrears.scoring.registry import ModelFileError
    from arrears.services.insight.scoring import promote_model
    from arrears.services.uow import SqlUnitOfWork

    ws = workspace(ctx)
    code = portfolio or ws.get("portfolio")
    try:
        before, now = promote_model(
            SqlUnitOfWork(store(ws)),
            cli_actor(),
            portfolio=code,
            root=ws.root,
            version=version,
            at=datetime.now(UTC),
        )
    except ModelFileError as exc:
        raise UserError(str(exc)) from None
    if before == now:
        typer.echo(f"{now} was already live")
    else:
        typer.echo(f"{now} is live (was {before or 'the rules score'})")


@model_app.command("monitor")
def monitor_command(
    ctx: typer.Context,
    as_of: AsOf = None,
    portfolio: Portfolio = None,
    fmt: FormatOpt = Format.TABLE,
    wide: Wide = False,
) -> None:
    """Population stability (PSI) of the live model's score and of each of its features, between
    its training examples and today's debtors: below 0.1 stable, 0.1-0.25 watch, above 0.25
    shift; and today's values outside the training range."""
    from arrears.cli.app import UserError
    from arrears.scoring.monitor import SHIFT, STABLE
    from arrears.services.insight.scoring import monitor_model
    from arrears.services.uow import SqlUnitOfWork

    day = _day(as_of, "--as-of") or workspace_today(ctx)
    ws = workspace(ctx)
    code = portfolio or ws.get("portfolio")
    model = _live_model(ws)
    if model is None:
        raise UserError(f"no model in {ws.root / 'models'} yet: arrears model train")
    report = monitor_model(
        SqlUnitOfWork(store(ws)), cli_actor(), portfolio=code, as_of=day, model=model
    )
    shown = report.drift
    if fmt is Format.TABLE:
        shown = (
            shown.with_columns(pl.col("training_min").round(3), pl.col("training_max").round(3))
            .drop("debtors")
            .rename({"share_out_of_range": "share out of range", "out_of_range": "out of range"})
        )
    window = report.trained
    emit(
        shown,
        fmt,
        title=(
            f"population stability of model {report.version} (trained on snapshot days "
            f"{window.get('from')}..{window.get('to')}) against {report.debtors:,} debtors "
            f"owing on {day}"
        ),
        wide=wide,
    )
    if fmt is Format.TABLE:
        shifted = report.drift.filter(pl.col("status") == "shift")["name"].to_list()
        typer.echo(
            f"PSI below {STABLE} stable, {STABLE}-{SHIFT} watch, above {SHIFT} shift"
            + (f"; shifted: {', '.join(shifted)}" if shifted else "")
        )


@model_app.command("evaluate")
def evaluate_command(
    ctx: typer.Context,
    train_share: Annotated[
        float, typer.Option(min=0.1, max=0.95, help="Oldest share of invoices to train on.")
    ] = 0.8,
    portfolio: Portfolio = None,
    fmt: FormatOpt = Format.TABLE,
    wide: Wide = False,
    html: Annotated[
        Path | None,
        typer.Option("--report", help="Also write the backtest as an HTML page with its plots."),
    ] = None,
    score_only: Annotated[
        bool,
        typer.Option(
            "--score-only", help="Backtest the debtor score only (not the invoice models): faster."
        ),
    ] = False,
) -> None:
    """Chronological backtest: AUC (with its bootstrap interval), Brier, calibration, lift by
    decile, next to baselines; ``--report FILE.html`` adds the calibration plot."""
    from arrears.cli.app import UserError
    from arrears.scoring import NotEnoughHistory
    from arrears.scoring.evaluate import backtest

    ws, history, code = _history(ctx, portfolio)
    target, schedule = _target(ws)
    try:
        report = backtest(
            history,
            train_share=train_share,
            target=target,
            schedule=schedule,
            invoices=not score_only,
        )
    except NotEnoughHistory as exc:
        raise UserError(str(exc)) from None
    if html is not None:
        from arrears.cli.output import err_console
        from arrears.scoring.report import report_html

        page = report_html(report, f"backtest of {code}, trained before {report['cutoff']}")
        html.write_text(page, encoding="utf-8")
        err_console.print(f"wrote the report to {html}", markup=False, soft_wrap=True)
    _say_target(target, schedule, err=fmt is not Format.TABLE)
    if fmt is Format.JSON:
        typer.echo(json.dumps(report, indent=2))
        return
    figures: list[dict[str, str | None]] = []

    def show(frame: pl.DataFrame, title: str) -> None:
        """A table, or (CSV) its figures as rows of one document: table, row, measure, value."""
        if fmt is Format.TABLE:
            emit(frame, fmt, title=title, wrap=frame.columns[:1], wide=wide)  # the row's name
            return
        label, *measures = frame.columns
        for row in frame.iter_rows(named=True):
            figures.extend(
                {"table": title, "row": str(row[label]), "measure": m,
                 "value": None if row[m] is None else str(row[m])}
                for m in measures
            )  # fmt: skip

    def say(text: str) -> None:
        typer.echo(text, err=fmt is not Format.TABLE)

    title = f"backtest of {code}, trained before {report['cutoff']}"
    inv = report.get("invoice") or {"error": "not backtested (--score-only)"}
    if "error" in inv:
        say(f"paid late: {inv['error']}")
    else:
        metrics = ("auc", "brier", "accuracy", "precision", "recall")
        rows = [
            {"model": k, "threshold": 0.5, **{m: v[m] for m in metrics}}
            for k, v in inv["paid_late"].items()
        ]
        tuned = inv["paid_late"]["model"]["threshold_from_training"]
        if "error" not in tuned:
            rows.insert(
                1,
                {
                    "model": "model, tuned threshold",
                    "threshold": tuned["threshold"],
                    "auc": None,
                    "brier": None,
                    **{m: tuned[m] for m in ("accuracy", "precision", "recall")},
                },
            )
        show(pl.DataFrame(rows), f"{title}: paid late at issue ({inv['test']} invoices)")
        rows = [{"predictor": k, **v} for k, v in inv["days"].items()]
        show(pl.DataFrame(rows), "days late, mean absolute error")
    deb = report["debtor"]
    if "error" in deb:
        say(f"propensity to pay: {deb['error']}")
    else:
        rows = [
            {"model": k, **{m: deb[k][m] for m in ("auc", "brier", "accuracy")}}
            for k in ("model", "past late rate", "rules", "days past due")
        ]
        test = f"{deb['test']} debtor-days, {deb['test_current']} with nothing overdue"
        show(pl.DataFrame(rows), f"propensity to pay ({test})")
        show(pl.DataFrame(deb["model"]["calibration"]), "calibration")
        show(pl.DataFrame(deb["model"]["lift"]), "lift and capture by decile")
    if fmt is Format.CSV:
        columns = ("table", "row", "measure", "value")
        emit(pl.DataFrame(figures, schema=dict.fromkeys(columns, pl.String)), fmt)


@model_app.command("explain")
def explain_command(
    ctx: typer.Context,
    debtor: Annotated[str, typer.Argument(help="The debtor's id (as imported).")],
    as_of: AsOf = None,
    portfolio: Portfolio = None,
    fmt: FormatOpt = Format.TABLE,
    wide: Wide = False,
) -> None:
    """One debtor's score, expected recovery and days to pay, with the top reasons."""
    from arrears.services.insight.scoring import score_debtor
    from arrears.services.uow import SqlUnitOfWork

    day = _day(as_of, "--as-of") or workspace_today(ctx)
    ws = workspace(ctx)
    code = portfolio or ws.get("portfolio")
    model = _live_model(ws)
    result = score_debtor(
        SqlUnitOfWork(store(ws)), cli_actor(), portfolio=code, debtor=debtor, as_of=day, model=model
    )
    scored = result.scores
    if fmt is Format.JSON:  # with every feature in words: what is known of the debtor
        scored = scored.with_columns(
            pl.Series("facts", [list(f.values()) for f in result.facts], pl.List(pl.String()))
        )
    shown = scored.with_columns(
        pl.lit(debtor).alias("debtor"),
        pl.col("score").round(3),
        pl.col("expected_days_to_pay").round(1),
        pl.col("reasons").list.join("; "),
    ).select(
        "debtor",
        "currency",
        "score",
        "expected_recovery_minor",
        "expected_days_to_pay",
        "source",
        "reasons",
        *(["facts"] if fmt is Format.JSON else []),
    )
    if fmt is Format.TABLE:  # the expected recovery as an amount, in the workspace's locale
        recovery = [
            amount_text(from_minor(int(m), c), c, ws.get("locale")) if m is not None else ""
            for m, c in zip(shown["expected_recovery_minor"], shown["currency"], strict=True)
        ]
        shown = shown.with_columns(
            pl.Series("expected_recovery_minor", recovery, dtype=pl.String)
        ).rename(
            {
                "expected_recovery_minor": "expected recovery",
                "expected_days_to_pay": "expected days to pay",
            }
        )
    emit(
        shown,
        fmt,
        title=f"score of {debtor} as of {day}",
        right=("expected recovery",),
        wrap=("reasons",),
        wide=wide,
    )


class ScoreFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"
    PARQUET = "parquet"


@model_app.command("score")
def score_command(
    ctx: typer.Context,
    as_of: AsOf = None,
    top: Annotated[
        int | None,
        typer.Option("--top", min=1, help="Only the N least likely to pay (default: every one)."),
    ] = None,
    portfolio: Portfolio = None,
    fmt: Annotated[
        ScoreFormat, typer.Option("--format", help="Output format (parquet needs --output).")
    ] = ScoreFormat.TABLE,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to this file instead of standard output."),
    ] = None,
    keep: Annotated[
        bool,
        typer.Option(
            "--store/--no-store",
            help="Store the day's scores for the worklist, KPIs and forecast (default: store).",
        ),
    ] = True,
    with_reasons: Annotated[
        bool, typer.Option("--reasons/--no-reasons", help="The top three reasons of each score.")
    ] = True,
    wide: Wide = False,
) -> None:
    """Score every debtor with an open balance: score, band (A-E), expected days to pay and the
    top reasons in a collector's words, least likely to pay first; and store the day's scores.

    Uses the workspace's live (promoted) model; with none trained yet, the rules score, and a
    note on standard error says so. A model that cannot be loaded is an error.
    """
    from arrears.cli.app import UserError
    from arrears.cli.output import err_console
    from arrears.scoring.registry import describe
    from arrears.services.insight.scoring import score_portfolio
    from arrears.services.uow import SqlUnitOfWork

    day = _day(as_of, "--as-of") or workspace_today(ctx)
    if fmt is ScoreFormat.PARQUET and output is None:
        raise UserError("--format parquet writes a file: give it with --output FILE")
    ws = workspace(ctx)
    code = portfolio or ws.get("portfolio")
    model = _live_model(ws)
    result = score_portfolio(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        portfolio=code,
        as_of=day,
        model=model,
        top=top,
        with_reasons=with_reasons,
        keep=keep,
        at=datetime.now(UTC),
    )
    used = describe(model, ws.root)
    if model is None:
        err_console.print(f"note: scored with {used}", markup=False, soft_wrap=True)
    if keep:
        err_console.print(
            f"stored {result.stored:,} scores of {day} (one per debtor and currency)",
            markup=False,
            soft_wrap=True,
        )
    scores = result.scores.with_columns(
        pl.col("score").round(4), pl.col("expected_days_to_pay").round(1)
    )
    if fmt is ScoreFormat.PARQUET:
        assert output is not None
        scores.write_parquet(output)
        err_console.print(f"wrote {scores.height:,} rows to {output}", markup=False)
        return
    shown = scores.with_columns(
        pl.col("reasons").list.join("; "), pl.col("out_of_range").list.join(", ")
    )
    if fmt is ScoreFormat.JSON:
        shown = scores  # the reasons as a list
    if fmt is ScoreFormat.TABLE:  # the open balance as an amount, in the workspace's locale
        balance = [
            amount_text(from_minor(int(m), c), c, ws.get("locale"))
            for m, c in zip(shown["open_minor"], shown["currency"], strict=True)
        ]
        shown = shown.with_columns(pl.Series("open_minor", balance, dtype=pl.String)).rename(
            {
                "open_minor": "open balance",
                "days_past_due": "days past due",
                "expected_days_to_pay": "expected days to pay",
            }
        )
    if output is not None:
        text = (
            shown.write_csv()
            if fmt is ScoreFormat.CSV
            else json.dumps(shown.to_dicts(), default=str, ensure_ascii=False, indent=2) + "\n"
        )
        if fmt is ScoreFormat.TABLE:
            raise UserError("--output writes csv, json or parquet: give --format too")
        output.write_text(text, encoding="utf-8")
        err_console.print(f"wrote {shown.height:,} rows to {output}", markup=False)
        return
    emit(
        shown,
        Format(fmt.value),
        title=f"scores as of {day}: {used}",
        right=("open balance",),
        wrap=("reasons",),
        optional=("reasons", "source", "out_of_range"),
        wide=wide,
    )


@model_app.command("stored")
def stored_command(
    ctx: typer.Context,
    as_of: AsOf = None,
    version: Annotated[
        str | None,
        typer.Option("--version", help="Only this version's scores (v3, rules; default: last)."),
    ] = None,
    portfolio: Portfolio = None,
    fmt: FormatOpt = Format.TABLE,
    wide: Wide = False,
) -> None:
    """The scores stored for a day by ``arrears run`` (every debtor it scored) or ``arrears
    model score``: score, band, expected days to pay, reasons (``model score``'s) and the
    version that scored, least likely to pay first."""
    from arrears.cli.output import err_console
    from arrears.services.insight.scoring import stored_scores
    from arrears.services.uow import SqlUnitOfWork

    day = _day(as_of, "--as-of") or workspace_today(ctx)
    ws = workspace(ctx)
    code = portfolio or ws.get("portfolio")
    frame = stored_scores(
        SqlUnitOfWork(store(ws)), cli_actor(), portfolio=code, as_of=day, version=version
    )
    if frame.is_empty():
        err_console.print(
            f"no scores stored for {day}: 'arrears run' or 'arrears model score' stores them",
            markup=False,
            soft_wrap=True,
        )
    shown = frame.sort("score", "debtor", "currency").with_columns(
        pl.col("score").round(4), pl.col("expected_days_to_pay").round(1)
    )
    if fmt is not Format.JSON:
        shown = shown.with_columns(pl.col("reasons").list.join("; "))
    emit(
        shown,
        fmt,
        title=f"scores stored for {day}",
        wrap=("reasons",),
        optional=("reasons", "source"),
        wide=wide,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(model_app, name="model")


def drift_warning(model: Any, features: pl.DataFrame) -> None:
    """``arrears run``'s one line on standard error when the day's scores (the cycle's, from
    ``features``) have shifted from the live model's training scores (PSI above 0.25)."""
    from arrears.cli.output import err_console
    from arrears.scoring.monitor import score_psi, warning

    if model is None or "score" not in features.columns:
        return
    scores = features["score"].drop_nulls().cast(pl.Float64).to_numpy()
    line = warning(score_psi(model.metadata.get("monitor"), scores))
    if line:
        err_console.print(f"warning: {line}", markup=False, soft_wrap=True)


def _say_target(target: Any, schedule: Any, *, err: bool) -> None:
    """The score's target and its examples' schedule, one line each."""
    typer.echo(f"score's target: {target.text()}", err=err)
    typer.echo(f"examples taken {schedule.text()}", err=err)
