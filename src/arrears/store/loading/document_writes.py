"""Writing applied payments and credit notes: documents, allocations, balances, activities.

Order matters and is fixed: first the changed documents' old allocations are reversed (balances
restored), then documents are inserted (new, with ``import_batch_id``) or updated (changed, with
a ``<kind>.updated`` activity), then the new allocations are applied. A reversed payment the
file changes (``stays_reversed``) is updated and never applied. ``unallocated_minor`` is
the amount minus what was applied: the debtor's credit.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlalchemy import Connection

from arrears.domain.columns import Kind
from arrears.store import bulk
from arrears.store.activity_log import Entry, record
from arrears.store.ledger import allocation_writes
from arrears.store.loading import records
from arrears.store.loading.context import LoadContext
from arrears.store.loading.document_spec import DocumentSpec


def _values(docs: pl.DataFrame, pieces: pl.DataFrame, spec: DocumentSpec) -> pl.DataFrame:
    applied = pieces.group_by("source_id").agg(pl.col("amount_minor").sum().alias("_applied"))
    return docs.join(applied.rename({"source_id": "id"}), on="id", how="left").select(
        "id",
        "portfolio_id",
        pl.col("debtor_pk").alias("debtor_id"),
        "external_id",
        pl.col("date").alias(spec.date_column),
        "currency",
        "amount_minor",
        (pl.col("amount_minor") - pl.col("_applied").fill_null(0)).alias("unallocated_minor"),
        *(expr.alias(name) for name, expr in spec.extra),
        "row_hash",
    )


def write(
    conn: Connection, docs: pl.DataFrame, pieces: pl.DataFrame, ctx: LoadContext, spec: DocumentSpec
) -> None:
    """Write ``docs`` (heads with ``id`` and ``changed``) and apply ``pieces`` to instalments."""
    pieces = pieces.join(docs.select(pl.col("id").alias("source_id")), on="source_id")
    changed = docs.filter("changed")
    allocation_writes.reverse(conn, str(spec.source_kind), changed["id"], ctx.at.date())
    values = _values(docs, pieces, spec)
    new_ids = docs.filter(~pl.col("changed")).select("id")
    bulk.insert_frame(
        conn,
        spec.table,
        values.join(new_ids, on="id").with_columns(
            import_batch_id=pl.lit(ctx.batch_id, pl.Int64),
            created_at=pl.lit(ctx.at),
            updated_at=pl.lit(ctx.at),
        ),
        # portfolio and debtor resolved and locked; a credit note's invoice is not locked
        references_checked=spec.kind is Kind.PAYMENTS,
    )
    if changed.height:
        updates = values.join(changed.select("id"), on="id")
        before = _before(conn, changed["id"], list(updates.columns), spec)
        bulk.update_from_frame(
            conn,
            spec.table,
            updates.drop("portfolio_id", "external_id").with_columns(updated_at=pl.lit(ctx.at)),
        )
        _log(conn, updates, changed, before, ctx, spec)
    # instalments read FOR KEY SHARE by load_payments, debtors locked by the lookup
    allocation_writes.apply(conn, pieces, references_checked=True)


def _before(
    conn: Connection, ids: pl.Series, columns: list[str], spec: DocumentSpec
) -> dict[int, dict[str, Any]]:
    staged = bulk.stage(conn, "_doc_ids", pl.DataFrame({"id": ids}))
    selected = ", ".join(f't."{c}"' for c in columns)
    rows = conn.exec_driver_sql(
        f'SELECT {selected} FROM "{spec.table.name}" t JOIN "{staged}" s ON s.id = t.id'
    ).all()
    bulk.drop(conn, staged)
    return {int(r[0]): dict(zip(columns, r, strict=True)) for r in rows}


def _log(
    conn: Connection,
    updates: pl.DataFrame,
    changed: pl.DataFrame,
    before: dict[int, dict[str, Any]],
    ctx: LoadContext,
    spec: DocumentSpec,
) -> None:
    compared = [c for c in updates.columns if c not in {"id", "portfolio_id", "row_hash"}]
    debtor_of = dict(zip(changed["id"].to_list(), changed["debtor_id"].to_list(), strict=True))
    kept = set(
        changed.filter("stays_reversed")["id"].to_list()
        if "stays_reversed" in changed.columns
        else []
    )
    entries = []
    for new in updates.to_dicts():
        old = before.get(new["id"], {})
        diff = records.changes({c: old.get(c) for c in compared}, {c: new[c] for c in compared})
        activity = spec.updated(
            occurred_at=ctx.at,
            actor=ctx.actor,
            portfolio=ctx.portfolio,
            debtor=debtor_of.get(new["id"]),
            subject_kind=spec.subject,
            subject_id=new["external_id"],
            payload={
                "changes": diff,
                "import_batch_id": ctx.batch_id,
                "allocations": "none: the payment stays reversed"
                if new["id"] in kept
                else "reversed and applied again",
            },
        )
        entries.append(Entry(activity, int(new["portfolio_id"]), int(new["debtor_id"])))
    record(conn, entries)
