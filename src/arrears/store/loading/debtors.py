"""Loading debtors: upsert the debtor, its contact points and their consent per channel.

New debtors are written with ``COPY``/``executemany`` (ids reserved first so their contact points
go in the same pass). A debtor whose ``row_hash`` is unchanged is left alone; a changed one is
updated with one ``UPDATE ... FROM`` and a ``debtor.updated`` activity listing the changed fields,
its contact points' (``email``, ``phone``, ``address``) and consents' (``consent_<channel>``)
included, and the debtor's refusals the file could not lift (``consent_kept``: channel -> source).
Contact points: email -> consent for email; phone -> sms, whatsapp, call; postal -> letter.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import polars as pl
from sqlalchemy import Connection

from arrears.domain.activity import DebtorUpdated
from arrears.domain.columns import ATTRIBUTE_PREFIX
from arrears.domain.problems import Problem
from arrears.store import bulk
from arrears.store.activity_log import Entry, record
from arrears.store.loading import contact_points, lookups, records
from arrears.store.loading.context import LoadContext, LoadResult
from arrears.store.schema import debtor

#: The debtor's own columns (table column = typed field), compared to log changes.
FIELDS = (
    "name",
    "kind",
    "country",
    "region",
    "timezone",
    "language",
    "currency",
    "credit_limit_minor",
    "credit_status",
    "do_not_contact",
    "bankrupt",
    "deceased",
    "legal_representative",
    "tags",
    "attributes",
)


def _hash_fields(frame: pl.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in {"source", "row", "portfolio", "portfolio_id"}]


def _per_distinct(
    frame: pl.DataFrame, columns: list[str], encode: Callable[[tuple[Any, ...]], str]
) -> pl.Series:
    """``encode`` of each row's ``columns``, called once per distinct combination (a file's
    tags, segments and attributes repeat: a million rows hold a few hundred combinations)."""
    values = frame.select(columns)
    distinct = values.unique(maintain_order=True)
    encoded = pl.Series("__encoded", [encode(row) for row in distinct.iter_rows()], pl.String)
    return values.join(
        distinct.with_columns(encoded), on=columns, how="left", nulls_equal=True,
        maintain_order="left",
    )["__encoded"]  # fmt: skip


def _attributes(frame: pl.DataFrame) -> pl.Series:
    extra = [c for c in frame.columns if c.startswith(ATTRIBUTE_PREFIX)]

    def encode(row: tuple[Any, ...]) -> str:
        attrs = json.loads(row[0]) if row[0] else {}
        if row[1] is not None:
            attrs["segment"] = row[1]
        for name, value in zip(extra, row[2:], strict=True):
            if value is not None:
                attrs[name.removeprefix(ATTRIBUTE_PREFIX)] = value
        return json.dumps(attrs, sort_keys=True, ensure_ascii=False)

    return _per_distinct(frame, ["attributes", "segment", *extra], encode).alias("attributes")


def _tags(frame: pl.DataFrame) -> pl.Series:
    return _per_distinct(
        frame, ["tags"], lambda row: json.dumps(row[0] or [], ensure_ascii=False)
    ).alias("tags")


def _values(rows: pl.DataFrame, ctx: LoadContext) -> pl.DataFrame:
    """The debtor table's columns for these typed rows (defaults filled)."""
    return rows.select(
        "portfolio_id",
        pl.col("debtor_id").alias("external_id"),
        "name",
        pl.col("kind").fill_null("company"),
        pl.col("country").fill_null(ctx.country),
        "region",
        pl.col("timezone").fill_null(ctx.timezone),
        pl.col("language").fill_null("en"),
        pl.col("currency").fill_null(ctx.currency),
        "credit_limit_minor",
        pl.col("credit_status").fill_null("active"),
        *(pl.col(f).fill_null(False) for f in FIELDS[9:13]),
        _tags(rows),
        _attributes(rows),
        "row_hash",
    )


def load(conn: Connection, rows: pl.DataFrame, ctx: LoadContext) -> LoadResult:
    rows, problems = lookups.with_portfolio_ids(conn, rows, ctx.portfolio)
    rows, dupes = _without_duplicates(rows)
    rows = rows.with_columns(records.row_hashes(rows, _hash_fields(rows)))
    existing = lookups.lookup(
        conn,
        debtor,
        rows.select("portfolio_id", pl.col("debtor_id").alias("external_id")),
        {"id": pl.Int64, "row_hash": pl.String},
    ).rename({"external_id": "debtor_id", "row_hash": "old_hash"})
    rows = rows.join(existing, on=["portfolio_id", "debtor_id"], how="left")
    new = rows.filter(pl.col("id").is_null())
    changed = rows.filter(pl.col("id").is_not_null() & (pl.col("row_hash") != pl.col("old_hash")))
    _create(conn, new, ctx)
    _update(conn, changed, ctx)
    return LoadResult(
        created=new.height,
        updated=changed.height,
        unchanged=rows.height - new.height - changed.height,
        problems=problems + dupes,
    )


def _without_duplicates(rows: pl.DataFrame) -> tuple[pl.DataFrame, list[Problem]]:
    first = pl.col("row") == pl.col("row").min().over("portfolio_id", "debtor_id")
    dupes = rows.filter(~first)
    problems = lookups.problems_at(
        dupes, "debtor_id", pl.format("duplicate debtor '{}' in the file", "debtor_id")
    )
    return rows.filter(first), problems


def _create(conn: Connection, new: pl.DataFrame, ctx: LoadContext) -> None:
    if new.height == 0:
        return
    ids = bulk.reserve_ids(conn, debtor, new.height)
    new = new.with_columns(ids.alias("id"))
    values = _values(new, ctx).with_columns(
        ids,
        import_batch_id=pl.lit(ctx.batch_id, pl.Int64),
        created_at=pl.lit(ctx.at),
        updated_at=pl.lit(ctx.at),
    )
    # the portfolio was resolved and locked; the import batch is this transaction's
    bulk.insert_frame(conn, debtor, values, references_checked=True)
    contact_points.insert_new(conn, new, ctx)


def _update(conn: Connection, changed: pl.DataFrame, ctx: LoadContext) -> None:
    if changed.height == 0:
        return
    ids = changed["id"]
    values = _values(changed, ctx).with_columns(ids, updated_at=pl.lit(ctx.at))
    before = _current(conn, ids)
    bulk.update_from_frame(conn, debtor, values.drop("portfolio_id", "external_id"))
    contacts = contact_points.upsert(conn, changed, ctx)
    after = values.select("id", "external_id", *FIELDS)
    portfolio_of = dict(
        zip(changed["id"].to_list(), changed["portfolio_id"].to_list(), strict=True)
    )
    entries = []
    for new_row in after.to_dicts():
        old_row = before.get(new_row["id"], {})
        diff = records.changes(_decoded(old_row), _decoded(new_row))
        diff.update(contacts.changes.get(int(new_row["id"]), {}))
        kept = contacts.kept.get(int(new_row["id"]))
        entries.append(
            Entry(
                DebtorUpdated(
                    occurred_at=ctx.at,
                    actor=ctx.actor,
                    portfolio=ctx.portfolio,
                    debtor=new_row["external_id"],
                    subject_kind="debtor",
                    subject_id=new_row["external_id"],
                    payload={
                        "changes": diff,
                        "import_batch_id": ctx.batch_id,
                        **({"consent_kept": kept} if kept else {}),
                    },
                ),
                portfolio_of[new_row["id"]],
                int(new_row["id"]),
            )
        )
    record(conn, entries)


def _decoded(row: dict[str, object]) -> dict[str, object]:
    out = {k: v for k, v in row.items() if k in FIELDS}
    for key in ("tags", "attributes"):
        if isinstance(out.get(key), str):
            out[key] = json.loads(str(out[key]))
    for key in FIELDS[9:13]:
        if out.get(key) is not None:
            out[key] = bool(out[key])
    return out


def _current(conn: Connection, ids: pl.Series) -> dict[int, dict[str, object]]:
    staged = bulk.stage(conn, "_debtor_ids", pl.DataFrame({"id": ids}))
    columns = ", ".join(f"d.{f}" for f in FIELDS)
    rows = conn.exec_driver_sql(
        f'SELECT d.id, {columns} FROM debtor d JOIN "{staged}" s ON s.id = d.id'
    ).all()
    bulk.drop(conn, staged)
    return {int(r[0]): dict(zip(FIELDS, r[1:], strict=True)) for r in rows}
