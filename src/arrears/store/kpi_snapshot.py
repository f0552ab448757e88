"""The KPIs' monthly snapshot (issue 17 item 2, migration 0024): each debtor's state at each
month end, per currency, so that the roll and cure rates read 12 rows per debtor a year instead
of deriving 13 month-end states from the whole ledger.

Two tables:

- ``kpi_monthly_snapshot``: one row per portfolio, month end, debtor and currency where the
  debtor owed something at the end of the month or had a write-off allocated in it: the rows of
  :func:`arrears.kpi.roll.monthly_states` (balance, overdue balance, days past due of the most
  past-due open instalment, write-offs of the month; minor units) and the stage of the debtor's
  case at the month end (:func:`arrears.store.kpi_reads.read_case_groups`; null: no case open).
- ``kpi_snapshot_month``: one row per portfolio and month end written, with what the ledger
  held when it was written: the highest instalment and allocation ids, the portfolio's
  instalments and the allocations reversed on or before the month end. A month's rows are
  **valid** while nothing the month end's states depend on changed since:
  :func:`valid_months` checks that no instalment or allocation added since is dated on or
  before the month end (ids above the recorded ones), that no instalment was deleted (the
  count) and that no reversal was dated on or before it since. A month that fails is derived
  from the ledger again (the measures never read a stale month); ``arrears kpi
  --rebuild-snapshot`` or the next month's ``arrears run`` writes it again.

Written by :func:`write_months` (the daily run, for the month that ended before its day;
``arrears kpi --rebuild-snapshot`` for every past month), in one transaction per call: a
month's rows are replaced whole. Retention: every month is kept (12 rows per owing debtor and
currency a year); :func:`prune` drops the months before a day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import ClassVar

import polars as pl
from sqlalchemy import Connection, Engine, delete, insert, select, text

from arrears.domain.activity import Activity
from arrears.kpi.roll import STATE_SCHEMA, monthly_states
from arrears.scoring.frames import History
from arrears.store.activity_log import Entry, record
from arrears.store.bulk import insert_frame
from arrears.store.cycle.read import _typed
from arrears.store.cycle.snapshot import _read_all
from arrears.store.kpi_reads import read_case_groups
from arrears.store.portfolios import portfolio_id
from arrears.store.schema import kpi_monthly_snapshot, kpi_snapshot_month

#: What :func:`read_snapshot` returns: :data:`arrears.kpi.roll.STATE_SCHEMA` and the stage.
SNAPSHOT_SCHEMA: dict[str, pl.DataType] = {**STATE_SCHEMA, "stage": pl.String()}
_NO_DAYS = -999_999_999  # SQLite's ADBC types a column by its first rows: no NULL read


@dataclass(frozen=True, slots=True, kw_only=True)
class SnapshotWritten(Activity):
    """The monthly snapshot of some month ends was written (by the run or a rebuild)."""

    kind: ClassVar[str] = "kpi.snapshot_written"


def last_month_end(day: date) -> date:
    """The last month end strictly before ``day`` (the month end a run on ``day`` may write)."""
    return day.replace(day=1) - timedelta(days=1)


def _watermark(conn: Connection, pid: int, day: date) -> dict[str, int]:
    row = conn.execute(
        text(
            "SELECT (SELECT COALESCE(MAX(id), 0) FROM instalment),"
            " (SELECT COALESCE(MAX(id), 0) FROM allocation),"
            " (SELECT COUNT(*) FROM instalment WHERE portfolio_id = :pid),"
            " (SELECT COUNT(*) FROM allocation WHERE reversed_on IS NOT NULL"
            "  AND reversed_on <= :day)"
        ),
        {"pid": pid, "day": day},
    ).one()
    return {
        "instalment_max_id": int(row[0]),
        "allocation_max_id": int(row[1]),
        "instalments": int(row[2]),
        "reversals": int(row[3]),
    }


def write_months(
    engine: Engine,
    *,
    portfolio: str,
    months: Sequence[date],
    history: History,
    actor: str,
    at: datetime,
) -> int:
    """Write the snapshot of each month end of ``months`` from ``history`` (the portfolio's
    whole ledger, :func:`arrears.store.scoring.history.read_history`, read after the ledger's
    last change), replacing what was there, in one transaction with its activity record
    (``kpi.snapshot_written``, by ``actor`` at ``at``). Returns the rows written."""
    if not months:
        return 0
    months = sorted(set(months))
    states = monthly_states(history.instalments, history.allocations, months)
    stages = pl.concat(
        [
            read_case_groups(engine, portfolio=portfolio, on=day).select(
                pl.lit(day).alias("month_end"),
                pl.col("debtor_id").cast(pl.Int64()),
                "currency",
                "stage",
            )
            for day in months
        ]
    )
    rows = states.join(stages, on=["month_end", "debtor_id", "currency"], how="left")
    with engine.begin() as conn:
        pid = int(portfolio_id(conn, portfolio))
        for day in months:
            conn.execute(
                delete(kpi_monthly_snapshot).where(
                    kpi_monthly_snapshot.c.portfolio_id == pid,
                    kpi_monthly_snapshot.c.month_end == day,
                )
            )
            conn.execute(
                delete(kpi_snapshot_month).where(
                    kpi_snapshot_month.c.portfolio_id == pid,
                    kpi_snapshot_month.c.month_end == day,
                )
            )
        insert_frame(
            conn,
            kpi_monthly_snapshot,
            rows.select(pl.lit(pid, pl.Int64()).alias("portfolio_id"), *SNAPSHOT_SCHEMA),
        )
        conn.execute(
            insert(kpi_snapshot_month),
            [
                {"portfolio_id": pid, "month_end": day, "written_at": at}
                | _watermark(conn, pid, day)
                for day in months
            ],
        )
        listed = [day.isoformat() for day in months]
        entry = SnapshotWritten(
            occurred_at=at,
            actor=actor,
            portfolio=portfolio,
            debtor=None,
            subject_kind="kpi_snapshot",
            subject_id=f"{listed[0]}..{listed[-1]}",
            payload={"months": listed, "rows": rows.height},
            idempotency_key=f"kpi.snapshot_written:{portfolio}:{listed[0]}:{listed[-1]}:{at.isoformat()}",
        )
        record(conn, [Entry(entry, pid)])
    return rows.height


def valid_months(engine: Engine, *, portfolio: str, months: Sequence[date]) -> set[date]:
    """The month ends of ``months`` whose snapshot is written and still what the ledger says
    (see the module's docstring); the others must be derived from the ledger."""
    if not months:
        return set()
    m = kpi_snapshot_month.c
    with engine.connect() as conn:
        pid = int(portfolio_id(conn, portfolio))
        written = conn.execute(
            select(
                m.month_end, m.instalment_max_id, m.allocation_max_id, m.instalments, m.reversals
            ).where(m.portfolio_id == pid, m.month_end.in_(list(months)))
        ).all()
        if not written:
            return set()
        count = conn.execute(
            text("SELECT COUNT(*) FROM instalment WHERE portfolio_id = :pid"), {"pid": pid}
        ).scalar_one()
        added: dict[tuple[int, int], tuple[object, object]] = {}
        valid = set()
        for written_day, max_i, max_a, instalments, reversals in written:
            day = _as_date(written_day)
            if int(instalments) != int(count):
                continue  # an instalment was deleted (an invoice re-imported, ...)
            mark = (int(max_i), int(max_a))
            if mark not in added:  # the earliest days among the rows added since
                added[mark] = _added_since(conn, pid, *mark)
            if any(_on_or_before(first, day) for first in added[mark]):
                continue
            now_reversed = conn.execute(
                text(
                    "SELECT COUNT(*) FROM allocation WHERE reversed_on IS NOT NULL"
                    " AND reversed_on <= :day"
                ),
                {"day": day},
            ).scalar_one()
            if int(now_reversed) != int(reversals):
                continue
            valid.add(day)
    return valid


def _added_since(conn: Connection, pid: int, max_i: int, max_a: int) -> tuple[object, object]:
    """The earliest issue day of the portfolio's instalments and allocation day of the
    allocations added after the ids ``max_i`` and ``max_a`` (primary-key ranges, not scans)."""
    issue = conn.execute(
        text("SELECT MIN(issue_date) FROM instalment WHERE id > :i AND portfolio_id = :pid"),
        {"i": max_i, "pid": pid},
    ).scalar()
    alloc = conn.execute(
        text("SELECT MIN(allocated_on) FROM allocation WHERE id > :a"), {"a": max_a}
    ).scalar()
    return issue, alloc


def _as_date(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _on_or_before(value: object, day: date) -> bool:
    return value is not None and _as_date(value) <= day


def read_snapshot(
    engine: Engine, *, portfolio: str, months: Sequence[date], stage: bool = True
) -> pl.DataFrame:
    """The snapshot's rows of ``months`` (:data:`SNAPSHOT_SCHEMA`; without ``stage`` when
    ``stage`` is false: what the roll rates read), columnar."""
    with engine.connect() as conn:
        pid = int(portfolio_id(conn, portfolio))
    schema = SNAPSHOT_SCHEMA if stage else STATE_SCHEMA
    if not months:
        return pl.DataFrame(schema=schema)
    pg = engine.dialect.name == "postgresql"
    if pg:
        day = "month_end"
        listed = ", ".join(f"DATE '{d.isoformat()}'" for d in months)
    else:
        day = "CAST(julianday(month_end) - 2440587.5 AS INTEGER)"
        listed = ", ".join(f"'{d.isoformat()}'" for d in months)
    query = f"""
        SELECT {day} AS month_end, debtor_id, currency, balance_minor, overdue_minor,
               COALESCE(oldest_days, {_NO_DAYS}) AS oldest_days, written_off_minor
               {", COALESCE(stage, '') AS stage" if stage else ""}
        FROM kpi_monthly_snapshot
        WHERE portfolio_id = {pid} AND month_end IN ({listed})"""
    [raw] = _read_all(engine, [(query, lambda raw: raw)])
    fixed = raw.with_columns(
        pl.when(pl.col("oldest_days") == _NO_DAYS)
        .then(None)
        .otherwise(pl.col("oldest_days"))
        .alias("oldest_days")
    )
    if not pg:
        fixed = fixed.with_columns(pl.col("month_end").cast(pl.Int32()).cast(pl.Date()))
    return _typed(fixed, schema).sort("month_end", "debtor_id", "currency")


def prune(engine: Engine, *, portfolio: str, before: date) -> int:
    """Drop the snapshot's months ending before ``before``; returns the rows dropped."""
    with engine.begin() as conn:
        pid = int(portfolio_id(conn, portfolio))
        gone = conn.execute(
            delete(kpi_monthly_snapshot).where(
                kpi_monthly_snapshot.c.portfolio_id == pid,
                kpi_monthly_snapshot.c.month_end < before,
            )
        ).rowcount
        conn.execute(
            delete(kpi_snapshot_month).where(
                kpi_snapshot_month.c.portfolio_id == pid, kpi_snapshot_month.c.month_end < before
            )
        )
    return int(gone or 0)
