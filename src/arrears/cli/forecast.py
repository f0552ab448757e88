"""``arrears forecast``: expected collections per week, and ``arrears forecast backtest``.

The figures come from :mod:`arrears.services.insight.forecast` (the ledger's history and promises,
forecast by the pure ``arrears.kpi.forecast``; the timing of each open invoice from the
workspace's latest propensity model when it has a days-to-pay part, else from the book's own
payment curve); this module parses, calls and prints. Tables: one per currency (or one with
``--in``), amounts in the workspace's locale; CSV and JSON: one record per currency and week,
amounts as decimal text.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

import polars as pl
import typer
from babel.numbers import format_decimal

from arrears.cli.aging import parse_as_of, parse_in_currency
from arrears.cli.context import cli_actor, store, workspace, workspace_today
from arrears.cli.output import Format, Wide, amount_text, console, emit, emit_json, err_console
from arrears.domain.money import from_minor
from arrears.kpi.forecast import AMOUNTS, WEEKS, wins
from arrears.services.insight.forecast import Backtest, Forecast, backtest, cash_forecast
from arrears.services.uow import SqlUnitOfWork

forecast_app = typer.Typer(
    help="Expected collections per week for the next weeks (and its backtest).",
    invoke_without_command=True,
)

AsOf = Annotated[
    str | None,
    typer.Option("--as-of", help="The day to forecast from, YYYY-MM-DD (default: today)."),
]
Weeks = Annotated[int, typer.Option("--weeks", help="How many weeks ahead (1 to 104).")]
InCurrency = Annotated[
    str | None,
    typer.Option(
        "--in",
        help="Every amount in this currency, at arrears.toml's [rates] (default: each currency"
        " apart).",
    ),
]
Portfolio = Annotated[str | None, typer.Option(help="Portfolio code (default: the workspace's).")]
Fmt = Annotated[Format, typer.Option("--format", help="Output format.")]
Timing = Annotated[
    str,
    typer.Option(
        "--timing",
        help="When open invoices are paid: 'curve', the book's payment curve (default), or"
        " 'model', the curve moved to the latest model's predicted days to pay.",
    ),
]

LABELS = {
    "week": "week",
    "start": "from",
    "end": "to",
    "promised": "promised",
    "agreed": "plans, settlements",
    "invoiced": "open invoices",
    "new": "new invoices",
    "expected": "expected",
}


def _parse(
    ctx: typer.Context, as_of: str | None, in_currency: str | None
) -> tuple[date, str | None]:
    from arrears.cli.app import UserError

    problems: list[str] = []
    day = workspace_today(ctx)
    try:
        day = parse_as_of(as_of, day)
    except ValueError as exc:
        problems.append(str(exc))
    code = parse_in_currency(in_currency, problems)
    if problems:
        raise UserError("; ".join(problems))
    return day, code


def _model(ws: Any) -> Any:
    from arrears.cli.app import UserError
    from arrears.scoring.registry import ModelFileError, load

    try:
        return load(ws.root)
    except ModelFileError as exc:
        raise UserError(str(exc)) from None


@forecast_app.callback()
def forecast_command(
    ctx: typer.Context,
    as_of: AsOf = None,
    weeks: Weeks = WEEKS,
    in_currency: InCurrency = None,
    portfolio: Portfolio = None,
    timing: Timing = "curve",
    fmt: Fmt = Format.TABLE,
    wide: Wide = False,
) -> None:
    """Expected collections per week for the next weeks (13 by default), per currency or in
    one: open promises, payment plans and settlements as scheduled, open invoices (by the
    model's days to pay, or the book's payment curve) and invoices not issued yet."""
    if ctx.invoked_subcommand is not None:
        return
    day, code = _parse(ctx, as_of, in_currency)
    ws = workspace(ctx)
    result = cash_forecast(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        portfolio=portfolio or ws.get("portfolio"),
        as_of=day,
        weeks=weeks,
        model=_model(ws) if timing == "model" else None,
        timing=timing,
        in_currency=code,
        rates=ws.rates,
    )
    _print_forecast(result, fmt, locale=ws.get("locale"), wide=wide)


def _money(value: int, currency: str, locale: str) -> str:
    return amount_text(from_minor(value, currency), currency, locale)


def _records(frame: pl.DataFrame, amounts: tuple[str, ...]) -> pl.DataFrame:
    """Amounts as decimal text of each row's currency, days as ISO text."""
    currencies = frame["currency"].to_list()
    return frame.with_columns(
        pl.Series(
            name,
            [str(from_minor(v, c)) for v, c in zip(frame[name], currencies, strict=True)],
            dtype=pl.String(),
        )
        for name in amounts
    ).with_columns(pl.col(pl.Date()).cast(pl.String()))


def _print_forecast(result: Forecast, fmt: Format, *, locale: str, wide: bool) -> None:
    if fmt is not Format.TABLE:
        emit(_records(result.rows, AMOUNTS), fmt)
        return
    where = f" in {result.in_currency} at the workspace's rates" if result.in_currency else ""
    for note in (f"forecast by {result.method}", *result.notes):
        err_console.print(f"note: {note}", markup=False, soft_wrap=True)
    if result.rows.is_empty():
        console.print(f"{result.portfolio}: nothing to forecast on {result.as_of}", soft_wrap=True)
        return
    for (currency,), rows in result.rows.group_by(["currency"], maintain_order=True):
        c = str(currency)
        shown: dict[str, list[str]] = {LABELS[n]: [] for n in ("week", "start", "end", *AMOUNTS)}
        for row in rows.to_dicts():
            shown["week"].append(str(row["week"]))
            shown["from"].append(row["start"].isoformat())
            shown["to"].append(row["end"].isoformat())
            for name in AMOUNTS:
                shown[LABELS[name]].append(_money(row[name], c, locale))
        shown["week"].append("total")
        shown["from"].append("")
        shown["to"].append("")
        for name in AMOUNTS:
            shown[LABELS[name]].append(_money(int(rows[name].sum()), c, locale))
        title = f"expected collections of {result.portfolio} after {result.as_of}, {c}{where}"
        frame = pl.DataFrame(shown)
        emit(
            frame,
            fmt,
            title=title,
            right=[LABELS[n] for n in ("week", *AMOUNTS)],
            optional=["from", "to"],
            wide=wide,
        )


@forecast_app.command("backtest")
def backtest_command(
    ctx: typer.Context,
    as_of: AsOf = None,
    weeks: Weeks = WEEKS,
    origins: Annotated[
        int,
        typer.Option(
            "--origins",
            help="Forecast from this many days, a week apart, ending on --as-of (1 to 52).",
        ),
    ] = 1,
    in_currency: InCurrency = None,
    portfolio: Portfolio = None,
    timing: Timing = "curve",
    fmt: Fmt = Format.TABLE,
    wide: Wide = False,
) -> None:
    """The forecast made on --as-of (and on the days a week apart before it) against what
    the ledger says was collected in each following week: the error per week, WAPE and MAPE
    by week ahead beside the naive baseline's (the trailing 13 weeks' average), and the weeks
    ahead at which the forecast did better."""
    day, code = _parse(ctx, as_of, in_currency)
    parent = ctx.parent.params if ctx.parent is not None else {}
    ws = workspace(ctx)
    result = backtest(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        portfolio=portfolio or parent.get("portfolio") or ws.get("portfolio"),
        as_of=day,
        weeks=weeks,
        origins=origins,
        model=_model(ws) if timing == "model" else None,
        timing=timing,
        in_currency=code,
        rates=ws.rates,
    )
    _print_backtest(result, fmt, locale=ws.get("locale"), wide=wide)


def _percent(value: object, locale: str) -> str:
    if not isinstance(value, float):
        return "n/a"
    return format_decimal(Decimal(f"{value * 100:.1f}"), format="#,##0.0", locale=locale)


def _accuracy_records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in frame.to_dicts():
        for name in ("wape", "mape", "naive_wape", "naive_mape"):
            row[name] = None if row[name] is None else round(float(row[name]), 4)
        row["better"] = None if row["better"] is None else bool(row["better"])
        for name in ("actual", "expected"):
            row[name] = str(from_minor(row[name], row["currency"]))
        if isinstance(row.get("origin"), date):
            row["origin"] = row["origin"].isoformat()
        out.append(row)
    return out


def _print_backtest(result: Backtest, fmt: Format, *, locale: str, wide: bool) -> None:
    rows = result.rows.with_columns(pl.col("ape", "naive_ape").round(4))
    if fmt is Format.CSV:
        emit(_records(rows, ("expected", "naive", "actual", "error")), fmt)
        return
    if fmt is Format.JSON:
        emit_json(
            {
                "portfolio": result.portfolio,
                "method": result.method,
                "origins": [d.isoformat() for d in result.origins],
                "observed_to": result.observed.isoformat(),
                "in": result.in_currency,
                "weeks": _records(rows, ("expected", "naive", "actual", "error")).to_dicts(),
                "by_horizon": _accuracy_records(result.by_horizon),
                "total": _accuracy_records(result.total),
                "wins": wins(result.by_horizon).to_dicts(),
            }
        )
        return
    err_console.print(f"note: forecast by {result.method}", markup=False, soft_wrap=True)
    span = (
        f"made on {result.origins[0]}"
        if len(result.origins) == 1
        else f"made on {len(result.origins)} days, {result.origins[0]} to {result.origins[-1]}"
    )
    for (currency,), part in rows.group_by(["currency"], maintain_order=True):
        c = str(currency)
        if len(result.origins) == 1:
            shown = {
                "week": [str(w) for w in part["week"]],
                "from": [d.isoformat() for d in part["start"]],
                "to": [d.isoformat() for d in part["end"]],
                "expected": [_money(v, c, locale) for v in part["expected"]],
                "actual": [_money(v, c, locale) for v in part["actual"]],
                "error": [_money(v, c, locale) for v in part["error"]],
                "error %": [_percent(v, locale) for v in part["ape"]],
                "naive": [_money(v, c, locale) for v in part["naive"]],
                "naive error %": [_percent(v, locale) for v in part["naive_ape"]],
            }
        else:
            horizon = result.by_horizon.filter(pl.col("currency") == currency)
            shown = {
                "week": [str(w) for w in horizon["week"]],
                "forecasts": [str(n) for n in horizon["weeks"]],
                "expected": [_money(v, c, locale) for v in horizon["expected"]],
                "actual": [_money(v, c, locale) for v in horizon["actual"]],
                "WAPE %": [_percent(v, locale) for v in horizon["wape"]],
                "MAPE %": [_percent(v, locale) for v in horizon["mape"]],
                "naive WAPE %": [_percent(v, locale) for v in horizon["naive_wape"]],
                "naive MAPE %": [_percent(v, locale) for v in horizon["naive_mape"]],
                "better": [_better(v) for v in horizon["better"]],
            }
        frame = pl.DataFrame(shown)
        rated = " (every currency at the workspace's rates)" if result.in_currency else ""
        title = f"forecast of {result.portfolio} {span} against the ledger, {c}{rated}"
        emit(frame, fmt, title=title, right=frame.columns[3:], optional=["from", "to"], wide=wide)
        total = result.total.filter(pl.col("currency") == currency).to_dicts()
        if total:
            t = total[0]
            console.print(
                f"{c}: {t['weeks']} weeks compared; WAPE {_percent(t['wape'], locale)} %,"
                f" MAPE {_percent(t['mape'], locale)} % (naive baseline: WAPE"
                f" {_percent(t['naive_wape'], locale)} %, MAPE"
                f" {_percent(t['naive_mape'], locale)} %)",
                soft_wrap=True,
                highlight=False,
            )
        for won in wins(result.by_horizon.filter(pl.col("currency") == currency)).to_dicts():
            console.print(f"{c}: {_verdict(won)}", soft_wrap=True, highlight=False)


def _better(value: object) -> str:
    return "n/a" if value is None else "yes" if value else "no"


def _spans(weeks: list[int]) -> str:
    """``[1, 2, 3, 5]`` as ``1-3, 5``."""
    runs: list[list[int]] = []
    for week in weeks:
        if runs and week == runs[-1][-1] + 1:
            runs[-1].append(week)
        else:
            runs.append([week])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


def _verdict(won: dict[str, Any]) -> str:
    """Where the forecast's WAPE beat the baseline's, by week ahead, in words."""
    n, better, worse = won["horizons"], won["won"], won["lost"]
    if not worse:
        return f"the forecast beats the naive baseline at every week ahead (all {n})"
    if not better:
        return f"the forecast does not beat the naive baseline at any week ahead (0 of {n})"
    return (
        f"the forecast beats the naive baseline at {_weeks(better)} ({len(better)} of {n});"
        f" not at {_weeks(worse)}"
    )


def _weeks(weeks: list[int]) -> str:
    return f"week{'s' if len(weeks) > 1 else ''} {_spans(weeks)}"


def register(app: typer.Typer) -> None:
    app.add_typer(forecast_app, name="forecast")
