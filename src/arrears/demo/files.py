"""Writing generated frames as the files ``arrears import`` reads, chunk after chunk.

Headers are exactly the canonical column names of :mod:`arrears.domain.columns` (debtors add
``attr_archetype``). Amounts go from integer minor units to decimal text with a point
(``1234.50``) by integer arithmetic, never through a float; dates are ISO; booleans yes/no;
CSV is UTF-8 without BOM. Parquet keeps dates as dates and amounts as the same decimal text.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    import pyarrow.parquet as pq

from arrears.domain.columns import ATTRIBUTE_PREFIX, COLUMNS, Column, Kind, Type
from arrears.domain.money import exponent

ARCHETYPE_COLUMN = f"{ATTRIBUTE_PREFIX}archetype"
YES_NO = {True: "yes", False: "no"}


class FileFormat(StrEnum):
    CSV = "csv"
    PARQUET = "parquet"


def headers(kind: Kind) -> list[str]:
    """The header row of a generated file of ``kind``."""
    names = [c.name for c in COLUMNS[kind]]
    return [*names, ARCHETYPE_COLUMN] if kind is Kind.DEBTORS else names


def decimal_text(minor: pl.Expr, currency: pl.Expr, currencies: list[str]) -> pl.Expr:
    """Integer minor units as decimal text in each row's currency (``123450`` -> ``1234.50``)."""
    digits = currency.replace_strict({c: exponent(c) for c in currencies}, return_dtype=pl.Int8)
    sign = pl.when(minor < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    size = minor.abs()
    text: pl.Expr = size.cast(pl.String)
    for exp in sorted({exponent(c) for c in currencies} - {0}):
        unit = 10**exp
        fraction = (size % unit).cast(pl.String).str.zfill(exp)
        with_point = pl.concat_str((size // unit).cast(pl.String), pl.lit("."), fraction)
        text = pl.when(digits == exp).then(with_point).otherwise(text)
    return pl.when(minor.is_null()).then(None).otherwise(sign + text)


def _cell(column: Column, frame: pl.DataFrame, currencies: list[str]) -> pl.Expr:
    if column.type is Type.AMOUNT:
        return decimal_text(pl.col(column.field), pl.col("currency"), currencies)
    if column.type is Type.BOOL and frame.schema[column.name] == pl.Boolean:
        return pl.col(column.name).replace_strict(YES_NO, return_dtype=pl.String)
    if frame.schema[column.name] == pl.Null:
        return pl.col(column.name).cast(pl.String)
    return pl.col(column.name)


def canonical(kind: Kind, frame: pl.DataFrame) -> pl.DataFrame:
    """The columns of a file of ``kind``, in canonical order, as they are written."""
    currencies = frame["currency"].unique().drop_nulls().to_list()
    cells = [_cell(c, frame, currencies).alias(c.name) for c in COLUMNS[kind]]
    if kind is Kind.DEBTORS:
        cells.append(pl.col(ARCHETYPE_COLUMN))
    return frame.select(cells)


class PortfolioFiles:
    """``debtors``, ``invoices`` and ``payments`` files in ``out``, appended chunk by chunk."""

    def __init__(self, out: Path, fmt: FileFormat = FileFormat.CSV) -> None:
        self.out, self.fmt = out, fmt
        self._parquet: dict[Kind, pq.ParquetWriter] = {}
        self._started: set[Kind] = set()

    def path(self, kind: Kind) -> Path:
        return self.out / f"{kind.value}.{self.fmt.value}"

    def write(self, kind: Kind, frame: pl.DataFrame) -> None:
        table = canonical(kind, frame)
        if self.fmt is FileFormat.PARQUET:
            arrow = table.to_arrow()
            if kind not in self._parquet:
                import pyarrow.parquet as pq  # noqa: PLC0415 (only for parquet: ~0.1 s to import)

                self._parquet[kind] = pq.ParquetWriter(self.path(kind), arrow.schema)
            self._parquet[kind].write_table(arrow.cast(self._parquet[kind].schema))
            return
        first = kind not in self._started
        with self.path(kind).open("wb" if first else "ab") as handle:
            table.write_csv(handle, include_header=first)
        self._started.add(kind)

    def close(self) -> None:
        for writer in self._parquet.values():
            writer.close()
        self._parquet.clear()

    def __enter__(self) -> PortfolioFiles:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
