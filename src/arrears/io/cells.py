"""Turning cells into text the same way whatever the file format.

Excel and Parquet cells arrive typed (dates, floats); the validator works on text, so they are
written the same way whatever the workspace's settings: dates as ISO ``YYYY-MM-DD``, numbers with
``.`` before the decimals and no grouping, booleans as ``true``/``false``. A float is written as
the shortest decimal that reads back as the same float (``12345678901234.56``), or, when that
has more than 4 decimals (more than any currency has: binary artefacts such as
``0.30000000000000004``), with 15 significant digits, as Excel shows it (``0.3``). The reader
says which cells were typed (``typed_column``: ``NUMBER`` or ``DATE``), so that the checks read
them as written here and apply ``import.decimal_separator`` and ``import.date_format`` to text
cells only.
Cells escaped against spreadsheet formula injection by ``arrears export`` (a leading ``'`` before
``= + - @``, tab or CR) are unescaped here, so that an export imports back unchanged.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time
from decimal import Decimal

import polars as pl

#: The reader's column of ``name``'s cell kinds (an unsigned byte: ``TEXT``, ``NUMBER``,
#: ``DATE``), only for columns with typed cells; NUL cannot be in a header of a CSV file.
TYPED_PREFIX = "\x00typed:"
TEXT, NUMBER, DATE = 0, 1, 2
MAX_DECIMALS = 4  # of any currency (CLF, UYW)


def typed_column(name: str) -> str:
    return f"{TYPED_PREFIX}{name}"


#: Characters that make a spreadsheet treat a cell as a formula (OWASP CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def float_text(value: float) -> str:
    """A float as plain decimal text: the shortest that reads back as ``value``, or with 15
    significant digits (what Excel shows) when that has more than ``MAX_DECIMALS`` decimals."""
    if math.isnan(value) or math.isinf(value):
        return str(value)
    exact = Decimal(repr(value))
    scale = -int(exact.normalize().as_tuple().exponent)
    text = format(exact if scale <= MAX_DECIMALS else Decimal(f"{value:.15g}"), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def float_texts(series: pl.Series) -> pl.Series:
    """``float_text`` of a column, with Polars (no Python per value); large and small numbers
    may come out in scientific notation (``1e+16``), which the amount check reads."""
    shortest = series.cast(pl.String)
    fraction = shortest.str.extract(r"\.([0-9]+)", 1).str.len_chars().fill_null(0)
    power = shortest.str.extract(r"e([+-]?[0-9]+)$", 1).cast(pl.Int64).fill_null(0)
    shown = series.round_sig_figs(15).cast(pl.String)
    text = pl.select(
        pl.when(fraction.cast(pl.Int64) - power > MAX_DECIMALS).then(shown).otherwise(shortest)
    ).to_series()
    return text.str.replace(r"\.0$", "").alias(series.name)


def cell_kind(value: object) -> int:
    """``NUMBER``, ``DATE`` or ``TEXT``: how ``excel_text`` wrote ``value``."""
    if isinstance(value, bool) or value is None:
        return TEXT
    if isinstance(value, int | float):
        return NUMBER
    if isinstance(value, date):  # datetime too
        return DATE
    return TEXT


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
