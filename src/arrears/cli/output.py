"""Printing data the way the user asked: a Rich table, CSV or JSON (``--format``).

Also the one place that prints user errors: one clear line each on stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Collection
from decimal import Decimal
from enum import StrEnum
from typing import Any

import polars as pl
from babel.numbers import format_decimal
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from arrears.domain.money import exponent

console = Console()
err_console = Console(stderr=True)


class Format(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


def emit(
    frame: pl.DataFrame, fmt: Format, *, title: str | None = None, right: Collection[str] = ()
) -> None:
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
        } | set(right)
        for name in frame.columns:
            table.add_column(name, justify="right" if name in numeric else "left")
        for row in frame.iter_rows():
            table.add_row(*("" if v is None else str(v) for v in row))
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
