"""Resolving the external ids of a typed frame to store ids, set-based, with problems as data.

Every resolver takes a frame of rows (with ``source`` and ``row``) and returns it joined with
the ids it found, plus one :class:`Problem` per row whose reference is unknown.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl
from sqlalchemy import Connection, Table

from arrears.domain.problems import Problem
from arrears.store import bulk


def problems_at(frame: pl.DataFrame, column: str | None, message: str | pl.Expr) -> list[Problem]:
    """One problem per row of ``frame`` (``source``, ``row``), at ``column``."""
    if frame.height == 0:
        return []
    expr = pl.lit(message) if isinstance(message, str) else message
    rows = frame.select("source", "row", expr.alias("_m")).rows()
    return [Problem(str(s), None if r is None else int(r), column, str(m)) for s, r, m in rows]


def lookup(
    conn: Connection,
    table: Table,
    keys: pl.DataFrame,
    columns: Mapping[str, pl.DataType | type[pl.DataType]],
    *,
    lock: bool = False,
) -> pl.DataFrame:
    """The rows of ``table`` whose (``portfolio_id``, ``external_id``) are in ``keys``;
    ``lock`` keeps them from being deleted until the transaction ends (PostgreSQL)."""
    wanted = keys.select("portfolio_id", "external_id").unique()
    schema = {"portfolio_id": pl.Int64, "external_id": pl.String, **columns}
    if wanted.height == 0:
        return pl.DataFrame(schema=schema)
    staged = bulk.stage(conn, f"_keys_{table.name}", wanted)
    selected = ", ".join(f't."{c}"' for c in columns)
    found = bulk.read_frame(
        conn,
        f"SELECT t.portfolio_id, t.external_id, {selected} FROM {table.name} t "
        f'JOIN "{staged}" k ON k.portfolio_id = t.portfolio_id AND k.external_id = t.external_id'
        + (" FOR KEY SHARE OF t" if lock and bulk.is_postgres(conn) else ""),
        schema,
    )
    bulk.drop(conn, staged)
    return found


def with_portfolio_ids(
    conn: Connection, frame: pl.DataFrame, default: str
) -> tuple[pl.DataFrame, list[Problem]]:
    """Add ``portfolio_id`` (from the ``portfolio`` code, ``default`` when empty)."""
    lock = " FOR KEY SHARE" if bulk.is_postgres(conn) else ""
    known = bulk.read_frame(
        conn,
        "SELECT code, id FROM portfolio" + lock,
        {"portfolio": pl.String, "portfolio_id": pl.Int64},
    )
    coded = frame.with_columns(pl.col("portfolio").fill_null(default))
    joined = coded.join(known, on="portfolio", how="left")
    bad = joined.filter(pl.col("portfolio_id").is_null())
    problems = problems_at(
        bad,
        "portfolio",
        pl.format(
            "unknown portfolio '{}': create it with `arrears portfolio add {}`",
            "portfolio",
            "portfolio",
        ),
    )
    return joined.filter(pl.col("portfolio_id").is_not_null()), problems


def with_debtor_ids(
    conn: Connection, frame: pl.DataFrame, table: Table
) -> tuple[pl.DataFrame, list[Problem]]:
    """Add ``debtor_pk`` and ``debtor_currency`` from the ``debtor_id`` external ids."""
    keys = frame.select("portfolio_id", pl.col("debtor_id").alias("external_id"))
    found = lookup(conn, table, keys, {"id": pl.Int64, "currency": pl.String}, lock=True).rename(
        {"external_id": "debtor_id", "id": "debtor_pk", "currency": "debtor_currency"}
    )
    joined = frame.join(found, on=["portfolio_id", "debtor_id"], how="left")
    bad = joined.filter(pl.col("debtor_pk").is_null())
    problems = problems_at(
        bad, "debtor_id", pl.format("unknown debtor '{}': import it first", "debtor_id")
    )
    return joined.filter(pl.col("debtor_pk").is_not_null()), problems
