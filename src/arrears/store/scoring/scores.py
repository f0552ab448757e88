"""The day's propensity scores (``debtor_score``, migration 0014): written by ``arrears model
score``, read by whatever wants a debtor's score of a day without scoring again (the worklist,
the KPIs, the cash forecast, monitoring).

One row per (portfolio, day, debtor, currency): writing a day replaces that day's rows, so
scoring a day twice keeps the last scores. Rows older than :data:`RETENTION_DAYS` days before
the day written are deleted in the same transaction.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import polars as pl
from sqlalchemy import Connection, delete, func, select

from arrears.store.bulk import insert_frame, read_frame
from arrears.store.portfolios import portfolio_id
from arrears.store.schema import debtor_score

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


def write_scores(
    conn: Connection, *, portfolio: str, as_of: date, scores: pl.DataFrame, at: datetime
) -> int:
    """Store ``scores`` (:data:`SCORE_COLUMNS`) as ``portfolio``'s scores of ``as_of``,
    replacing that day's; delete the scores older than the retention. Returns the rows
    written."""
    pid = portfolio_id(conn, portfolio)
    conn.execute(
        delete(debtor_score).where(
            (debtor_score.c.portfolio_id == pid)
            & (
                (debtor_score.c.as_of == as_of)
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
        pl.Series(
            "reasons", [json.dumps(list(r)) for r in scores["reasons"].to_list()], pl.String()
        ),
        pl.lit(at, pl.Datetime("us", "UTC")).alias("scored_at"),
    )
    return insert_frame(conn, debtor_score, frame)


def read_scores(conn: Connection, *, portfolio: str, as_of: date) -> pl.DataFrame:
    """``portfolio``'s stored scores of ``as_of`` (empty when that day was not scored), with
    ``debtor`` (the id as imported), by debtor and currency."""
    pid = portfolio_id(conn, portfolio)
    frame = read_frame(
        conn,
        "SELECT s.debtor_id, d.external_id, s.currency, s.score, s.band, "
        "s.expected_days_to_pay, s.source, s.reasons FROM debtor_score s "
        "JOIN debtor d ON d.id = s.debtor_id "
        "WHERE s.portfolio_id = :pid AND s.as_of = :day ORDER BY d.external_id, s.currency",
        {
            "debtor_id": pl.Int64(),
            "debtor": pl.String(),
            "currency": pl.String(),
            "score": pl.Float64(),
            "band": pl.String(),
            "expected_days_to_pay": pl.Float64(),
            "source": pl.String(),
            "reasons": pl.String(),
        },
        {"pid": pid, "day": as_of},
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
