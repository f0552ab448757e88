"""Loading invoices: one typed row per instalment; an invoice is the rows sharing its id.

New invoices and their instalments are written in bulk (``open_minor = amount_minor``). The
``row_hash`` of an invoice covers all its instalment rows (sorted by instalment number), so an
unchanged invoice is skipped. A changed invoice is checked against what is already allocated to
it (``invoice_changes``), then updated with its instalments, its status recomputed, and an
``invoice.updated`` activity written with the changed fields.

Every invoice of a frame must come with all its instalment rows: the importer holds back the rows
of an invoice that still has rows further on in the file (``arrears.io.whole_records``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import polars as pl
from sqlalchemy import Connection, Table, exists, select
from sqlalchemy.exc import DBAPIError

from arrears.domain.problems import Problem
from arrears.store import bulk, totals
from arrears.store.ledger import balances
from arrears.store.loading import invoice_changes, lookups, records
from arrears.store.loading.context import LoadContext, LoadResult
from arrears.store.schema import debtor, instalment, invoice

KEY = ["portfolio_id", "invoice_id"]
#: Fields that must be the same on every instalment row of one invoice.
HEADER = ("debtor_id", "issue_date", "currency", "number", "disputed", "reference")


def _prepare(
    conn: Connection, rows: pl.DataFrame, ctx: LoadContext
) -> tuple[pl.DataFrame, list[Problem]]:
    """References resolved and locked (the connection's part), then the header checks."""
    rows, problems = _resolve(conn, rows, ctx)
    rows, inconsistent = _consistent(rows)
    return rows, problems + inconsistent


def _resolve(
    conn: Connection, rows: pl.DataFrame, ctx: LoadContext
) -> tuple[pl.DataFrame, list[Problem]]:
    rows, problems = lookups.with_portfolio_ids(conn, rows, ctx.portfolio)
    rows, unknown = lookups.with_debtor_ids(conn, rows, debtor)
    rows = rows.with_columns(
        pl.col("currency").fill_null(pl.col("debtor_currency")),
        pl.col("number").fill_null(pl.col("invoice_id")),
        pl.col("instalment").fill_null(1).alias("seq"),
        pl.col("disputed").fill_null(False),
    )
    return rows, problems + unknown


def _consistent(rows: pl.DataFrame) -> tuple[pl.DataFrame, list[Problem]]:
    """Drop invoices whose rows disagree on a header field or repeat an instalment number."""
    counts = rows.group_by(KEY).agg(
        *(pl.col(name).n_unique().alias(name) for name in HEADER),
        (pl.len() - pl.col("seq").n_unique()).alias("_repeats"),
    )
    bad_keys = counts.filter(
        pl.any_horizontal(*(pl.col(name) > 1 for name in HEADER), pl.col("_repeats") > 0)
    )
    if bad_keys.height == 0:
        return rows, []
    bad = rows.join(bad_keys, on=KEY, suffix="_n")
    problems: list[Problem] = []
    for name in HEADER:
        problems += lookups.problems_at(
            bad.filter(pl.col(f"{name}_n") > 1),
            name,
            pl.format("the rows of invoice '{}' disagree on " + name, "invoice_id"),
        )
    problems += lookups.problems_at(
        bad.filter(pl.col("_repeats") > 0),
        "instalment",
        pl.format("invoice '{}' repeats an instalment number", "invoice_id"),
    )
    return rows.join(bad_keys, on=KEY, how="anti"), problems


def load(conn: Connection, rows: pl.DataFrame, ctx: LoadContext) -> LoadResult:
    staged = InvoiceLoad(conn, rows, ctx)
    staged.compute()
    return staged.write(conn)


class InvoiceLoad:
    """One batch's load in three steps, so that an importer may overlap them across batches:

    1. the constructor does the connection's part before the writes: references resolved and
       locked, the stored invoices looked up, ids reserved for the invoices that may be new;
    2. ``compute`` uses no connection: header checks, hashes, new/changed/unchanged, the rows
       of both tables and (PostgreSQL) their ``COPY`` bodies;
    3. ``write`` changes the changed invoices and runs the ``COPY``s, and returns the result.

    The steps run in this order for a batch; between a batch's ``write`` and the next batch's
    constructor the connection must not be used by anyone else. ``write`` issues no statement
    of its own through SQLAlchemy when there is no changed invoice (the usual first import),
    so an importer may run it on another thread while it computes the next batch."""

    def __init__(self, conn: Connection, rows: pl.DataFrame, ctx: LoadContext) -> None:
        self.ctx = ctx
        self.rows, self.problems = _resolve(conn, rows, ctx)
        self.existing = _existing(conn, self.rows, ctx)
        pids = self.rows.get_column("portfolio_id").unique().to_list()
        empty = [pid for pid, had in ctx.invoices_before.items() if not had]
        totals.read_stored(conn, ctx.totals, "invoice", pids, empty=empty)
        keys = self.rows.select(KEY).unique()
        self.ids = bulk.reserve_ids(conn, invoice, keys.height - self.existing.height)
        self.postgres = bulk.is_postgres(conn)
        self.targets = (
            (
                bulk.copy_target(conn, invoice, references_checked=True),
                bulk.copy_target(conn, instalment, references_checked=True),
            )
            if self.postgres
            else None
        )
        self.result = LoadResult(problems=self.problems)
        self.new = self.changed = pl.DataFrame()
        self.tables: list[tuple[Table, pl.DataFrame]] = []
        self.bodies: list[bulk.EncodedCopy] = []

    def compute(self) -> None:
        rows, inconsistent = _consistent(self.rows)
        self.rows = rows
        fields = [
            c
            for c in rows.columns
            if c not in {"source", "row", "portfolio", "debtor_pk", "debtor_currency", "seq"}
        ]
        hashes = _hashes(rows, fields)
        heads = (
            rows.group_by(KEY, maintain_order=True)
            .agg(
                pl.col("debtor_pk", "debtor_id", "issue_date", "currency", "number").first(),
                pl.col("disputed", "reference", "source", "row").first(),
                pl.col("amount_minor").sum(),
            )
            .join(hashes, on=KEY)
            .join(self.existing, on=KEY, how="left")
        )
        todo, too_large = totals.within_bound(
            self.ctx.totals,
            "invoice",
            heads.filter(pl.col("id").is_null() | (pl.col("row_hash") != pl.col("old_hash"))),
            "invoice",
            "invoice_id",
        )
        new = todo.filter(pl.col("id").is_null())
        self.changed = todo.filter(pl.col("id").is_not_null())
        self.result = LoadResult(
            created=new.height,
            unchanged=heads.filter(pl.col("row_hash") == pl.col("old_hash")).height,
            problems=self.problems + inconsistent + too_large,
        )
        if new.height == 0:
            return
        new = new.with_columns(self.ids.head(new.height))
        ctx = self.ctx
        invoices = invoice_values(new).with_columns(
            status=pl.lit("open"),
            import_batch_id=pl.lit(ctx.batch_id, pl.Int64),
            created_at=pl.lit(ctx.at),
            updated_at=pl.lit(ctx.at),
        )
        # portfolio and debtor resolved and locked by _resolve; the invoices are new in this
        # transaction: references_checked (bulk.insert_frame)
        self.tables = [(invoice, invoices), (instalment, instalment_values(new, rows))]
        if self.targets is not None:
            self.bodies = [
                target.encode(frame)
                for target, (_, frame) in zip(self.targets, self.tables, strict=True)
            ]

    def write(self, conn: Connection) -> LoadResult:
        with balances.conflicts("the import", "import the file again"):
            return self._write(conn)

    def _write(self, conn: Connection) -> LoadResult:
        if self.changed.height:
            updated, change_problems = invoice_changes.apply(
                conn,
                self.changed,
                invoice_values(self.changed),
                instalment_values(self.changed, self.rows),
                self.ctx,
            )
            self.result.updated = updated
            self.result.problems += change_problems
        if self.bodies:
            for body in self.bodies:
                body.write(conn)
        else:
            for table, frame in self.tables:
                bulk.insert_frame(conn, table, frame, references_checked=True)
        return self.result


def _existing(conn: Connection, rows: pl.DataFrame, ctx: LoadContext) -> pl.DataFrame:
    """The stored invoices of ``rows`` (``KEY``, ``id``, ``old_hash``, ``old_amount``,
    ``old_currency``).

    A portfolio that held no invoice when this file's first invoices of it were loaded has none
    but those of this file, and the file brings each invoice once: its look-up is skipped (on
    a first import of a large file it staged every key in a temporary table for nothing)."""
    columns = {
        "id": pl.Int64,
        "row_hash": pl.String,
        "amount_minor": pl.Int64,
        "currency": pl.String,
    }
    known = ctx.invoices_before
    for pid in rows.get_column("portfolio_id").unique().to_list():
        if pid not in known:
            query = select(exists().where(invoice.c.portfolio_id == pid))
            known[pid] = bool(conn.execute(query).scalar())
    had_invoices = [pid for pid, had in known.items() if had]
    stored = rows.filter(pl.col("portfolio_id").is_in(had_invoices))
    found = lookups.lookup(
        conn,
        invoice,
        stored.select("portfolio_id", pl.col("invoice_id").alias("external_id")),
        columns,
    )
    return found.rename(
        {
            "external_id": "invoice_id",
            "row_hash": "old_hash",
            "amount_minor": "old_amount",
            "currency": "old_currency",
        }
    )


def _hashes(rows: pl.DataFrame, fields: list[str]) -> pl.DataFrame:
    """``records.group_hashes`` of the invoices (``KEY``, ``row_hash``), its sort and grouping
    spent only on the invoices with several instalments: the hash of a one-row group is that
    row's hash (the group's text is the row's text), and most invoices have one instalment."""
    single = pl.len().over(KEY) == 1
    singles = rows.filter(single)
    hashed = singles.select(*KEY, records.row_hashes(singles, fields))
    if singles.height == rows.height:
        return hashed
    grouped = records.group_hashes(rows.filter(~single), KEY, fields, ["seq"])
    return pl.concat([hashed, grouped.select(hashed.columns)])


def invoice_values(heads: pl.DataFrame) -> pl.DataFrame:
    """The invoice table's columns for these invoice heads (with ``id``)."""
    return heads.select(
        "id",
        "portfolio_id",
        pl.col("debtor_pk").alias("debtor_id"),
        pl.col("invoice_id").alias("external_id"),
        "number",
        "issue_date",
        "currency",
        "amount_minor",
        "disputed",
        "reference",
        "row_hash",
    )


def instalment_values(heads: pl.DataFrame, rows: pl.DataFrame) -> pl.DataFrame:
    """The instalment table's columns for the rows of these invoices (``open_minor`` = amount)."""
    return rows.join(heads.select(*KEY, pl.col("id").alias("invoice_pk")), on=KEY).select(
        pl.col("invoice_pk").alias("invoice_id"),
        "seq",
        "portfolio_id",
        pl.col("debtor_pk").alias("debtor_id"),
        "currency",
        "issue_date",  # the invoice's, repeated (schema.instalment)
        "disputed",
        "due_date",
        "amount_minor",
        pl.col("amount_minor").alias("open_minor"),
    )


#: A first load whose first batch has at least this many rows, into empty invoice and instalment
#: tables, builds their secondary indexes once at its end (``defer_indexes``).
DEFER_INDEXES_ROWS = 100_000
_TABLES = ("invoice", "instalment")


def defer_indexes(conn: Connection) -> Callable[[], None] | None:
    """PostgreSQL, a large first load: drop the secondary indexes and unique constraints of the
    empty ``invoice`` and ``instalment`` tables (not their primary keys, which the foreign keys
    need) and return the function that builds them again, as they were, once the rows are in:
    one sorted build instead of an index insert per row (measured on 324k invoices, server
    alone: the two ``COPY``s 1.9 -> 1.1 s, the builds 0.4 s).

    All in the import's transaction (a rollback brings them back untouched; a duplicate key
    still fails the import, when its unique index is built). The tables stay locked ``ACCESS
    EXCLUSIVE`` until the import ends, so it is done only when the lock is free at once
    (``NOWAIT``) and both tables are empty: nobody has anything to read there yet."""
    if not bulk.is_postgres(conn) or _any_rows(conn):
        return None
    try:
        with conn.begin_nested():
            conn.exec_driver_sql("LOCK TABLE invoice, instalment IN ACCESS EXCLUSIVE MODE NOWAIT")
    except DBAPIError:
        return None
    if _any_rows(conn):  # filled between the look and the lock: keep the indexes
        return None
    tables = ", ".join(f"'{t}'::regclass" for t in _TABLES)
    constraints = [
        (str(r[0]), str(r[1]), str(r[2]))
        for r in conn.exec_driver_sql(
            "SELECT conrelid::regclass::text, quote_ident(conname), pg_get_constraintdef(oid) "
            f"FROM pg_constraint WHERE conrelid IN ({tables}) AND contype = 'u' ORDER BY conname"
        )
    ]
    indexes = [
        (str(r[0]), str(r[1]))
        for r in conn.exec_driver_sql(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index i "
            f"WHERE indrelid IN ({tables}) AND NOT indisprimary AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) ORDER BY 1"
        )
    ]
    for table, name, _ in constraints:
        conn.exec_driver_sql(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    for name, _ in indexes:
        conn.exec_driver_sql(f"DROP INDEX {name}")
    return functools.partial(build_indexes, conn, constraints, indexes)


def build_indexes(
    conn: Connection,
    constraints: Sequence[tuple[str, str, str]],
    indexes: Sequence[tuple[str, str]],
) -> None:
    """Build what ``defer_indexes`` dropped, from the definitions it read (PostgreSQL may use
    its parallel workers: ``max_parallel_maintenance_workers``, 1.08M invoices on the busy
    2-core machine: 2.30-2.62 s alone -> 1.92-2.28 s with them, for 0.1-0.3 s more CPU)."""
    conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
    for table, name, definition in constraints:
        conn.exec_driver_sql(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
    for _, definition in indexes:
        conn.exec_driver_sql(definition)


def _any_rows(conn: Connection) -> bool:
    return bool(
        conn.exec_driver_sql(
            "SELECT EXISTS (SELECT 1 FROM invoice) OR EXISTS (SELECT 1 FROM instalment)"
        ).scalar()
    )
