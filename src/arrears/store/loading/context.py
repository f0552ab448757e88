"""What the loaders of one import share: its context, their results, and the typed frame.

Split from ``arrears.store.loading.entry`` so that the per-kind loaders can import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from arrears.domain.allocation import AllocationRule
from arrears.domain.columns import ATTRIBUTE_PREFIX, COLUMNS, Kind, Type
from arrears.domain.problems import Problem

_DTYPES: dict[Type, pl.DataType] = {
    Type.DATE: pl.Date(),
    Type.AMOUNT: pl.Int64(),
    Type.INT: pl.Int64(),
    Type.BOOL: pl.Boolean(),
    Type.TAGS: pl.List(pl.String),
}


@dataclass(frozen=True, slots=True)
class LoadContext:
    """What every batch of one import shares."""

    batch_id: int
    actor: str
    at: datetime  # UTC; the import's time, passed in (never read from the clock here)
    portfolio: str = "default"
    rule: AllocationRule = AllocationRule.OLDEST_DUE_FIRST
    country: str = "US"
    timezone: str = "America/New_York"
    currency: str = "USD"
    #: per portfolio id, whether it held invoices when this context first loaded invoices of it;
    #: one that held none needs no look-up of stored invoices (``load_invoices``). A context
    #: lives for one file, whose loads bring each invoice once (``arrears.io.whole_records``).
    invoices_before: dict[int, bool] = field(default_factory=dict)
    #: per (table, portfolio id), whether the portfolio held payments (or credit notes) when
    #: this context first loaded some of it: one that held none needs no look-up of stored
    #: documents (``load_payments``; the file brings each document once, as for invoices)
    documents_before: dict[tuple[str, int], bool] = field(default_factory=dict)
    #: per (table, portfolio id), the total of its amounts per currency as this file's loads
    #: leave it (``arrears.store.totals``: no total may wrap a 64-bit integer)
    totals: dict[tuple[str, int], dict[str, int]] = field(default_factory=dict)


@dataclass(slots=True)
class LoadResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)

    def add(self, other: LoadResult) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.problems.extend(other.problems)


def typed(kind: Kind, frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every canonical field present (absent optional ones as nulls)."""
    wanted: dict[str, pl.DataType] = {}
    for column in COLUMNS[kind]:
        wanted[column.field] = _DTYPES.get(column.type, pl.String())
    if kind is Kind.DEBTORS:
        wanted["attributes"] = pl.String()
    wanted |= {"source": pl.String(), "row": pl.Int64()}
    exprs = [
        pl.col(name).cast(dtype) if name in frame.columns else pl.lit(None, dtype).alias(name)
        for name, dtype in wanted.items()
    ]
    extra = [pl.col(c) for c in frame.columns if c.startswith(ATTRIBUTE_PREFIX)]
    return frame.select(*exprs, *extra)
