"""The experiments' assignments as the daily cycle recorded them: each case event (opened,
stage changed, updated, reopened, closed) whose payload names an arm (``<experiment>:champion``
or ``<experiment>:challenger``), with the cycle's day (the business day that ends the event's
idempotency key, ``<event>:<portfolio>:<debtor>:<currency>:<opened_on>:<as_of>``; the day of the
record's time for a key too long to end so). Read by ``arrears.services.insight.kpi``; measured by
the
pure ``arrears.kpi.experiments``.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import Engine, select

from arrears.kpi.experiments import ASSIGNMENT_SCHEMA
from arrears.store.portfolios import portfolio_id
from arrears.store.schema import activity

CASE_KINDS = ("case.opened", "case.reopened", "case.stage_changed", "case.updated", "case.closed")


def read_assignments(engine: Engine, *, portfolio: str) -> pl.DataFrame:
    """:data:`arrears.kpi.experiments.ASSIGNMENT_SCHEMA` rows, one per case event in an arm.

    Raises :class:`arrears.store.portfolios.UnknownPortfolio` for an unknown code."""
    rows: list[tuple[int, str, str, str, date]] = []
    with engine.connect() as conn:
        pid = int(portfolio_id(conn, portfolio))
        query = select(
            activity.c.debtor_id,
            activity.c.payload,
            activity.c.idempotency_key,
            activity.c.occurred_at,
        ).where(
            activity.c.portfolio_id == pid,
            activity.c.subject_kind == "case",
            activity.c.kind.in_(CASE_KINDS),
        )
        for debtor_id, payload, key, occurred_at in conn.execute(query):
            body: Any = json.loads(payload) if isinstance(payload, str) else payload
            arm = body.get("arm") if isinstance(body, dict) else None
            case = body.get("case") if isinstance(body, dict) else None
            if not arm or not case or ":" not in arm or debtor_id is None:
                continue
            experiment, side = str(arm).rsplit(":", 1)
            currency = str(case).rsplit(":", 2)[-2]
            rows.append((int(debtor_id), currency, experiment, side, _day(key, occurred_at)))
    return pl.DataFrame(rows, schema=ASSIGNMENT_SCHEMA, orient="row")


def _day(key: str | None, occurred_at: Any) -> date:
    if key:
        try:
            return date.fromisoformat(key[-10:])
        except ValueError:
            pass
    return (
        occurred_at.date()
        if hasattr(occurred_at, "date")
        else date.fromisoformat(str(occurred_at)[:10])
    )
