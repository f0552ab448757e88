"""``arrears report --month YYYY-MM``: the monthly collections report a CFO reads, as one
self-contained HTML file (inline CSS and SVG charts: it opens without internet access) or a
PDF, in the workspace's language. The page is made by
:func:`arrears.services.insight.report.monthly_report`; this module parses, calls it and writes the
file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from arrears.cli.aging import parse_buckets, parse_in_currency
from arrears.cli.context import cli_actor, store, workspace
from arrears.cli.output import console
from arrears.domain.errors import InvalidInput
from arrears.kpi.aging import DEFAULT_EDGES
from arrears.services.insight.kpi import parse_costs
from arrears.services.insight.report import monthly_report, parse_month
from arrears.services.uow import SqlUnitOfWork

FORMATS = ("html", "pdf")


def report_command(
    ctx: typer.Context,
    month: Annotated[str, typer.Option("--month", help="The month, YYYY-MM.")],
    fmt: Annotated[str, typer.Option("--format", help="html or pdf.")] = "html",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="File to write (default: report-YYYY-MM.html or .pdf here)."
        ),
    ] = None,
    in_currency: Annotated[
        str | None,
        typer.Option("--in", help="Every amount in this currency, at arrears.toml's [rates]."),
    ] = None,
    portfolio: Annotated[
        str | None, typer.Option(help="Portfolio code (default: the workspace's).")
    ] = None,
    buckets: Annotated[
        str, typer.Option(help="Bucket edges in days past due, comma separated.")
    ] = ",".join(map(str, DEFAULT_EDGES)),
) -> None:
    """The monthly collections report: headline figures against the previous month, aging
    trend, roll matrix, recovery by segment, messages by channel, calls, agreements and cost
    to collect, the experiments and the cash forecast's backtest."""
    from arrears.cli.app import UserError

    problems = []
    year = number = 0
    try:
        year, number = parse_month(month)
    except InvalidInput as exc:
        problems.append(str(exc))
    if fmt not in FORMATS:
        problems.append(f"--format {fmt!r}: choose html or pdf")
    try:
        edges = parse_buckets(buckets)
    except ValueError as exc:
        problems.append(str(exc))
    in_currency = parse_in_currency(in_currency, problems)
    if problems:
        raise UserError("; ".join(problems))
    ws = workspace(ctx)
    report = monthly_report(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        portfolio=portfolio or ws.get("portfolio"),
        year=year,
        month=number,
        locale=ws.get("locale"),
        edges=edges,
        in_currency=in_currency,
        rates=ws.rates,
        pdf=fmt == "pdf",
        costs=parse_costs(ws.values),
    )
    target = out or Path(f"report-{year:04d}-{number:02d}.{fmt}")
    try:
        if report.pdf is not None:
            target.write_bytes(report.pdf)
        else:
            target.write_text(report.html, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"--out {target}: cannot write it ({exc.strerror})") from None
    console.print(
        f"wrote {target} ({report.start} to {report.end})", soft_wrap=True, highlight=False
    )


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)
