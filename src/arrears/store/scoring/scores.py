"""The day's propensity scores (``debtor_score``, migrations 0014 and 0020): written by
``arrears run`` (every debtor it scored, without reasons) and ``arrears model score`` (with
reasons), read by whatever wants a debtor's score of a day without scoring again (the worklist,
the KPIs, the cash forecast, monitoring).

One row per (portfolio, day, debtor, currency, version): writing a day's scores of a version
replaces that day's rows of that version, so scoring a day twice keeps the last scores and
never adds rows; a day scored by two versions (a promotion during the day) keeps both, and
:func:`read_scores` gives each debtor's last. Written in bulk (one ``DELETE``, one ``COPY`` or
one multi-row insert). Rows older than :data:`RETENTION_DAYS` days before the day written are
deleted in the same transaction.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
from sqlalchemy import Connection, delete, func, select

from arrears.store.bulk import insert_frame, read_frame
from arrears.store.portfolios import portfolio_id
from arrears.store.schema import activity, debtor_score

#: Days a stored score is kept: a little over a year, so a day compares with the same day of
#: the previous year.
RETENTION_DAYS = 400

#: What :func:`write_scores` takes and :func:`read_scores` gives (besides ``debtor``, the
#: debtor's id as imported, which :func:`read_scores` adds).
SCORE_COLUMNS: dict[str, pl.DataType] = {
    "debtor_id": pl.Int64(),
    "currency": pl.String(),
    "score": pl.Float64(),
    "band": pl.String(),
    "expected_days_to_pay": pl.Float64(),
    "source": pl.String(),
    "reasons": pl.List(pl.String()),
}


def reasons_json(reasons: pl.Expr) -> pl.Expr:
    """A list of texts as its JSON array text, in columns (no Python call per row): polars
    encodes a struct of the list, whose field name is then cut off; a missing list is ``[]``."""
    wrapped = pl.struct(reasons.alias("r")).struct.json_encode()
    return wrapped.str.slice(5, wrapped.str.len_chars() - 6).replace("null", "[]")


def write_scores(
    conn: Connection,
    *,
    portfolio: str,
    as_of: date,
    scores: pl.DataFrame,
    at: datetime,
    version: str,
) -> int:
    """Store ``scores`` (:data:`SCORE_COLUMNS`) as ``portfolio``'s scores of ``as_of`` by
    ``version`` (``v3``, ``rules``), replacing that day's scores of that version; delete the
    scores older than the retention. Returns the rows written."""
    pid = portfolio_id(conn, portfolio)
    conn.execute(
        delete(debtor_score).where(
            (debtor_score.c.portfolio_id == pid)
            & (
                ((debtor_score.c.as_of == as_of) & (debtor_score.c.version == version))
                | (debtor_score.c.as_of < as_of - timedelta(days=RETENTION_DAYS))
            )
        )
    )
    frame = scores.select(
        pl.lit(pid, pl.Int64()).alias("portfolio_id"),
        pl.lit(as_of, pl.Date()).alias("as_of"),
        pl.col("debtor_id").cast(pl.Int64()),
        "currency",
        "score",
        "band",
        "expected_days_to_pay",
        "source",
        reasons_json(pl.col("reasons")).alias("reasons"),
        pl.lit(at, pl.Datetime("us", "UTC")).alias("scored_at"),
        pl.lit(version, pl.String()).alias("version"),
    )
    return insert_frame(conn, debtor_score, frame)


def read_scores(
    conn: Connection, *, portfolio: str, as_of: date, version: str | None = None
) -> pl.DataFrame:
    """``portfolio``'s stored scores of ``as_of`` (empty when that day was not scored), with
    ``debtor`` (the id as imported) and ``version``, by debtor and currency: of ``version``, or
    (``None``) each debtor's last stored that day (the latest ``scored_at``; the run's and
    ``model score``'s of one version are the same scores)."""
    pid = portfolio_id(conn, portfolio)
    only = "" if version is None else "AND s.version = :version "
    frame = read_frame(
        conn,
        "SELECT debtor_id, external_id, currency, score, band, expected_days_to_pay, source, "
        "reasons, version FROM (SELECT s.debtor_id, d.external_id, s.currency, "
        "s.score, s.band, s.expected_days_to_pay, s.source, s.reasons, s.version, s.scored_at, "
        "ROW_NUMBER() OVER (PARTITION BY s.debtor_id, s.currency "
        "ORDER BY s.scored_at DESC, s.version DESC) AS n FROM debtor_score s "
        "JOIN debtor d ON d.id = s.debtor_id "
        f"WHERE s.portfolio_id = :pid AND s.as_of = :day {only}) last WHERE n = 1 "
        "ORDER BY external_id, currency",
        {
            "debtor_id": pl.Int64(),
            "debtor": pl.String(),
            "currency": pl.String(),
            "score": pl.Float64(),
            "band": pl.String(),
            "expected_days_to_pay": pl.Float64(),
            "source": pl.String(),
            "reasons": pl.String(),
            "version": pl.String(),
        },
        {"pid": pid, "day": as_of} | ({} if version is None else {"version": version}),
    )
    return frame.with_columns(pl.col("reasons").str.json_decode(pl.List(pl.String())))


def scored_days(conn: Connection, *, portfolio: str) -> list[date]:
    """The days whose scores are stored, oldest first."""
    pid = portfolio_id(conn, portfolio)
    rows = conn.execute(
        select(debtor_score.c.as_of, func.count())
        .where(debtor_score.c.portfolio_id == pid)
        .group_by(debtor_score.c.as_of)
        .order_by(debtor_score.c.as_of)
    ).all()
    return [r[0] if isinstance(r[0], date) else date.fromisoformat(str(r[0])) for r in rows]


def logged(conn: Connection, key: str) -> bool:
    """Whether the activity log holds the entry of idempotency key ``key`` (a day's scores
    stored again by a second run of the day are not logged twice)."""
    found = conn.execute(select(activity.c.id).where(activity.c.idempotency_key == key).limit(1))
    return found.first() is not None
