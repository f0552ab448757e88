"""Turning cells into text the same way whatever the file format.

Excel and Parquet cells arrive typed (dates, floats); the validator works on text, so they are
written as a person would type them: dates as ISO ``YYYY-MM-DD``, numbers without binary float
artefacts (``0.1 + 0.2`` is ``0.3``, never ``0.30000000000000004``), booleans as ``true``/``false``.
Cells escaped against spreadsheet formula injection by ``arrears export`` (a leading ``'`` before
``= + - @``, tab or CR) are unescaped here, so that an export imports back unchanged.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time
from decimal import Decimal

import polars as pl

#: Characters that make a spreadsheet treat a cell as a formula (OWASP CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def float_text(value: float) -> str:
    """A float as decimal text with at most 15 significant digits (what Excel shows)."""
    if math.isnan(value) or math.isinf(value):
        return str(value)
    text = format(Decimal(f"{value:.15g}"), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def excel_text(value: object) -> str:
    """One Excel cell as text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return float_text(value)
    return str(value)


def clean(expr: pl.Expr) -> pl.Expr:
    """Trim a text cell, drop an export's anti-formula quote, and make an empty cell null."""
    trimmed = expr.str.strip_chars(" \u00a0")
    escaped = trimmed.str.starts_with("'") & trimmed.str.slice(1, 1).is_in(list(FORMULA_START))
    unescaped = pl.when(escaped).then(trimmed.str.slice(1)).otherwise(trimmed)
    return pl.when(unescaped == "").then(None).otherwise(unescaped)


#: A cell that ``clean`` changes starts or ends with a space, starts with ``'`` or is empty.
_UNCLEAN = r"^[ \u00a0']|[ \u00a0]$|^$"


def unclean(columns: list[str]) -> pl.Expr:
    """Per column, whether any cell of it would be changed by ``clean`` (one row of booleans):
    a column where none would be is taken as it is, which saves a copy of every cell."""
    return pl.col(columns).str.contains(_UNCLEAN).any().fill_null(False)


def escape_formulas(expr: pl.Expr) -> pl.Expr:
    """Prefix ``'`` to text that a spreadsheet would run as a formula."""
    risky = pl.any_horizontal(expr.str.starts_with(c) for c in FORMULA_START)
    return pl.when(risky).then(pl.lit("'") + expr).otherwise(expr)


def decimal_text(minor: pl.Expr, exponent: pl.Expr) -> pl.Expr:
    """Integer minor units as decimal text with ``.`` (``12345``, 2 -> ``"123.45"``); exact."""
    scale = pl.lit(10, pl.Int64).pow(exponent)
    units = (minor.abs() // scale).cast(pl.String)
    cents = (minor.abs() % scale).cast(pl.String).str.zfill(exponent)
    sign = pl.when(minor < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    return pl.when(exponent > 0).then(sign + units + "." + cents).otherwise(sign + units)
