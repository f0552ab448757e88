"""``arrears model``: train, evaluate and explain the propensity-to-pay model.

``train`` reads the portfolio's whole history (``arrears.services.scoring``), trains the models
(``arrears.scoring``) on snapshot days in ``--from .. --to`` and stores them as the next version
in ``<workspace>/models/``. ``evaluate`` runs the chronological backtest. ``explain`` scores one
debtor as of a day with the latest model (the rules score when none is trained) and its reasons;
``score`` scores the whole portfolio that way, least likely to pay first.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Annotated, Any

import polars as pl
import typer

from arrears.cli.context import cli_actor, store, workspace
from arrears.cli.output import Format, Wide, amount_text, emit
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


def _history(ctx: typer.Context, portfolio: str | None) -> tuple[Any, Any, str]:
    from arrears.services.scoring import scoring_history
    from arrears.services.uow import SqlUnitOfWork

    ws = workspace(ctx)
    code = portfolio or ws.get("portfolio")
    history = scoring_history(SqlUnitOfWork(store(ws)), cli_actor(), portfolio=code)
    return ws, history, code


#: The examples each model learns from: debtor-days, invoices at issue, every invoice row.
_EXAMPLES = {"debtor": "debtor", "paid_late": "invoice_at_issue", "days_to_pay": "invoice"}


@model_app.command("train")
def train_command(
    ctx: typer.Context,
    start: Annotated[
        str | None, typer.Option("--from", help="First snapshot day, YYYY-MM-DD.")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last snapshot day, YYYY-MM-DD.")] = None,
    portfolio: Annotated[str | None, typer.Option(help="Portfolio code.")] = None,
    max_debtors: Annotated[
        int | None,
        typer.Option(
            "--max-debtors",
            min=1,
            help="Learn from at most this many debtors, a deterministic sample "
            "(default: Settings.max_debtors, 100,000).",
        ),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.TABLE,
    wide: Wide = False,
) -> None:
    """Train on the history and store the model as the next version in <workspace>/models/."""
    from arrears.cli.app import UserError
    from arrears.scoring import NotEnoughHistory, Settings, train
    from arrears.scoring.registry import data_hash, save

    first, last = _day(start, "--from"), _day(end, "--to")
    ws, history, code = _history(ctx, portfolio)
    first = first or history.first_day
    last = last or history.last_day
    if first > last:
        raise UserError(f"--from {first} is after --to {last}")
    try:
        settings = Settings() if max_debtors is None else Settings(max_debtors=max_debtors)
        model = train(history, first, last, settings)
    except NotEnoughHistory as exc:
        raise UserError(str(exc)) from None
    version = save(
        model,
        ws.root,
        {
            "portfolio": code,
            "data_hash": data_hash(history),
            "trained_at": datetime.now(UTC).isoformat(),
        },
    )
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


@model_app.command("evaluate")
def evaluate_command(
    ctx: typer.Context,
    train_share: Annotated[
        float, typer.Option(min=0.1, max=0.95, help="Oldest share of invoices to train on.")
    ] = 0.8,
    portfolio: Annotated[str | None, typer.Option(help="Portfolio code.")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.TABLE,
    wide: Wide = False,
) -> None:
    """Chronological backtest: AUC, Brier, calibration, lift by decile, next to baselines."""
    from arrears.cli.app import UserError
    from arrears.scoring import NotEnoughHistory
    from arrears.scoring.evaluate import backtest

    _, history, code = _history(ctx, portfolio)
    try:
        report = backtest(history, train_share=train_share)
    except NotEnoughHistory as exc:
        raise UserError(str(exc)) from None
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
    inv = report["invoice"]
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
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Day, YYYY-MM-DD (default: today).")
    ] = None,
    portfolio: Annotated[str | None, typer.Option(help="Portfolio code.")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.TABLE,
    wide: Wide = False,
) -> None:
    """One debtor's score, expected recovery and days to pay, with the top reasons."""
    from arrears.cli.app import UserError
    from arrears.scoring.registry import ModelFileError, load
    from arrears.services.scoring import score_debtor
    from arrears.services.uow import SqlUnitOfWork

    day = _day(as_of, "--as-of") or date.today()
    ws = workspace(ctx)
    code = portfolio or ws.get("portfolio")
    try:
        model = load(ws.root)
    except ModelFileError as exc:
        raise UserError(str(exc)) from None
    scored = score_debtor(
        SqlUnitOfWork(store(ws)), cli_actor(), portfolio=code, debtor=debtor, as_of=day, model=model
    ).scores
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


@model_app.command("score")
def score_command(
    ctx: typer.Context,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Day, YYYY-MM-DD (default: today).")
    ] = None,
    top: Annotated[
        int | None,
        typer.Option("--top", min=1, help="Only the N least likely to pay (default: every one)."),
    ] = None,
    portfolio: Annotated[str | None, typer.Option(help="Portfolio code.")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.TABLE,
    wide: Wide = False,
) -> None:
    """Score every debtor with an open balance, least likely to pay first.

    Uses the workspace's latest trained model; with none trained yet, the rules score, and a
    note on standard error says so. A model that cannot be loaded is an error.
    """
    from arrears.cli.app import UserError
    from arrears.cli.output import err_console
    from arrears.scoring.registry import ModelFileError, describe, load
    from arrears.services.scoring import score_portfolio
    from arrears.services.uow import SqlUnitOfWork

    day = _day(as_of, "--as-of") or date.today()
    ws = workspace(ctx)
    code = portfolio or ws.get("portfolio")
    try:
        model = load(ws.root)
    except ModelFileError as exc:
        raise UserError(str(exc)) from None
    scores = score_portfolio(
        SqlUnitOfWork(store(ws)), cli_actor(), portfolio=code, as_of=day, model=model, top=top
    ).scores
    used = describe(model, ws.root)
    if model is None:
        err_console.print(f"note: scored with {used}", markup=False, soft_wrap=True)
    shown = scores.with_columns(pl.col("score").round(4))
    if fmt is Format.TABLE:  # the open balance as an amount, in the workspace's locale
        balance = [
            amount_text(from_minor(int(m), c), c, ws.get("locale"))
            for m, c in zip(shown["open_minor"], shown["currency"], strict=True)
        ]
        shown = shown.with_columns(pl.Series("open_minor", balance, dtype=pl.String)).rename(
            {"open_minor": "open balance", "days_past_due": "days past due"}
        )
    emit(
        shown,
        fmt,
        title=f"scores as of {day}: {used}",
        right=("open balance",),
        wide=wide,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(model_app, name="model")
