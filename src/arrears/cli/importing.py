"""``arrears import debtors|invoices|payments|credit-notes FILE...``: files into the store.

How files are read comes from the workspace (``import.*`` settings, ``[import.columns.<kind>]``,
country, time zone, base currency and portfolio). Atomic by default: a file with any problem
imports nothing, every problem is printed as ``file:row:column: message`` and the exit status is
1. ``--strict`` makes every column arrears would ignore (a warning otherwise) such a problem.
``--skip-invalid`` imports the valid rows and writes the others to a rejects CSV; a problem
with a file as a whole (unreadable, no header, mixed encodings...) still refuses it, with status 1.
A rolled-back import prints no counts of created rows: nothing was created.

``--decimal-separator``, ``--thousands-separator`` and ``--date-format`` read these files with
other settings than the workspace's (a source that writes amounts differently); like the
settings, they apply to text cells only: typed Excel and Parquet cells are read as typed.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from arrears import config
from arrears.cli.context import cli_actor, store, workspace
from arrears.cli.kinds import LedgerFile
from arrears.cli.output import Format, console, emit, emit_json, err_console, error
from arrears.domain.allocation import AllocationRule
from arrears.domain.columns import Kind
from arrears.io.batches import ReadOptions

if TYPE_CHECKING:  # the use cases (and openpyxl under them) are imported when a file is
    from arrears.services.books.imports import ImportReport
    from arrears.services.uow import SqlUnitOfWork

LARGE_FILE_BYTES = 2_000_000  # show a progress bar from this size on


class SummaryFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


class DecimalSeparator(StrEnum):
    DOT = "."
    COMMA = ","


class ThousandsSeparator(StrEnum):
    NONE = ""
    COMMA = ","
    DOT = "."
    SPACE = " "
    APOSTROPHE = "'"


def read_options(ws: config.Workspace, kind: Kind, portfolio: str | None) -> ReadOptions:
    """How to read files of ``kind`` in this workspace."""
    mapping = ws.columns.get(kind.value) or ws.columns.get(kind.value.replace("_", "-")) or {}
    return ReadOptions(
        date_format=ws.get("import.date_format"),
        decimal_separator=ws.get("import.decimal_separator"),
        thousands_separator=ws.get("import.thousands_separator"),
        encoding=ws.get("import.encoding"),
        delimiter=ws.get("import.delimiter"),
        default_country=ws.get("country"),
        default_timezone=ws.get("timezone"),
        base_currency=ws.get("base_currency"),
        default_portfolio=portfolio or ws.get("portfolio"),
        mapping=dict(mapping),
    )


def import_command(
    ctx: typer.Context,
    what: Annotated[LedgerFile, typer.Argument(help="What the files hold.")],
    files: Annotated[list[Path], typer.Argument(help="CSV, Excel (.xlsx) or Parquet files.")],
    portfolio: Annotated[
        str | None, typer.Option(help="Portfolio for rows that name none (default: workspace's).")
    ] = None,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Import the valid rows; reject the others.")
    ] = False,
    rejects: Annotated[
        Path | None,
        typer.Option(help="Rejects CSV (default with --skip-invalid: FILE.rejects.csv)."),
    ] = None,
    fmt: Annotated[SummaryFormat, typer.Option("--format", help="Summary format.")] = (
        SummaryFormat.TABLE
    ),
    decimal_separator: Annotated[
        DecimalSeparator | None,
        typer.Option(
            help="Decimal separator of these files' amounts, instead of import.decimal_separator "
            "(text cells only; without --thousands-separator: no thousands separator)."
        ),
    ] = None,
    thousands_separator: Annotated[
        ThousandsSeparator | None,
        typer.Option(
            help="Thousands separator of these files' amounts, instead of "
            "import.thousands_separator ('' for none; text cells only)."
        ),
    ] = None,
    date_format: Annotated[
        str | None,
        typer.Option(
            help="Date format of these files (auto or strftime, e.g. %d/%m/%Y), instead of "
            "import.date_format (text cells only)."
        ),
    ] = None,
    summary: Annotated[
        bool, typer.Option("--summary", help="The counts in one line instead of the table.")
    ] = False,
    show_progress: Annotated[
        bool | None,
        typer.Option(
            "--progress/--no-progress",
            help="A progress bar on standard error (rows, rows/s, time left); default: for "
            "files over 2 MB when standard error is a terminal.",
        ),
    ] = None,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="A column arrears does not know is a problem, not a warning: every one is "
            "listed with how to map it, and nothing is imported.",
        ),
    ] = False,
) -> None:
    """Import debtors, invoices (one row per instalment), payments or credit notes.

    Typed Excel and Parquet cells (numbers, dates) are read as typed; the workspace's import
    settings, or the options below, apply to text cells.
    """
    ws = workspace(ctx)
    kind = what.kind
    options = _overridden(
        read_options(ws, kind, portfolio), decimal_separator, thousands_separator, date_format
    )
    if skip_invalid and rejects is None:
        rejects = files[0].with_name(files[0].name + ".rejects.csv")
    from arrears.services.books import imports
    from arrears.services.uow import SqlUnitOfWork

    uow = SqlUnitOfWork(store(ws))
    large = sum(f.stat().st_size for f in files if f.is_file()) >= LARGE_FILE_BYTES
    shown = (large and err_console.is_terminal) if show_progress is None else show_progress
    report = _run(
        uow,
        kind,
        files,
        options,
        skip_invalid=skip_invalid,
        rejects=rejects,
        rule=AllocationRule(ws.get("allocation_rule")),
        show_progress=shown,
        strict=strict,
    )
    _summary(report, fmt, rejects, brief=summary)
    if fmt is not SummaryFormat.JSON:  # columns ignored; on stderr beside a CSV summary
        for warning in report.warnings:
            (err_console if fmt is SummaryFormat.CSV else console).print(
                f"warning: {warning}", markup=False, highlight=False, soft_wrap=True
            )
    if large and report.committed and not imports.references_checked_per_batch(uow, cli_actor()):
        err_console.print(
            "note: this PostgreSQL role may not set session_replication_role, so every row's "
            "foreign keys were checked one by one (about 3x slower for large files); "
            "GRANT SET ON PARAMETER session_replication_role TO <this role> lets arrears check "
            "them once per batch (see docs/store.md)",
            markup=False,
            soft_wrap=True,
        )
    if report.problems and not report.committed:
        for problem in report.problems:
            error(str(problem))
        error(f"{len(report.problems)} problem(s): nothing was imported")
        raise typer.Exit(1)


def _overridden(
    options: ReadOptions,
    decimal: DecimalSeparator | None,
    thousands: ThousandsSeparator | None,
    date_format: str | None,
) -> ReadOptions:
    """The workspace's ``options`` with this import's ``--decimal-separator``... A decimal
    separator given alone reads amounts without a thousands separator: the workspace's may be
    the new decimal separator (``1.234,50`` against ``1234.50``)."""
    if decimal is not None:
        options = replace(
            options,
            decimal_separator=decimal.value,
            thousands_separator="" if thousands is None else thousands.value,
        )
    elif thousands is not None:
        options = replace(options, thousands_separator=thousands.value)
    if options.decimal_separator == options.thousands_separator:
        raise typer.BadParameter(
            f"{options.decimal_separator!r} cannot separate both the decimals and the "
            "thousands: give --decimal-separator and --thousands-separator different values",
            param_hint="--thousands-separator",
        )
    if date_format is not None:
        if date_format != "auto" and "%" not in date_format:
            raise typer.BadParameter(
                f"{date_format!r} is not a date format: use auto or strftime directives such "
                "as %d/%m/%Y",
                param_hint="--date-format",
            )
        options = replace(options, date_format=date_format)
    return options


def _run(
    uow: SqlUnitOfWork,
    kind: Kind,
    files: list[Path],
    options: ReadOptions,
    *,
    skip_invalid: bool,
    rejects: Path | None,
    rule: AllocationRule,
    show_progress: bool,
    strict: bool = False,
) -> ImportReport:
    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        _RowsColumn(),
        TimeRemainingColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=err_console.is_terminal,
        disable=not show_progress,
    ) as bar:
        total = estimated_rows(files) if show_progress else None
        task = bar.add_task(f"importing {kind.value}", total=total)
        done: dict[Path, int] = {}

        def progress(path: Path, rows: int) -> None:
            done[path] = rows
            read = sum(done.values())
            grown = None if total is None else max(total, read)
            bar.update(task, description=f"importing {path.name}", completed=read, total=grown)

        from arrears.services.books import imports

        return imports.import_files(
            uow,
            cli_actor(),
            kind,
            files,
            options,
            skip_invalid=skip_invalid,
            rejects=rejects,
            rule=rule,
            at=datetime.now(UTC),
            progress=progress,
            strict=strict,
        )


class _RowsColumn(ProgressColumn):
    """``rows read / about N rows, rows/s`` (the total is an estimate, see ``estimated_rows``)."""

    def render(self, task: Task) -> Text:
        total = "" if task.total is None else f" / ~{int(task.total):,}"
        rate = task.completed / task.elapsed if task.elapsed else None  # since the start
        speed = "" if rate is None else f", {rate:,.0f} rows/s"
        return Text(f"{int(task.completed):,}{total} rows{speed}", style="progress.download")


#: How much of a text file ``estimated_rows`` reads to measure its rows' length.
_SAMPLE_BYTES = 1 << 20


def estimated_rows(files: list[Path]) -> int | None:
    """About how many data rows the files hold, for the progress bar's time left: a Parquet
    file says so in its metadata; a text file is measured on its first MiB (its size divided
    by the mean length of those lines); ``None`` when a file (an Excel sheet) gives no cheap
    estimate."""
    rows = 0
    for path in files:
        suffix = path.suffix.lower()
        try:
            if suffix == ".parquet":
                import pyarrow.parquet as pq

                rows += pq.ParquetFile(path).metadata.num_rows
            elif suffix in {".csv", ".txt", ".tsv"}:
                size = path.stat().st_size
                with path.open("rb") as handle:
                    sample = handle.read(_SAMPLE_BYTES)
                lines = sample.count(b"\n") or 1
                rows += max(0, round(size * lines / max(len(sample), 1)) - 1)
            else:
                return None
        except OSError:
            return None  # the import itself reports the file
    return rows


def _summary(
    report: ImportReport, fmt: SummaryFormat, rejects: Path | None, *, brief: bool = False
) -> None:
    """The counts of a committed import; of one rolled back, only the rows read (the loader's
    counts say what it would have created: nothing was)."""
    counts = report.counts
    if not report.committed:
        counts = {**counts, "created": 0, "updated": 0, "unchanged": 0}
    if fmt is SummaryFormat.JSON:
        emit_json(
            {
                "kind": report.kind.value,
                "files": report.files,
                "committed": report.committed,
                **counts,
                "problems": [str(p) for p in report.problems],
                "warnings": [str(w) for w in report.warnings],
            }
        )
        return
    if fmt is SummaryFormat.CSV:  # one row: what was imported, whether it was, the counts
        import polars as pl

        row = {"kind": report.kind.value, "committed": report.committed, **counts}
        emit(pl.DataFrame([row]), Format.CSV)
        return
    if not report.committed:
        console.print(
            f"import rolled back: {report.rows:,} row(s) read, nothing imported", markup=False
        )
        return
    if brief:
        rest = ", ".join(f"{n:,} {what}" for what, n in counts.items() if what != "rows")
        console.print(f"{report.kind.value}: {report.rows:,} rows: {rest}", highlight=False)
        if report.rejected:
            console.print(f"{report.rejected} row(s) rejected: see {rejects}")
        return
    import polars as pl

    emit(
        pl.DataFrame({"": list(counts), report.kind.value: list(counts.values())}),
        Format.TABLE,
        title="import applied",
    )
    if report.rejected:
        console.print(f"{report.rejected} row(s) rejected: see {rejects}")


def register(app: typer.Typer) -> None:
    app.command("import")(import_command)
