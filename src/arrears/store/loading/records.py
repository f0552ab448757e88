"""Idempotency of imports: a ``row_hash`` per record and the field-level changes of an update.

``row_hash`` is the SHA-256 of the record's normalized typed row: every field except ``source``
and ``row`` (where the record was in the file does not change what it says), rendered as text
in a fixed column order, nulls as ``\\x00``, lists joined by ``;``, joined by ``\\x1f``. A record
made of several rows (an invoice's instalments, a payment's allocations) hashes its rows sorted
by their own key, so the order of rows in the file does not matter either.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import polars as pl

_SEP = "\x1f"
_NULL = "\x00"


def _as_text(name: str, dtype: pl.DataType) -> pl.Expr:
    col = pl.col(name)
    if isinstance(dtype, pl.List):
        col = col.list.join(";")
    elif dtype == pl.Date:
        col = col.dt.strftime("%Y-%m-%d")
    else:
        col = col.cast(pl.String)
    return col.fill_null(_NULL)


def normalized(frame: pl.DataFrame, fields: Sequence[str]) -> pl.Series:
    """Each row's fields as one text (the input of the hash)."""
    schema = frame.schema
    return frame.select(
        pl.concat_str([_as_text(f, schema[f]) for f in fields], separator=_SEP).alias("n")
    ).to_series()


def sha256_texts(texts: pl.Series) -> pl.Series:
    """Hex SHA-256 of each text's UTF-8 bytes (Polars hands out the bytes without re-encoding)."""
    sha256 = hashlib.sha256
    digest = [sha256(b).hexdigest() for b in texts.cast(pl.Binary).to_list()]
    return pl.Series("row_hash", digest, dtype=pl.String)


def row_hashes(frame: pl.DataFrame, fields: Sequence[str]) -> pl.Series:
    """SHA-256 of each row's normalized ``fields``."""
    return sha256_texts(normalized(frame, fields))


def group_hashes(
    frame: pl.DataFrame, keys: Sequence[str], fields: Sequence[str], order: Sequence[str]
) -> pl.DataFrame:
    """One hash per group of rows (``keys``): the rows' normalized texts sorted by ``order``."""
    texts = frame.select(*keys, *order, normalized(frame, fields).alias("_n"))
    grouped = (
        texts.sort([*keys, *order], nulls_last=True)
        .group_by(keys, maintain_order=True)
        .agg(pl.col("_n").str.join("\x1e"))
    )
    return grouped.with_columns(sha256_texts(grouped["_n"])).drop("_n")


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The fields whose value differs, as ``{field: {"before": old, "after": new}}`` (JSON-able)."""
    out: dict[str, dict[str, Any]] = {}
    for name, new in after.items():
        old = before.get(name)
        if _plain(old) != _plain(new):
            out[name] = {"before": _plain(old), "after": _plain(new)}
    return out


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)
