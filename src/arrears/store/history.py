"""Reading the activity log: the latest records, for one debtor or for the whole store."""

from __future__ import annotations

from sqlalchemy import Connection, select

from arrears.store.schema import activity, portfolio
from arrears.store.schema import debtor as debtor_table


def recent_activity(
    conn: Connection,
    *,
    portfolio_code: str | None = None,
    debtor: str | None = None,
    limit: int = 50,
) -> list[dict[str, object]]:
    """The newest ``limit`` records, newest first (of one debtor of ``portfolio_code`` when
    ``debtor`` is given)."""
    query = (
        select(
            activity.c.id,
            activity.c.occurred_at,
            activity.c.kind,
            activity.c.actor,
            portfolio.c.code.label("portfolio"),
            debtor_table.c.external_id.label("debtor"),
            activity.c.subject_kind,
            activity.c.subject_id,
            activity.c.payload,
        )
        .select_from(
            activity.outerjoin(portfolio, portfolio.c.id == activity.c.portfolio_id).outerjoin(
                debtor_table, debtor_table.c.id == activity.c.debtor_id
            )
        )
        .order_by(activity.c.id.desc())
        .limit(limit)
    )
    if debtor is not None:
        query = query.where(debtor_table.c.external_id == debtor)
        if portfolio_code is not None:
            query = query.where(portfolio.c.code == portfolio_code)
    return [dict(row) for row in conn.execute(query).mappings()]
