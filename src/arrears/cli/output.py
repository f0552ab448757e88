"""Printing data the way the user asked: a Rich table, CSV or JSON (``--format``).

Also the one place that prints user errors: one clear line each on stderr.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import Any

import polars as pl
from rich.console import Console
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


class Format(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


def emit(frame: pl.DataFrame, fmt: Format, *, title: str | None = None) -> None:
    """Print ``frame`` as a table, CSV or JSON records; CSV and JSON go to stdout unadorned."""
    if fmt is Format.CSV:
        sys.stdout.write(frame.write_csv())
    elif fmt is Format.JSON:
        sys.stdout.write(json.dumps(frame.to_dicts(), default=str, ensure_ascii=False, indent=2))
        sys.stdout.write("\n")
    else:
        table = Table(title=title, show_lines=False)
        numeric = {
            name
            for name, dtype in frame.schema.items()
            if dtype.is_numeric() or dtype == pl.Decimal
        }
        for name in frame.columns:
            table.add_column(name, justify="right" if name in numeric else "left")
        for row in frame.iter_rows():
            table.add_row(*("" if v is None else str(v) for v in row))
        console.print(table)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=str, ensure_ascii=False, indent=2) + "\n")


def error(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
