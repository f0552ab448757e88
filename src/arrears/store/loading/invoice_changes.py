"""Applying changed invoices from an import, without breaking what is already allocated.

Rules (each broken rule is a problem on the invoice's first row, and the invoice is not changed):
an invoice with active allocations keeps its debtor and currency; an instalment's new amount is
at least what is allocated to it; an instalment with allocations is not removed. Otherwise the
invoice and its instalments are updated, ``open_minor`` is recomputed as the new amount minus
the active allocations, the status follows, and one ``invoice.updated`` activity lists the
changed fields (before/after).
"""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlalchemy import Connection

from arrears.domain.activity import InvoiceUpdated
from arrears.domain.problems import Problem
from arrears.store import bulk
from arrears.store.activity_log import Entry, record
from arrears.store.ledger import allocation_writes
from arrears.store.loading import lookups, records
from arrears.store.loading.context import LoadContext
from arrears.store.schema import instalment, invoice

_HEAD = ("debtor_id", "number", "issue_date", "currency", "amount_minor", "disputed", "reference")


def apply(
    conn: Connection,
    heads: pl.DataFrame,
    values: pl.DataFrame,
    wanted: pl.DataFrame,
    ctx: LoadContext,
) -> tuple[int, list[Problem]]:
    """Update the changed invoices: ``heads`` (with ``id``), their invoice table ``values`` and
    their ``wanted`` instalment rows; returns (updated, problems)."""
    if heads.height == 0:
        return 0, []
    before = _before(conn, heads["id"])
    allocated = allocation_writes.allocated_per_instalment(conn, heads["id"])
    heads, problems = _check(heads, before, allocated, wanted)
    dated = _dispute_dates(heads, before, ctx)
    wanted = wanted.join(dated.rename({"id": "invoice_id"}), on="invoice_id")
    bulk.update_from_frame(
        conn,
        invoice,
        values.join(dated, on="id").with_columns(updated_at=pl.lit(ctx.at)),
    )
    _instalments(
        conn,
        wanted,
        allocated.join(heads.select(pl.col("id").alias("invoice_id")), on="invoice_id"),
    )
    allocation_writes.refresh_status(conn, heads["id"])
    _log(conn, heads, before, wanted, ctx)
    return heads.height, problems


def _dispute_dates(heads: pl.DataFrame, before: pl.DataFrame, ctx: LoadContext) -> pl.DataFrame:
    """Per invoice (``id``): its ``disputed_on`` after the change. A dispute the file raises
    now is dated the import's day; one that stays keeps its date (null: undated, since the
    invoice came in); a dispute the file lifts takes the date off."""
    joined = heads.select("id", "disputed").join(
        before.select("id", pl.col("disputed").alias("_was"), "disputed_on"), on="id"
    )
    return joined.select(
        "id",
        pl.when(pl.col("disputed") & ~pl.col("_was"))
        .then(pl.lit(ctx.at.date()))
        .when(pl.col("disputed"))
        .then(pl.col("disputed_on"))
        .otherwise(None)
        .cast(pl.Date())
        .alias("disputed_on"),
    )


def _check(
    heads: pl.DataFrame, before: pl.DataFrame, allocated: pl.DataFrame, wanted: pl.DataFrame
) -> tuple[pl.DataFrame, list[Problem]]:
    totals = allocated.group_by("invoice_id").agg(pl.col("allocated_minor").sum().alias("_alloc"))
    joined = heads.join(
        before.select(
            "id", pl.col("debtor_id").alias("_old_debtor"), pl.col("currency").alias("_old_cur")
        ),
        on="id",
    ).join(totals.rename({"invoice_id": "id"}), on="id", how="left")
    moved = joined.filter(
        (pl.col("_alloc").fill_null(0) > 0)
        & (
            (pl.col("debtor_pk") != pl.col("_old_debtor"))
            | (pl.col("currency") != pl.col("_old_cur"))
        )
    )
    problems = lookups.problems_at(
        moved,
        "debtor_id",
        pl.format(
            "invoice '{}' has allocations: its debtor and currency cannot change", "invoice_id"
        ),
    )
    per_seq = allocated.filter(pl.col("allocated_minor") > 0).join(
        wanted.select("invoice_id", "seq", pl.col("amount_minor").alias("_new")),
        on=["invoice_id", "seq"],
        how="left",
    )
    short = per_seq.filter(pl.col("_new").is_null() | (pl.col("_new") < pl.col("allocated_minor")))
    where = heads.select(
        pl.col("id").alias("invoice_id"), pl.col("invoice_id").alias("_ext"), "source", "row"
    )
    short = short.join(where, on="invoice_id")
    problems += lookups.problems_at(
        short,
        "amount",
        pl.format(
            "instalment {} of invoice '{}' has {} allocated: its new amount cannot be less "
            "and it cannot be removed",
            "seq",
            "_ext",
            "allocated_minor",
        ),
    )
    bad = pl.concat([moved.select("id"), short.select(pl.col("invoice_id").alias("id"))])
    return heads.join(bad, on="id", how="anti"), problems


def _instalments(conn: Connection, wanted: pl.DataFrame, allocated: pl.DataFrame) -> None:
    both = wanted.join(
        allocated.rename({"instalment_id": "id"}),
        on=["invoice_id", "seq"],
        how="full",
        coalesce=True,
    )
    kept = both.filter(pl.col("id").is_not_null() & pl.col("amount_minor").is_not_null())
    bulk.update_from_frame(
        conn,
        instalment,
        kept.select(
            "id",
            "portfolio_id",
            "debtor_id",
            "currency",
            "issue_date",
            "disputed",
            "disputed_on",
            "due_date",
            "amount_minor",
            (pl.col("amount_minor") - pl.col("allocated_minor")).alias("open_minor"),
        ),
    )
    bulk.insert_frame(conn, instalment, both.filter(pl.col("id").is_null()).select(wanted.columns))
    gone = both.filter(pl.col("amount_minor").is_null()).select("id")
    if gone.height:
        staged = bulk.stage(conn, "_gone_instalments", gone)
        conn.exec_driver_sql(f'DELETE FROM instalment WHERE id IN (SELECT id FROM "{staged}")')
        bulk.drop(conn, staged)


def _before(conn: Connection, ids: pl.Series) -> pl.DataFrame:
    staged = bulk.stage(conn, "_inv_ids", pl.DataFrame({"id": ids}))
    frame = bulk.read_frame(
        conn,
        "SELECT v.id, v.debtor_id, d.external_id, v.number, v.issue_date, v.currency, "
        "v.amount_minor, v.disputed, v.reference, v.disputed_on "
        f'FROM invoice v JOIN "{staged}" s ON s.id = v.id JOIN debtor d ON d.id = v.debtor_id',
        {
            "id": pl.Int64,
            "debtor_id": pl.Int64,
            "debtor": pl.String,
            "number": pl.String,
            "issue_date": pl.Date,
            "currency": pl.String,
            "amount_minor": pl.Int64,
            "disputed": pl.Boolean,
            "reference": pl.String,
            "disputed_on": pl.Date,
        },
    )
    lines = bulk.read_frame(
        conn,
        "SELECT i.invoice_id, i.seq, i.due_date, i.amount_minor FROM instalment i "
        f'JOIN "{staged}" s ON s.id = i.invoice_id',
        {"id": pl.Int64, "seq": pl.Int64, "due_date": pl.Date, "amount_minor": pl.Int64},
    )
    bulk.drop(conn, staged)
    return frame.join(_instalment_lists(lines), on="id", how="left")


def _instalment_lists(lines: pl.DataFrame) -> pl.DataFrame:
    return (
        lines.sort("id", "seq")
        .group_by("id", maintain_order=True)
        .agg(
            pl.concat_str(
                pl.col("seq").cast(pl.String),
                pl.col("due_date").cast(pl.String),
                pl.col("amount_minor").cast(pl.String),
                separator=" ",
            ).alias("instalments")
        )
    )


def _log(
    conn: Connection,
    heads: pl.DataFrame,
    before: pl.DataFrame,
    wanted: pl.DataFrame,
    ctx: LoadContext,
) -> None:
    after = heads.select(
        "id",
        "portfolio_id",
        "debtor_pk",
        "invoice_id",
        pl.col("debtor_id").alias("debtor"),
        *(c for c in _HEAD if c not in {"debtor_id"}),
    ).join(_instalment_lists(wanted.rename({"invoice_id": "id"})), on="id", how="left")
    old_by_id = {r["id"]: r for r in before.to_dicts()}
    fields = ["debtor", *(c for c in _HEAD if c != "debtor_id"), "instalments"]
    entries = []
    for new in after.to_dicts():
        old: dict[str, Any] = old_by_id.get(new["id"], {})
        diff = records.changes({f: old.get(f) for f in fields}, {f: new.get(f) for f in fields})
        activity = InvoiceUpdated(
            occurred_at=ctx.at,
            actor=ctx.actor,
            portfolio=ctx.portfolio,
            debtor=new["debtor"],
            subject_kind="invoice",
            subject_id=new["invoice_id"],
            payload={"changes": diff, "import_batch_id": ctx.batch_id},
        )
        entries.append(Entry(activity, int(new["portfolio_id"]), int(new["debtor_pk"])))
    record(conn, entries)
