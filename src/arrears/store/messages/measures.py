"""The messages a portfolio sent and what came back for them, for the measures
(:mod:`arrears.kpi.messages`): each sent outbox row with the first day (UTC) of its
``message.delivered``, ``message.undelivered``/``message.failed`` and ``message.opened``
activity (the delivery reports and tracking events, logged against the outbox key)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from sqlalchemy import Engine, select

from arrears.kpi.messages import MESSAGE_SCHEMA
from arrears.store.portfolios import portfolio_id
from arrears.store.schema import activity, outbox

EVENTS = {
    "message.delivered": "delivered_on",
    "message.undelivered": "bounced_on",
    "message.failed": "bounced_on",
    "message.opened": "opened_on",
}


def read_messages(engine: Engine, *, portfolio: str) -> pl.DataFrame:
    """:data:`arrears.kpi.messages.MESSAGE_SCHEMA` rows, one per message sent.

    Raises :class:`arrears.store.portfolios.UnknownPortfolio` for an unknown code."""
    with engine.connect() as conn:
        pid = int(portfolio_id(conn, portfolio))
        sent = conn.execute(
            select(
                outbox.c.id, outbox.c.key, outbox.c.debtor_id, outbox.c.channel, outbox.c.sent_at
            ).where(outbox.c.portfolio_id == pid, outbox.c.sent_at.is_not(None))
        ).all()
        events = conn.execute(
            select(activity.c.subject_id, activity.c.kind, activity.c.occurred_at).where(
                activity.c.portfolio_id == pid,
                activity.c.subject_kind == "outbox",
                activity.c.kind.in_(list(EVENTS)),
            )
        ).all()
    first: dict[tuple[str, str], date] = {}
    for subject, kind, at in events:
        name, day = EVENTS[kind], _day(at)
        if (subject, name) not in first or day < first[subject, name]:
            first[subject, name] = day
    rows = [
        (
            int(row_id),
            int(debtor_id),
            str(channel),
            _day(sent_at),
            first.get((key[:200], "delivered_on")),
            first.get((key[:200], "bounced_on")),
            first.get((key[:200], "opened_on")),
        )
        for row_id, key, debtor_id, channel, sent_at in sent
    ]
    return pl.DataFrame(rows, schema=MESSAGE_SCHEMA, orient="row")


def _day(at: Any) -> date:
    """The UTC day of a stored time (SQLite gives naive UTC; PostgreSQL an aware time)."""
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    if isinstance(at, datetime):
        return at.date() if at.tzinfo is None else at.astimezone(UTC).date()
    assert isinstance(at, date)
    return at
