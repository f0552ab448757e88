"""``arrears aging``: the aging report of a portfolio as of a date.

The report comes from :func:`arrears.services.insight.reports.aging_report` (the snapshot aged with
the
pure ``arrears.kpi.aging``); this module converts minor units to ``Decimal`` at the display
boundary (never floats): one table
per currency, or one CSV/JSON document with a ``currency`` column. With ``--in USD`` every amount
is stated in one currency at the workspace's ``[rates]`` (one table); ``--by bucket`` prints the
buckets as rows (count, amount, share), short enough for an 80-column terminal.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

import polars as pl
import typer

from arrears.cli.context import cli_actor, store, workspace, workspace_today
from arrears.cli.output import Format, Wide, amount_text, amounts_as_text, console, emit
from arrears.domain.money import MoneyError, exponent, from_minor, is_currency
from arrears.kpi.aging import CURRENT, DEFAULT_EDGES, By, bucket_labels
from arrears.services.insight.reports import aging_report
from arrears.services.uow import SqlUnitOfWork

BY_CHOICES = ("total", "debtor", "invoice", "segment", "bucket")
#: Shorter headers for the table format (CSV and JSON keep the report's column names).
TABLE_NAMES = {
    "invoice_external_id": "invoice",
    "debtor_external_id": "debtor",
    "oldest_days_past_due": "oldest dpd",
}


def parse_as_of(text: str | None, today: date) -> date:
    """``--as-of`` as an ISO date (``YYYY-MM-DD``); ``today`` when not given."""
    if text is None:
        return today
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--as-of {text!r} is not a date; write it as YYYY-MM-DD") from None


def parse_in_currency(text: str | None, problems: list[str]) -> str | None:
    """``--in``'s currency, upper-cased; a code that is not ISO 4217 is added to ``problems``."""
    if text is None:
        return None
    code = text.strip().upper()
    if not is_currency(code):
        problems.append(f"--in {code!r} is not an ISO 4217 currency code")
    return code


def parse_buckets(text: str) -> tuple[int, ...]:
    """``--buckets 0,30,60`` as validated edges."""
    try:
        edges = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ValueError(
            f"--buckets {text!r}: write whole days separated by commas, e.g. 0,30,60,90,120"
        ) from None
    try:
        bucket_labels(edges)
    except ValueError as exc:
        raise ValueError(f"--buckets {text!r}: {exc}") from None
    return edges


def display(report: pl.DataFrame, edges: tuple[int, ...], currency: str) -> pl.DataFrame:
    """One currency's rows: amounts as Decimal of that currency, share as a percentage."""
    rows = report.filter(pl.col("currency") == currency)
    dtype = pl.Decimal(38, exponent(currency))
    amounts = [name for name in (*bucket_labels(edges), "total") if name in rows.columns]
    columns = [
        pl.Series(name, [from_minor(v, currency) for v in rows[name]], dtype=dtype)
        for name in amounts
    ]
    percent = (pl.col("share") * 100).round(2).alias("share %")
    return rows.with_columns(columns).with_columns(percent).drop("share")


def aging_command(
    ctx: typer.Context,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Date to age at, YYYY-MM-DD (default: today).")
    ] = None,
    by: Annotated[
        str, typer.Option(help="Group by total, debtor, invoice, segment or bucket (one row each).")
    ] = "total",
    buckets: Annotated[
        str, typer.Option(help="Bucket edges in days past due, comma separated.")
    ] = ",".join(map(str, DEFAULT_EDGES)),
    currency: Annotated[str | None, typer.Option(help="Only this currency (ISO 4217).")] = None,
    in_currency: Annotated[
        str | None,
        typer.Option(
            "--in",
            help="Every amount in this currency, at arrears.toml's [rates]: one table for all"
            " currencies (default: one table per currency, nothing converted).",
        ),
    ] = None,
    portfolio: Annotated[
        str | None, typer.Option(help="Portfolio code (default: the workspace's).")
    ] = None,
    top_n: Annotated[
        int | None, typer.Option("--top", min=1, help="Only the N largest rows per currency.")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.TABLE,
    wide: Wide = False,
) -> None:
    """Open receivables by days past due, in buckets, per currency (counts, amounts, shares)."""
    from arrears.cli.app import UserError

    try:
        day = parse_as_of(as_of, workspace_today(ctx))
        edges = parse_buckets(buckets)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if by not in BY_CHOICES:
        raise UserError(f"--by {by!r}: choose one of {', '.join(BY_CHOICES)}")
    if currency is not None:
        currency = currency.strip().upper()
        if not is_currency(currency):
            raise MoneyError(f"--currency {currency!r} is not an ISO 4217 currency code")
    ws = workspace(ctx)
    if in_currency is not None:
        in_currency = in_currency.strip().upper()
        if not is_currency(in_currency):
            raise MoneyError(f"--in {in_currency!r} is not an ISO 4217 currency code")
    code = portfolio or ws.get("portfolio")
    by_value: By = by  # type: ignore[assignment]  # checked against BY_CHOICES above
    report = aging_report(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        portfolio=code,
        as_of=day,
        edges=edges,
        by=by_value,
        currency=currency,
        in_currency=in_currency,
        rates=ws.rates,
        top_n=top_n,
    ).rows
    title = f"aging of {code} as of {day.isoformat()}"
    if in_currency is not None:
        title += f" in {in_currency}"  # at the [rates]: --in's help says so
    named = in_currency is None  # a converted report has one currency, named in its title
    _print(report, edges, fmt, title=title, locale=ws.get("locale"), wide=wide, named=named)


def _print(
    report: pl.DataFrame,
    edges: tuple[int, ...],
    fmt: Format,
    *,
    title: str,
    locale: str,
    wide: bool = False,
    named: bool = True,
) -> None:
    currencies = report["currency"].unique(maintain_order=True).to_list()
    frames = [display(report, edges, c) for c in currencies]
    if fmt is Format.TABLE:
        if not frames:
            emit(report.drop("share"), fmt, title=f"{title}: nothing open", wide=wide)
        for currency, frame in zip(currencies, frames, strict=True):
            titled = f"{title} ({currency})" if named else title
            if "bucket" in frame.columns:
                _print_buckets(frame, currency, locale, title=titled, wide=wide)
                continue
            amounts = [n for n, t in frame.schema.items() if isinstance(t, pl.Decimal)]
            shown = amounts_as_text(frame, currency, locale)
            shown = shown.drop("currency", "debtor_id", "invoice_id", strict=False)
            shown = shown.rename(TABLE_NAMES, strict=False)
            # the row's id is repeated in each part of a table too wide for the terminal
            key = [name for name in ("invoice", "debtor", "segment") if name in shown.columns]
            emit(shown, fmt, title=titled, right=amounts, key=key[:1], wide=wide)
        return
    # CSV and JSON: one document; amounts as text so each currency keeps its own decimals.
    text = [f.with_columns(pl.col(pl.Decimal).cast(pl.String)) for f in frames]
    emit(pl.concat(text) if text else report, fmt)


def _print_buckets(
    frame: pl.DataFrame, currency: str, locale: str, *, title: str, wide: bool
) -> None:
    """One currency's buckets as rows, a total row under them, then the overdue share."""
    total = Decimal(frame["total"].sum())
    overdue = Decimal(frame.filter(pl.col("bucket") != CURRENT)["total"].sum())
    closing = pl.DataFrame(
        {
            "bucket": ["total"],
            "count": [frame["count"].sum()],
            "total": [total],
            "share %": [100.0],
        },
        schema=frame.drop("currency").schema,
    )
    rows = pl.concat([frame.drop("currency"), closing]).rename({"total": "amount"})
    shown = amounts_as_text(rows, currency, locale)
    emit(shown, Format.TABLE, title=title, right=["amount"], wide=wide)
    share = f"{overdue / total * 100:.1f} %" if total else "0 %"
    console.print(
        f"overdue: {amount_text(overdue, currency, locale)} {currency} ({share})"
        f" of {amount_text(total, currency, locale)} {currency} open"
        f" ({frame['count'].sum()} instalments)"
    )


def register(app: typer.Typer) -> None:
    app.command("aging")(aging_command)
