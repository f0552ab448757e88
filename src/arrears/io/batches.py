"""What the readers hand to the store loader: validated batches of one file.

A file is read in batches (bounded memory). Each batch carries the raw rows (all text, for the
rejects file), the typed rows that passed every file-level check, and the problems found.
Store-level checks (unknown debtor, allocation above an open balance...) are made by the loader,
which reports further problems against the same ``source``/``row``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from arrears.domain.columns import Kind
from arrears.domain.problems import Problem


@dataclass(slots=True)
class ValidatedBatch:
    kind: Kind
    source: str
    #: Every row of the batch as text, columns as in the file, plus ``row`` (Int64).
    raw: pl.DataFrame
    #: Rows without file-level problems: the typed frame described in ``arrears.domain.columns``
    #: (fields, ``attributes`` as a JSON text for debtors, ``source`` and ``row``).
    valid: pl.DataFrame
    problems: list[Problem] = field(default_factory=list)
    #: The record key (portfolio and id) of every row of ``raw``, in its order; null without id.
    record_keys: pl.Series | None = None


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """How to read a user's file (from the workspace settings)."""

    date_format: str = "auto"
    decimal_separator: str = "."
    thousands_separator: str = ""
    encoding: str = "auto"
    delimiter: str = "auto"
    default_country: str = "US"
    default_timezone: str = "America/New_York"
    base_currency: str = "USD"
    default_portfolio: str = "default"
    #: canonical column -> header in the file, from ``[import.columns.<kind>]``
    mapping: dict[str, str] = field(default_factory=dict)
    batch_rows: int = 100_000
