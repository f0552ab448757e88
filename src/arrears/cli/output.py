"""Printing data the way the user asked: a Rich table, CSV or JSON (``--format``).

A table never cuts a cell. Every column is printed whole (ids, amounts, counts, dates) unless the
command declares it text that may wrap (names, notes, reasons: folded onto more lines, never cut).
When the table is wider than the terminal: the text columns wrap first, then the columns the
command declared optional are hidden, in its order, and a line under the table says which; a
table still too wide is printed in parts, each repeating the key columns (the row's id); when a
cell is too wide even beside the key columns alone, the rows are printed as records, one
``name  value`` line per column. With
``--wide`` the table is printed whole on long lines (for ``less -S`` or a file).

Also the one place that prints user errors: one clear line each on stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any

import polars as pl
import typer
from babel.numbers import format_decimal
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from arrears.domain.money import exponent

console = Console()
err_console = Console(stderr=True)

#: ``--wide``, for every command that prints a table.
Wide = Annotated[
    bool,
    typer.Option(
        "--wide", help="Print tables whole on long lines instead of fitting the terminal."
    ),
]
#: The narrowest a wrapping text column becomes before columns are hidden.
WRAP_WIDTH = 12


class Format(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


#: ``--format``, for every command that prints data.
FormatOpt = Annotated[Format, typer.Option("--format", help="Output format.")]


def emit(
    frame: pl.DataFrame,
    fmt: Format,
    *,
    title: str | None = None,
    right: Collection[str] = (),
    key: Sequence[str] | None = None,
    wrap: Collection[str] = (),
    optional: Sequence[str] = (),
    wide: bool = False,
) -> None:
    """Print ``frame`` as a table, CSV or JSON records; CSV and JSON go to stdout unadorned.

    In a table, numeric columns and ``right`` are right-aligned; ``wrap`` are text columns that
    may wrap; ``optional`` may be hidden, first ones first, when the table does not fit; ``key``
    (default: the first column) is repeated in each part of a table printed in parts."""
    if fmt is Format.CSV:
        sys.stdout.write(frame.write_csv())
    elif fmt is Format.JSON:
        sys.stdout.write(json.dumps(frame.to_dicts(), default=str, ensure_ascii=False, indent=2))
        sys.stdout.write("\n")
    else:
        numeric = {
            name
            for name, dtype in frame.schema.items()
            if dtype.is_numeric() or dtype == pl.Decimal
        } | set(right)
        columns = [
            _Column(
                name,
                ["" if v is None else str(v) for v in frame[name]],
                right=name in numeric,
                wraps=name in wrap,
            )
            for name in frame.columns
        ]
        keys = frame.columns[:1] if key is None else list(key)
        _print_table(columns, title=title, key=keys, optional=optional, wide=wide)


@dataclass(frozen=True)
class _Column:
    name: str
    cells: list[str]
    right: bool = False
    wraps: bool = False

    @cached_property
    def natural(self) -> int:
        """Its width with every cell and the header on one line."""
        return max([cell_len(self.name), *map(cell_len, self.cells)])

    @cached_property
    def least(self) -> int:
        """The narrowest it may be: a whole column as wide as its longest cell and header word,
        a wrapping one ``WRAP_WIDTH`` (or less when it is all narrower)."""
        header = max((cell_len(word) for word in self.name.split()), default=0)
        if self.wraps:
            return min(self.natural, max(WRAP_WIDTH, header))
        return max([header, *map(cell_len, self.cells)])


def _width(columns: Sequence[_Column], widths: Sequence[int]) -> int:
    """A table's printed width: its columns' widths, a space either side, the rules between."""
    return sum(widths) + 3 * len(columns) + 1


def _print_table(
    columns: Sequence[_Column],
    *,
    title: str | None,
    key: Sequence[str],
    optional: Sequence[str],
    wide: bool,
) -> None:
    """Fit ``columns`` to the terminal without cutting a cell (see the module's docstring)."""
    if not columns:
        console.print(Table(title=title))
        return
    if wide:
        _print_part(columns, [c.natural for c in columns], title, wide=True)
        return
    room = console.width
    shown = list(columns)
    hidden: list[str] = []
    for name in optional:
        if _width(shown, [c.least for c in shown]) <= room:
            break
        if name in (c.name for c in shown) and name not in key:
            shown = [c for c in shown if c.name != name]
            hidden.append(name)
    parts = _parts(shown, key, room)
    if any(_width(part, [c.least for c in part]) > room for part in parts):
        _print_records(columns, title=title, room=room)
        return
    if len(parts) > 1 and title:
        console.print(Text(title, style="table.title"))
    for part in parts:
        heading = title if len(parts) == 1 else None
        _print_part(part, _widths(part, room), heading, wide=False)
    notes = []
    if hidden:
        what = "column" if len(hidden) == 1 else "columns"
        notes.append(f"{len(hidden)} {what} hidden: {', '.join(hidden)}")
    if len(parts) > 1:
        notes.append(f"printed in {len(parts)} parts to fit {room} columns")
    if notes:
        console.print(Text("; ".join(notes) + "; use --wide or --format csv", style="dim"))


def _print_records(columns: Sequence[_Column], *, title: str | None, room: int) -> None:
    """One block per row, ``name  value`` per line: for a cell too wide to sit beside the key
    columns (a long business key), so that it is still printed whole within ``room``."""
    if title:
        console.print(Text(title, style="table.title"))
    label = max(cell_len(c.name) for c in columns)
    for i in range(len(columns[0].cells)):
        console.print(Text("-" * min(room, 40), style="dim"))
        for column in columns:
            line = Text(column.name.ljust(label) + "  ", style="bold")
            line.append(column.cells[i])
            if column.wraps:
                console.print(line, overflow="fold")
            else:  # whole, even on a line longer than the terminal's
                Console(file=console.file, width=max(room, cell_len(line.plain))).print(line)
    console.print(
        Text(
            f"printed as records: a value is too wide for a table in {room} columns; "
            "use --wide or --format csv",
            style="dim",
        )
    )


def _parts(shown: list[_Column], key: Sequence[str], room: int) -> list[list[_Column]]:
    """One part when the columns fit in ``room``; else consecutive groups of the other columns,
    each after the key columns."""
    if _width(shown, [c.least for c in shown]) <= room:
        return [shown]
    keys = [c for c in shown if c.name in key]
    parts: list[list[_Column]] = []
    current: list[_Column] = []
    for column in (c for c in shown if c.name not in key):
        trial = [*keys, *current, column]
        if current and _width(trial, [c.least for c in trial]) > room:
            parts.append([*keys, *current])
            current = []
        current.append(column)
    if current or not parts:
        parts.append([*keys, *current])
    order = {c.name: i for i, c in enumerate(shown)}
    return [sorted(part, key=lambda c: order[c.name]) for part in parts]


def _widths(columns: Sequence[_Column], room: int) -> list[int]:
    """Each column's width in ``room``: at least its least width; what is left goes to the
    wrapping columns, then to the headers, up to their natural width."""
    widths = [c.least for c in columns]
    spare = room - _width(columns, widths)
    for wanted in (True, False):
        for i, column in enumerate(columns):
            if column.wraps is wanted and spare > 0:
                grow = min(spare, column.natural - widths[i])
                widths[i] += grow
                spare -= grow
    return widths


def _print_part(
    columns: Sequence[_Column], widths: Sequence[int], title: str | None, *, wide: bool
) -> None:
    table = Table(title=title, show_lines=False)
    for column, width in zip(columns, widths, strict=True):
        table.add_column(
            column.name,
            justify="right" if column.right else "left",
            width=width,
            overflow="fold",
        )
    for row in zip(*(c.cells for c in columns), strict=True):
        table.add_row(*(Text(cell) for cell in row))
    needed = _width(columns, widths)
    if wide or needed > console.width:
        # whole, on lines longer than the terminal's: never cut to fit it
        Console(file=console.file, width=needed).print(table)
    else:
        console.print(table)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=str, ensure_ascii=False, indent=2) + "\n")


def error(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def amount_text(value: Decimal, currency: str, locale: str) -> str:
    """An amount for people: the currency's decimals, grouped the locale's way (1,234.50 in
    en_US, 1.234,50 in es_CO). Exact: formatted from the Decimal, never through a float."""
    digits = exponent(currency)
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=locale)


def amounts_as_text(frame: pl.DataFrame, currency: str, locale: str) -> pl.DataFrame:
    """Every Decimal column of ``frame`` (amounts in ``currency``) as locale-formatted text."""
    columns = [
        pl.Series(name, [amount_text(v, currency, locale) for v in frame[name]], dtype=pl.String)
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.Decimal)
    ]
    return frame.with_columns(columns)
