"""What the compliance report reads: the contacts made in a period, the contacts before it, the
contact points and the consent history, and the deferrals and blocks the contact rules decided
(``case_step.rule``).

A contact is a message that went out (``outbox`` with ``sent_at``, at ``sent_at``; one still in
``sending`` at its ``claimed_at``: it may have gone), never one that was only queued, blocked or
failed before the provider had it; or a contact logged by hand (``activity`` of kind
``contact``, at ``occurred_at``). Consent is read from ``consent_history`` (every consent ever in
force) so that each contact is judged by the consent of its time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, select

from arrears.contact.audit import CONSENT_HISTORY_SCHEMA, CONTACT_MADE_SCHEMA, POINT_SCHEMA
from arrears.contact.frames import HISTORY_SCHEMA
from arrears.domain.ledger import CHANNELS_BY_CONTACT_KIND
from arrears.store import bulk
from arrears.store.cycle.read import CONVERSATION_OUTCOMES
from arrears.store.cycle.snapshot import read_snapshot
from arrears.store.portfolios import portfolio_id
from arrears.store.schema import debtor, portfolio, task

RULE_OUTCOME_SCHEMA: dict[str, pl.DataType] = {
    "done_on": pl.Date(),
    "status": pl.String(),
    "rule": pl.String(),
    "steps": pl.Int64(),
}


@dataclass(frozen=True, slots=True)
class ComplianceData:
    contacts: pl.DataFrame  # CONTACT_MADE_SCHEMA, in the period
    history: pl.DataFrame  # HISTORY_SCHEMA, the 30 days before the period
    debtors: pl.DataFrame
    points: pl.DataFrame  # POINT_SCHEMA: the contact points, per channel they serve
    consent_history: pl.DataFrame  # CONSENT_HISTORY_SCHEMA
    rule_outcomes: pl.DataFrame  # RULE_OUTCOME_SCHEMA: deferred (executed) and blocked steps


def _us(column: str, pg: bool) -> str:
    """A timestamp as microseconds since 1970 (UTC)."""
    if pg:
        return f"CAST(EXTRACT(EPOCH FROM {column}) * 1000000 AS BIGINT)"
    # SQLite: whole seconds, then the milliseconds of strftime('%f') (SS.SSS)
    return (
        f"(CAST(strftime('%s', {column}) AS INTEGER) * 1000000"
        f" + CAST(ROUND(strftime('%f', {column}) * 1000) AS INTEGER) % 1000 * 1000)"
    )


def _times(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    return frame.with_columns(
        pl.from_epoch(pl.col(column), time_unit="us").dt.replace_time_zone("UTC").alias(column)
    )


def _contacts_sql(pid: int, pg: bool, start: str, end: str) -> str:
    when = "COALESCE(o.sent_at, o.claimed_at)"  # what went out, when it went out
    field = "(a.payload ->> 'channel')" if pg else "json_extract(a.payload, '$.channel')"
    outcome = "(a.payload ->> 'outcome')" if pg else "json_extract(a.payload, '$.outcome')"
    ref = "CAST(a.id AS TEXT)"
    return f"""
        SELECT o.debtor_id, o.channel, {_us(when, pg)} AS at, 'cycle' AS source, o.key AS ref,
               'attempt' AS kind
        FROM outbox o
        WHERE o.portfolio_id = {pid} AND (o.sent_at IS NOT NULL OR o.status = 'sending')
          AND {when} >= '{start}' AND {when} < '{end}'
        UNION ALL
        SELECT a.debtor_id, {field}, {_us("a.occurred_at", pg)}, 'manual', {ref},
               CASE WHEN {field} = 'call' AND {outcome} IN
                    ({", ".join(f"'{o}'" for o in CONVERSATION_OUTCOMES)})
                    THEN 'conversation' ELSE 'attempt' END
        FROM activity a
        WHERE a.kind = 'contact' AND a.portfolio_id = {pid}
          AND a.occurred_at >= '{start}' AND a.occurred_at < '{end}'"""


_RAW = {
    "debtor_id": pl.Int64(),
    "channel": pl.String(),
    "at": pl.Int64(),
    "source": pl.String(),
    "ref": pl.String(),
    "kind": pl.String(),
}


def _read_contacts(conn: Connection, pid: int, pg: bool, start: date, end: date) -> pl.DataFrame:
    raw = bulk.read_frame(conn, _contacts_sql(pid, pg, start.isoformat(), end.isoformat()), _RAW)
    return _times(raw, "at")


def _points(conn: Connection, pid: int, pg: bool) -> pl.DataFrame:
    """The portfolio's contact points (valid or not: they may have been when used), per channel."""
    raw = bulk.read_frame(
        conn,
        f"""SELECT cp.debtor_id, cp.id, cp.kind, {_us("cp.created_at", pg)}
            FROM contact_point cp
            JOIN debtor d ON d.id = cp.debtor_id AND d.portfolio_id = {pid}""",
        {
            "debtor_id": pl.Int64(),
            "contact_point_id": pl.Int64(),
            "kind": pl.String(),
            "created_at": pl.Int64(),
        },
    )
    channels = pl.DataFrame(
        [(str(k), str(c)) for k, cs in CHANNELS_BY_CONTACT_KIND.items() for c in cs],
        schema={"kind": pl.String(), "channel": pl.String()},
        orient="row",
    )
    joined = _times(raw.join(channels, on="kind"), "created_at")
    return joined.select(list(POINT_SCHEMA)).cast(POINT_SCHEMA)  # type: ignore[arg-type]


def read_compliance(engine: Engine, *, portfolio: str, start: date, end: date) -> ComplianceData:
    """The report's inputs for contacts made from ``start`` to ``end`` (both included)."""
    pg = engine.dialect.name == "postgresql"
    debtors = read_snapshot(engine, portfolio=portfolio, as_of=end).debtors
    with engine.connect() as conn:
        pid = portfolio_id(conn, portfolio)
        made = _read_contacts(conn, pid, pg, start, end + timedelta(days=1))
        before = _read_contacts(conn, pid, pg, start - timedelta(days=30), start)
        points = _points(conn, pid, pg)
        consents = bulk.read_frame(
            conn,
            f"""SELECT h.contact_point_id, h.channel, h.status, {_us("h.recorded_at", pg)}
                FROM consent_history h JOIN contact_point cp ON cp.id = h.contact_point_id
                JOIN debtor d ON d.id = cp.debtor_id AND d.portfolio_id = {pid}
                ORDER BY h.id""",
            {**CONSENT_HISTORY_SCHEMA, "recorded_at": pl.Int64()},
        )
        outcomes = bulk.read_frame(
            conn,
            f"""SELECT s.done_on, s.status, s.rule, COUNT(*) AS steps
                FROM case_step s JOIN collection_case c ON c.id = s.case_id
                WHERE c.portfolio_id = {pid} AND s.rule IS NOT NULL
                  AND s.done_on >= '{start.isoformat()}' AND s.done_on <= '{end.isoformat()}'
                GROUP BY s.done_on, s.status, s.rule""",
            RULE_OUTCOME_SCHEMA,
        )
    history = pl.concat([before, made.filter(pl.lit(False))]).filter(pl.lit(True))
    history_rows = pl.concat(
        [
            history.select("debtor_id", "channel", "at", pl.lit("attempt").alias("kind")),
            history.filter(pl.col("kind") == "conversation").select(
                "debtor_id", "channel", "at", "kind"
            ),
        ]
    )
    # the audited contacts' own conversations count for the contacts after them: the guard
    # sees them as history entries (a conversation is on record once it happened)
    conversations = made.filter(pl.col("kind") == "conversation").select(
        "debtor_id", "channel", "at", "kind"
    )
    return ComplianceData(
        contacts=made.select(list(CONTACT_MADE_SCHEMA)),
        history=pl.concat([history_rows, conversations]).cast(HISTORY_SCHEMA),  # type: ignore[arg-type]
        debtors=debtors,
        points=points,
        consent_history=_times(consents, "recorded_at").cast(CONSENT_HISTORY_SCHEMA),  # type: ignore[arg-type]
        rule_outcomes=outcomes,
    )


def call_task(conn: Connection, task_id: int) -> Any:
    """The task ``task_id`` as ``call start`` needs it (``debtor_id``, ``kind``, ``status``,
    ``portfolio``: its code), or None."""
    return conn.execute(
        select(task.c.debtor_id, task.c.kind, task.c.status, portfolio.c.code.label("portfolio"))
        .join(debtor, debtor.c.id == task.c.debtor_id)
        .join(portfolio, portfolio.c.id == debtor.c.portfolio_id)
        .where(task.c.id == task_id)
    ).one_or_none()
