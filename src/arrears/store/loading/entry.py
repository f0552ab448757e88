"""Loading validated import batches into the store: the entry point of the loader.

The importer (``arrears.io.importer``) opens ONE transaction for a whole import, calls
``open_batch`` once per file, ``load_frame`` for every validated batch of typed rows, and
``close_batch`` at the end; it commits or rolls back. Everything here runs on that connection.

Traceability: a new record carries ``import_batch_id``; the batch itself is one ``import_batch``
row plus one ``import.applied`` activity (file, sha256, counts) written by ``close_batch``. So a
creation is traced by its batch id and that record, while every *update* of an existing record
gets its own ``<kind>.updated`` activity with the changed fields (before/after).

The kinds are loaded by ``load_debtors``, ``load_invoices`` and ``load_payments`` (payments and
credit notes); see ``docs/store.md`` for the data flow.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import Connection, insert, update

from arrears.domain.activity import ImportApplied
from arrears.domain.columns import Kind
from arrears.store import bulk
from arrears.store.activity_log import Entry, record
from arrears.store.ledger.balances import conflicts
from arrears.store.loading import debtors as load_debtors
from arrears.store.loading import invoices as load_invoices
from arrears.store.loading import payments as load_payments
from arrears.store.loading.context import LoadContext, LoadResult, typed
from arrears.store.schema import import_batch

__all__ = ["LoadContext", "LoadResult", "close_batch", "load_frame", "open_batch"]

#: How a load stopped by a concurrent writer is reported (``balances.conflicts``).
IMPORT, AGAIN = "the import", "import the file again"


def open_batch(
    conn: Connection, kind: Kind, *, file_name: str, file_sha256: str, actor: str, at: datetime
) -> int:
    """The ``import_batch`` row of one file (counts filled in by ``close_batch``)."""
    values = {"rows": 0, "created": 0, "updated": 0, "unchanged": 0, "rejected": 0}
    new_id = conn.execute(
        insert(import_batch).values(
            kind=str(kind),
            file_name=file_name,
            file_sha256=file_sha256,
            actor=actor,
            imported_at=at,
            **values,
        )
    ).inserted_primary_key
    assert new_id is not None
    return int(new_id[0])


def close_batch(
    conn: Connection,
    ctx: LoadContext,
    kind: Kind,
    *,
    file_name: str,
    file_sha256: str,
    counts: dict[str, int],
    portfolio_id: int | None,
) -> None:
    """Store the batch's counts and write its ``import.applied`` activity."""
    conn.execute(update(import_batch).where(import_batch.c.id == ctx.batch_id).values(**counts))
    payload: dict[str, Any] = {
        "kind": str(kind),
        "file": file_name,
        "sha256": file_sha256,
        "import_batch_id": ctx.batch_id,
        **counts,
    }
    activity = ImportApplied(
        occurred_at=ctx.at,
        actor=ctx.actor,
        portfolio=ctx.portfolio,
        debtor=None,
        subject_kind="import_batch",
        subject_id=str(ctx.batch_id),
        payload=payload,
    )
    record(conn, [Entry(activity, portfolio_id)])


#: SQLite's page cache for an import's connection, in KiB (``PRAGMA cache_size`` = -KiB).
SQLITE_CACHE_KIB = 512 * 1024
#: How much of the SQLite file an import reads through a memory map (``PRAGMA mmap_size``).
SQLITE_MMAP_BYTES = 8 * 2**30


def _large_cache(conn: Connection) -> None:
    """Give an import's SQLite connection a cache in proportion to a large load.

    SQLite's default page cache is 2 MiB. A first load of a million debtors writes a 3 GB file in
    one transaction: every look-up of a batch's keys and every index insert went to the
    operating system for a page (a ``pread`` each, most of the import's system time), and the
    cache spilled dirty pages into the WAL again and again. Both settings are of this
    connection only, and memory is taken as pages are used; they change no guarantee (the
    transaction and its journal are the same)."""
    if bulk.is_postgres(conn) or conn.info.get("arrears.large_cache"):
        return
    conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    conn.exec_driver_sql(f"PRAGMA mmap_size = {SQLITE_MMAP_BYTES}")
    conn.info["arrears.large_cache"] = True


def load_frame(conn: Connection, kind: Kind, frame: pl.DataFrame, ctx: LoadContext) -> LoadResult:
    """Load one validated batch of ``kind``; store-level problems come back, rows with them are
    not written."""
    rows = typed(kind, frame)
    if rows.height == 0:
        return LoadResult()
    _large_cache(conn)
    with conflicts(IMPORT, AGAIN):
        if kind is Kind.DEBTORS:
            return load_debtors.load(conn, rows, ctx)
        if kind is Kind.INVOICES:
            return load_invoices.load(conn, rows, ctx)
        return load_payments.load(conn, rows, ctx, load_payments.SPECS[kind])
