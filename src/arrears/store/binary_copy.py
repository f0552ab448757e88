"""A Polars frame as the body of PostgreSQL's ``COPY ... FROM STDIN (FORMAT binary)``.

Binary ``COPY`` costs the server less than CSV (no text to parse into dates, timestamps and
numbers: measured 15 to 30 % less server CPU for the invoice and instalment tables). The body is
built column by column, never row by row in Python: NumPy writes each fixed-width column's
length words and big-endian values as a byte matrix, and Arrow joins every row's pieces
(``binary_join_element_wise``), so the rows come out back to back in one buffer.

The layout (PostgreSQL documentation, "COPY", binary format): an 11-byte signature, a 32-bit
flags word and a 32-bit header-extension length; per row a 16-bit field count, then per field a
32-bit length (-1 for NULL) and the value in the type's binary send format; a 16-bit -1 at the
end. All integers are big-endian (network order).

``encode`` returns ``None`` when a column's Polars type and PostgreSQL type are not a pair it
knows: the caller then uses CSV.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"

#: PostgreSQL's epoch (2000-01-01) in days and microseconds after the Unix epoch.
_PG_EPOCH_DAYS = 10_957
_PG_EPOCH_US = _PG_EPOCH_DAYS * 86_400 * 1_000_000

_INTEGERS = {"bigint": ">i8", "integer": ">i4", "smallint": ">i2"}
_TEXTS = {"text", "character varying", "character", "json", "jsonb"}


def _fixed(series: pl.Series, pg_type: str) -> np.ndarray | None:
    """The values of a fixed-width column as big-endian bytes, one row per line (NULLs: 0)."""
    dtype = series.dtype
    if pg_type in _INTEGERS and dtype.is_integer() and dtype != pl.UInt64:
        big = _INTEGERS[pg_type]
        values = series.cast(pl.Int64).fill_null(0).to_numpy()
        info = np.iinfo(np.dtype(big))
        if values.size and (values.min() < info.min or values.max() > info.max):
            return None  # out of range for the column: CSV, and the server's own error
        encoded = values.astype(big)
    elif pg_type == "boolean" and dtype == pl.Boolean:
        encoded = series.fill_null(False).cast(pl.UInt8).to_numpy().astype(">u1")
    elif pg_type == "date" and dtype == pl.Date:
        days = series.cast(pl.Int32).fill_null(0).to_numpy().astype(np.int64) - _PG_EPOCH_DAYS
        encoded = days.astype(">i4")
    elif isinstance(dtype, pl.Datetime) and (
        (pg_type == "timestamp with time zone" and dtype.time_zone is not None)
        or (pg_type == "timestamp without time zone" and dtype.time_zone is None)
    ):
        micros = series.dt.cast_time_unit("us").cast(pl.Int64).fill_null(0).to_numpy()
        encoded = (micros - _PG_EPOCH_US).astype(">i8")
    else:
        return None
    width = encoded.dtype.itemsize
    return np.ascontiguousarray(encoded).view(np.uint8).reshape(-1, width)


@dataclass(frozen=True, slots=True)
class Body:
    """A binary ``COPY`` body: the columns in the order it holds them, and its bytes in parts."""

    columns: list[str]
    parts: list[bytes | memoryview]


def encode(frame: pl.DataFrame, pg_types: Sequence[str]) -> Body | None:
    """The binary ``COPY`` body of ``frame`` for columns of ``pg_types`` (``format_type`` names,
    in the frame's column order), or ``None`` if a column cannot be encoded.

    The body holds the columns in its own order (``Body.columns``, for the ``COPY`` column
    list): fixed-width columns without NULLs first, so that their fields (and the row's field
    count) are one byte matrix, then text columns and fixed-width columns with NULLs."""
    n = frame.height
    # Each row is the element-wise concatenation of its pieces (Arrow joins them in C). Fields
    # next to each other whose every row has the same width are one byte matrix, one piece.
    block: list[np.ndarray] = [_words(np.full(n, frame.width, dtype=">i2"))]
    pieces: list[pa.Array] = []
    order: list[str] = []
    later: list[tuple[pl.Series, str]] = []
    for series, pg_type in zip(frame.iter_columns(), pg_types, strict=True):
        if series.has_nulls() or (pg_type in _TEXTS and series.dtype == pl.String):
            later.append((series, pg_type))
            continue
        values = _fixed(series, pg_type)
        if values is None:
            return None
        block += [_words(np.full(n, values.shape[1], dtype=">i4")), values]
        order.append(series.name)
    for series, pg_type in later:
        order.append(series.name)
        valid = series.is_not_null()
        if pg_type in _TEXTS and series.dtype == pl.String:
            texts = series
            if pg_type == "jsonb":  # jsonb's binary format: a version byte, then the text
                prefixed = texts.to_frame().select(pl.concat_str(pl.lit("\x01"), pl.first()))
                texts = prefixed.to_series()  # NULL stays NULL
            texts = texts.fill_null("")
            sizes = texts.str.len_bytes().cast(pl.Int32)
            words = pl.select(pl.when(valid).then(sizes).otherwise(-1)).to_series()
            block.append(_words(words.to_numpy().astype(">i4")))
            pieces.append(_rows(np.hstack(block)))
            block = []
            pieces.append(texts.cast(pl.Binary).rechunk().to_arrow().cast(pa.large_binary()))
            continue
        values = _fixed(series, pg_type)
        if values is None:
            return None
        if block:
            pieces.append(_rows(np.hstack(block)))
            block = []
        field = np.hstack([_words(np.full(n, values.shape[1], dtype=">i4")), values])
        null = pa.scalar(np.array([-1], ">i4").tobytes(), pa.large_binary())
        pieces.append(pc.if_else(pa.array(valid.to_numpy()), _rows(field), null))
    if block:
        pieces.append(_rows(np.hstack(block)))
    if len(pieces) == 1:
        joined = pieces[0]
    else:
        joined = pc.binary_join_element_wise(*pieces, pa.scalar(b"", pa.large_binary()))
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int64, count=n + 1)
    data = memoryview(joined.buffers()[2])[offsets[0] : offsets[n]]
    return Body(order, [SIGNATURE, data, TRAILER])


def _words(words: np.ndarray) -> np.ndarray:
    """Big-endian words, one per row, as a (rows, word size) byte matrix."""
    return np.ascontiguousarray(words).view(np.uint8).reshape(len(words), -1)


def _rows(matrix: np.ndarray) -> pa.Array:
    """The lines of a (rows, width) byte matrix as a binary array, one value per row."""
    rows, width = matrix.shape
    contiguous = np.ascontiguousarray(matrix)
    fixed = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(width), rows, [None, pa.py_buffer(contiguous)]
    )
    return fixed.cast(pa.large_binary())
