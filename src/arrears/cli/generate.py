"""``arrears generate``: write a realistic demo portfolio as the files ``arrears import`` reads."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from arrears import config
from arrears.cli.context import renamed
from arrears.cli.output import Format, Wide, console, emit, emit_json
from arrears.demo.files import FileFormat
from arrears.demo.generate import Profile, check_arguments, generate
from arrears.demo.stats import GenerationStats


def _fail(message: str) -> NoReturn:
    from arrears.cli.app import UserError

    raise UserError(message)


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        _fail(f"{out} exists and is not a folder: pass a folder for the generated files")
    probe = out
    while not probe.exists():
        probe = probe.parent
    if not os.access(probe, os.W_OK | os.X_OK):
        _fail(f"cannot write into {probe}: choose a folder you can write to")


def _parse_end(text: str | None) -> date:
    if text is None:
        return config.default_today()  # the CLI's default; generate() always takes `end`
    try:
        return date.fromisoformat(text)
    except ValueError:
        _fail(f"--as-of {text!r} is not a date: write it as YYYY-MM-DD")


def _print_stats(stats: GenerationStats, out: Path, *, wide: bool) -> None:
    import polars as pl

    rows: list[tuple[str, str]] = [
        ("profile (seed)", f"{stats.profile} ({stats.seed})"),
        ("debtors", f"{stats.debtors:,}"),
        ("invoices (instalments)", f"{stats.invoices:,} ({stats.instalments:,})"),
        ("payments", f"{stats.payments:,}"),
        *((f"invoiced {c}", f"{v:,}") for c, v in stats.invoiced.items()),
        *((f"paid {c}", f"{v:,}") for c, v in stats.paid.items()),
        ("share disputed", f"{stats.share_disputed:.1%}"),
        ("share paid late (settled)", f"{stats.share_paid_late:.1%}"),
        ("mean days late (settled)", f"{stats.mean_days_late:.2f}"),
        ("days to settle, disputed", f"{stats.mean_days_to_settle_disputed:.1f}"),
        ("days to settle, undisputed", f"{stats.mean_days_to_settle_undisputed:.1f}"),
        ("share unpaid at end", f"{stats.share_unpaid_at_end:.1%}"),
        ("share overdue at end", f"{stats.share_overdue_at_end:.1%}"),
        ("share of debtors with something open", f"{stats.share_debtors_open:.1%}"),
        ("share of open instalments overdue", f"{stats.share_open_overdue:.1%}"),
        *((f"archetype {a}", f"{n:,}") for a, n in stats.archetypes.items()),
    ]
    if stats.profile != Profile.DEMO.value:
        rows += [(f"parameter {k}", str(v)) for k, v in stats.parameters.items()]
    frame = pl.DataFrame(rows, schema=["statistic", "value"], orient="row")
    title = f"{stats.profile} portfolio in {out}"
    emit(frame, Format.TABLE, title=title, right=["value"], wrap=["statistic"], wide=wide)


def _print_brief(stats: GenerationStats, out: Path, end: date) -> None:
    """The statistics in two lines: the portfolio's size, then how much is open and late."""
    currencies = ", ".join(stats.invoiced)
    console.print(
        f"{stats.profile} portfolio in {out}: {stats.debtors:,} debtors,"
        f" {stats.invoices:,} invoices ({stats.instalments:,} instalments)"
        f" and {stats.payments:,} payments in {currencies}",
        highlight=False,
    )
    console.print(
        f"on {end}: {stats.share_unpaid_at_end:.1%} of the instalments open,"
        f" {stats.share_overdue_at_end:.1%} overdue; {stats.share_paid_late:.1%} of the settled"
        f" ones were paid late ({stats.mean_days_late:.2f} days on average)",
        highlight=False,
    )


def generate_command(
    out: Annotated[Path, typer.Argument(help="Folder for debtors, invoices and payments files.")],
    debtors: Annotated[int, typer.Option(help="Number of debtors.")] = 2_000,
    months: Annotated[int, typer.Option(help="Months of invoices before --as-of.")] = 12,
    seed: Annotated[int, typer.Option(help="Random seed: same arguments, same files.")] = 7,
    profile: Annotated[
        Profile,
        typer.Option(
            help="Portfolio shape: 'demo' (most debtors current), 'backlog' (a takeover"
            " backlog: five invoices per debtor over --months on 30/45/60-day terms, about 86 %"
            " of debtors with something open and most of it overdue, partial payments, every"
            " payment allocated to its invoice) or 'revolving' (consumer credit cards: limits,"
            " a monthly statement per account with its minimum payment, transactors, revolvers,"
            " minimum-payment rollers, late payers and defaults)."
        ),
    ] = Profile.DEMO,
    end: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="The portfolio's 'today' (YYYY-MM-DD); default: today's date."
        ),
    ] = None,
    fmt: Annotated[FileFormat, typer.Option("--format", help="File format.")] = FileFormat.CSV,
    json: Annotated[bool, typer.Option("--json", help="Print the statistics as JSON.")] = False,
    wide: Wide = False,
    summary: Annotated[
        bool, typer.Option("--summary", help="The statistics in two lines instead of the table.")
    ] = False,
) -> None:
    """Generate a demo portfolio whose payment behaviour resembles real receivables."""
    problems = check_arguments(debtors, months, seed)
    if problems:
        _fail("; ".join(problems))
    end_date = _parse_end(end)
    _check_out(out)
    columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn())
    with Progress(
        *columns, TimeElapsedColumn(), console=console, transient=True, disable=json
    ) as bar:
        task = bar.add_task("generating debtors", total=debtors)
        try:
            stats = generate(
                debtors,
                months,
                seed,
                end_date,
                out,
                fmt=fmt,
                profile=profile,
                progress=lambda done, _total: bar.update(task, completed=done),
            )
        except OSError as exc:
            _fail(f"cannot write the demo files into {out}: {exc.strerror or exc}")
    if json:
        emit_json(stats.to_dict())
    elif summary:
        _print_brief(stats, out, end_date)
    else:
        _print_stats(stats, out, wide=wide)


def register(app: typer.Typer) -> None:
    app.command("generate", context_settings=renamed(end="as-of"))(generate_command)
