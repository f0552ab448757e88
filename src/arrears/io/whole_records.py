"""Records whose rows fall into several batches of a file: held back, then loaded whole.

An invoice is one row per instalment and a payment may be one row per allocation line, and the
file is read in batches of ``batch_rows`` rows. The loader must see every record whole: it
decides new, unchanged or changed by the hash of *all* of a record's rows, and a changed record
is replaced. So the importer loads every batch as it comes, except the rows of records that still
have rows further on in the file; those are held back and loaded with the batch that brings the
record's last row (or at the end of the file). A record whose rows are in one batch (the usual
case, however far apart its rows are within that batch) is loaded with its batch as before.

1. :func:`multi_row_counts` makes a first pass over the file's id and portfolio cells and counts
   the rows of every record, keeping only records of several rows, each as a 64-bit hash of its
   key and a count (about 12 bytes a record; a hash collision only holds rows back longer). Files
   whose records cannot have several rows (debtors, credit notes, invoices without an
   ``instalment`` column, payments without ``invoice_id``) skip it.
2. :class:`HeldRows` counts every record's rows batch by batch. The typed rows held back, and
   their raw text for the rejects file, wait in temporary tables of the import's connection, so
   memory does not grow with them however the file is ordered.

Rows with problems count too (they are read, even if not loaded), so a record is complete when
all of its rows have been read.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from sqlalchemy import Connection

from arrears.domain.columns import ID_COLUMN, Kind
from arrears.domain.problems import ProblemsFound
from arrears.io.batches import ReadOptions, ValidatedBatch
from arrears.io.headers import match_headers
from arrears.io.identity import DOCUMENTS
from arrears.io.reading import BatchValidator
from arrears.io.sources import CsvSource, open_source
from arrears.store import bulk
from arrears.store.loading.context import typed

_SEED = 0xB47C4
_TYPED, _RAW, _DONE = "_held_rows", "_held_raw", "_held_done"
_COMPACT_ROWS = 2_000_000


def key_hashes(keys: pl.Series) -> pl.Series:
    """A 64-bit hash (as Int64, for the store) of each record key; null stays null."""
    hashed = keys.hash(seed=_SEED).reinterpret(signed=True)
    return pl.select(pl.when(keys.is_not_null()).then(hashed).alias("h")).to_series()


def multi_row_counts(path: Path, kind: Kind, options: ReadOptions) -> pl.DataFrame | None:
    """``h``, ``total``: the records of several rows in ``path``; ``None`` when the file cannot
    have any or cannot be read (``read_file`` reports why)."""
    document = DOCUMENTS[kind]
    if not document.line_columns:
        return None
    source = str(path)
    try:
        reader = open_source(path, options, source)
        headers = match_headers(reader.headers, kind, options.mapping, source)
        if not any(c in headers.columns for c in document.line_columns):
            return None
        validator = BatchValidator(kind, headers, options, source)
        counted = pl.DataFrame(schema={"h": pl.Int64, "total": pl.UInt32})
        parts: list[pl.DataFrame] = []
        size = max(options.batch_rows, 100_000)
        needed = {
            headers.columns[c] for c in ("portfolio", ID_COLUMN[kind]) if c in headers.columns
        }
        batches = (
            reader.batches(size, only=needed)
            if isinstance(reader, CsvSource)
            else reader.batches(size)
        )
        for raw, _ in batches:
            hashes = key_hashes(validator.record_keys(raw)).drop_nulls()
            parts.append(hashes.value_counts(name="total").cast({"total": pl.UInt32}))
            if sum(p.height for p in parts) > max(_COMPACT_ROWS, 2 * counted.height):
                counted, parts = _sum(counted, parts), []
    except ProblemsFound:
        return None
    return _sum(counted, parts).filter(pl.col("total") > 1)


def _sum(counted: pl.DataFrame, parts: list[pl.DataFrame]) -> pl.DataFrame:
    return pl.concat([counted, *parts]).group_by("h").agg(pl.col("total").sum())


class HeldRows:
    """Holds back, batch by batch, the rows of records that have rows further on in the file."""

    def __init__(self, conn: Connection, kind: Kind, totals: pl.DataFrame) -> None:
        self.conn = conn
        self.kind = kind
        self.totals = totals
        #: records partly read: ``h``, ``seen`` (rows read so far); their rows are held
        self.partial = pl.DataFrame(schema={"h": pl.Int64, "seen": pl.UInt32})
        self._raw_names: list[str] = []  # the raw columns besides ``row``, once rows are held
        self._tables = False

    @classmethod
    def for_file(
        cls, conn: Connection, path: Path, kind: Kind, options: ReadOptions
    ) -> HeldRows | None:
        totals = multi_row_counts(path, kind, options)
        return None if totals is None or totals.height == 0 else cls(conn, kind, totals)

    def take(self, batch: ValidatedBatch) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The typed rows to load with this batch (whole records only) and the raw rows of
        earlier batches among them (for the rejects file)."""
        assert batch.record_keys is not None
        keys = batch.raw.select("row", key_hashes(batch.record_keys))
        now = (
            keys.filter(pl.col("h").is_not_null())
            .group_by("h")
            .agg(pl.len().cast(pl.UInt32).alias("n"))
            .join(self.totals, on="h")
            .join(self.partial, on="h", how="left")
            .with_columns((pl.col("seen").fill_null(0) + pl.col("n")).alias("seen"))
        )
        rows = typed(self.kind, batch.valid)
        if now.height == 0:
            return rows, batch.raw.head(0)
        waiting = now.filter(pl.col("seen") < pl.col("total")).select("h", "seen")
        done = now.filter(pl.col("seen") >= pl.col("total")).join(self.partial, on="h", how="semi")
        self.partial = pl.concat(
            [self.partial.join(now, on="h", how="anti"), waiting.cast({"seen": pl.UInt32})]
        )
        rows = rows.join(keys, on="row", how="left")
        self._hold(rows.join(waiting, on="h", how="semi"), batch.raw, keys, waiting)
        rows = rows.join(waiting, on="h", how="anti").drop("h")
        if done.height == 0:
            return rows, batch.raw.head(0)
        earlier, raw = self._release(done.select("h"))
        return pl.concat([rows, earlier]).sort("row"), raw

    def rest(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Every row still held (the end of the file), then forget them."""
        if not self._tables:
            return typed(self.kind, pl.DataFrame()).clear(), pl.DataFrame(schema={"row": pl.Int64})
        rows, raw = self._release(None)
        bulk.drop(self.conn, _TYPED)
        bulk.drop(self.conn, _RAW)
        self._tables = False
        return rows.sort("row"), raw

    def _hold(
        self, rows: pl.DataFrame, raw: pl.DataFrame, keys: pl.DataFrame, waiting: pl.DataFrame
    ) -> None:
        if waiting.height == 0:
            return
        if not self._raw_names:
            self._raw_names = [c for c in raw.columns if c != "row"]
        texts = raw.join(keys, on="row").join(waiting.select("h"), on="h", how="semi")
        texts = texts.select(
            *(pl.col(c).cast(pl.String).alias(f"c{i}") for i, c in enumerate(self._raw_names)),
            "row",
            "h",
        )
        if not self._tables:
            self._tables = True
            for name, frame in ((_TYPED, rows), (_RAW, texts)):
                bulk.stage(self.conn, name, frame)
                self.conn.exec_driver_sql(f'CREATE INDEX "{name}_h" ON "{name}" (h)')
            return
        bulk.insert_frame(self.conn, _TYPED, rows)
        bulk.insert_frame(self.conn, _RAW, texts)

    def _release(self, done: pl.DataFrame | None) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The held rows of the ``done`` records (all when ``None``), deleted from the tables."""
        schema = typed(self.kind, pl.DataFrame()).clear().schema
        raw_schema: dict[str, type[pl.DataType]] = dict.fromkeys(
            (f"c{i}" for i in range(len(self._raw_names))), pl.String
        )
        raw_schema["row"] = pl.Int64
        if done is not None:
            bulk.stage(self.conn, _DONE, done)
        where = "" if done is None else f' WHERE h IN (SELECT h FROM "{_DONE}")'
        out = []
        for name, columns in ((_TYPED, schema), (_RAW, raw_schema)):
            selected = ", ".join(f'"{c}"' for c in columns)
            sql = f'SELECT {selected} FROM "{name}"{where}'
            out.append(bulk.read_frame(self.conn, sql, columns))
            self.conn.exec_driver_sql(f'DELETE FROM "{name}"{where}')
        if done is not None:
            bulk.drop(self.conn, _DONE)
        raw = out[1].rename(dict(zip(raw_schema, [*self._raw_names, "row"], strict=True)))
        return out[0], raw
