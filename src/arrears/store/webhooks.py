"""The store's side of outbound webhooks (docs/web.md, "Outbound webhooks"): endpoints, the
activity records after an endpoint's cursor, deliveries and their attempts; always on the
caller's connection (the unit of work owns the transaction)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Integer, RowMapping, and_, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from arrears.store.schema import activity, portfolio, webhook_attempt, webhook_delivery
from arrears.store.schema import debtor as debtor_table
from arrears.store.schema import webhook_endpoint as endpoint


def add_endpoint(conn: Connection, values: dict[str, Any]) -> int:
    return int(conn.execute(insert(endpoint).values(**values)).inserted_primary_key[0])  # type: ignore[index]


def endpoint_named(conn: Connection, portfolio_id: int, name: str) -> RowMapping | None:
    return (
        conn.execute(
            select(endpoint).where(
                endpoint.c.portfolio_id == portfolio_id,
                endpoint.c.name == name,
                endpoint.c.removed_at.is_(None),
            )
        )
        .mappings()
        .first()
    )


def name_taken(conn: Connection, portfolio_id: int, name: str) -> bool:
    found = conn.execute(
        select(endpoint.c.id).where(
            endpoint.c.portfolio_id == portfolio_id, endpoint.c.name == name
        )
    ).first()
    return found is not None


def endpoints(conn: Connection, portfolio_id: int) -> list[RowMapping]:
    """The portfolio's endpoints not removed, with their deliveries counted by status."""
    counts = (
        select(
            webhook_delivery.c.endpoint_id,
            func.sum((webhook_delivery.c.status == "pending").cast(Integer())).label("pending"),
            func.sum((webhook_delivery.c.status == "delivered").cast(Integer())).label("delivered"),
            func.sum((webhook_delivery.c.status == "failed").cast(Integer())).label("failed"),
        )
        .group_by(webhook_delivery.c.endpoint_id)
        .subquery()
    )
    return list(
        conn.execute(
            select(endpoint, counts.c.pending, counts.c.delivered, counts.c.failed)
            .outerjoin(counts, counts.c.endpoint_id == endpoint.c.id)
            .where(endpoint.c.portfolio_id == portfolio_id, endpoint.c.removed_at.is_(None))
            .order_by(endpoint.c.name)
        ).mappings()
    )


def remove_endpoint(conn: Connection, endpoint_id: int, at: datetime) -> None:
    conn.execute(update(endpoint).where(endpoint.c.id == endpoint_id).values(removed_at=at))


def last_record(conn: Connection) -> int:
    """The id of the newest activity record (0: none)."""
    return int(conn.execute(select(func.coalesce(func.max(activity.c.id), 0))).scalar_one())


def settled(conn: Connection, wait: float = 2.0) -> bool:
    """Whether every activity record with an id up to the newest one read just before can be
    seen now: on PostgreSQL ids are handed out when a record is written but seen when its
    transaction commits, so a transaction still open may commit a record below ids already
    seen. This waits (at most ``wait`` seconds) for the transactions open now, other than the
    caller's, to end; ``False``: some did not (the caller must not move past them). SQLite
    commits one writer at a time: always ``True``."""
    if conn.dialect.name != "postgresql":
        return True
    own = conn.execute(text("select pg_current_xact_id_if_assigned()::text")).scalar()
    open_now = [
        str(x)
        for x in conn.execute(text("select pg_snapshot_xip(pg_current_snapshot())::text")).scalars()
        if str(x) != own
    ]
    deadline = time.monotonic() + wait
    while open_now:
        still = conn.execute(
            text(
                "select x from unnest(cast(:xids as text[])) as x "
                "where pg_xact_status(cast(x as xid8)) = 'in progress'"
            ),
            {"xids": open_now},
        ).scalars()
        open_now = [str(x) for x in still]
        if not open_now:
            break
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def records_after(
    conn: Connection, portfolio_id: int, cursor: int, upto: int, kinds: Sequence[str]
) -> list[tuple[Any, ...]]:
    """The portfolio's records of ``kinds`` with ``cursor < id <= upto``, oldest first: id,
    occurred_at, kind, actor, portfolio code, debtor (external id), subject kind and id,
    payload."""
    if not kinds:
        return []
    rows = conn.execute(
        select(
            activity.c.id,
            activity.c.occurred_at,
            activity.c.kind,
            activity.c.actor,
            portfolio.c.code,
            debtor_table.c.external_id,
            activity.c.subject_kind,
            activity.c.subject_id,
            activity.c.payload,
        )
        .join(portfolio, portfolio.c.id == activity.c.portfolio_id)
        .outerjoin(debtor_table, debtor_table.c.id == activity.c.debtor_id)
        .where(
            activity.c.portfolio_id == portfolio_id,
            activity.c.id > cursor,
            activity.c.id <= upto,
            activity.c.kind.in_(list(kinds)),
        )
        .order_by(activity.c.id)
    ).all()
    return [tuple(row) for row in rows]


def add_deliveries(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """Insert deliveries, skipping those made before (the same endpoint and record)."""
    if not rows:
        return 0
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    made = 0
    for row in rows:
        done = conn.execute(
            dialect.insert(webhook_delivery)
            .values(**row)
            .on_conflict_do_nothing(index_elements=["endpoint_id", "activity_id"])
            .returning(webhook_delivery.c.id)
        )
        made += done.scalar_one_or_none() is not None
    return made


def move_cursor(conn: Connection, endpoint_id: int, cursor: int) -> None:
    conn.execute(update(endpoint).where(endpoint.c.id == endpoint_id).values(cursor=cursor))


def due(conn: Connection, portfolio_id: int, at: datetime | None, limit: int) -> list[RowMapping]:
    """Pending deliveries of the portfolio's endpoints whose time has come (``at`` ``None``:
    every pending one), the oldest first, with their endpoint's URL and secret."""
    query = (
        select(
            webhook_delivery, endpoint.c.url, endpoint.c.secret, endpoint.c.name.label("endpoint")
        )
        .join(endpoint, endpoint.c.id == webhook_delivery.c.endpoint_id)
        .where(
            endpoint.c.portfolio_id == portfolio_id,
            endpoint.c.removed_at.is_(None),
            webhook_delivery.c.status == "pending",
        )
        .order_by(webhook_delivery.c.id)
        .limit(limit)
    )
    if at is not None:
        query = query.where(webhook_delivery.c.next_attempt_at <= at)
    return list(conn.execute(query).mappings())


def claim(conn: Connection, delivery_id: int, attempts: int, until: datetime) -> bool:
    """Take a pending delivery for one attempt (no other sender takes it before ``until``);
    false when another sender took it or it changed."""
    done = conn.execute(
        update(webhook_delivery)
        .where(
            and_(
                webhook_delivery.c.id == delivery_id,
                webhook_delivery.c.status == "pending",
                webhook_delivery.c.attempts == attempts,
            )
        )
        .values(attempts=attempts + 1, next_attempt_at=until)
    )
    return done.rowcount == 1


def record_attempt(
    conn: Connection,
    delivery_id: int,
    attempt: int,
    *,
    at: datetime,
    status: int | None,
    error: str | None,
    milliseconds: int,
    state: str,
    next_at: datetime,
) -> None:
    conn.execute(
        insert(webhook_attempt).values(
            delivery_id=delivery_id,
            attempt=attempt,
            attempted_at=at,
            status=status,
            error=error,
            milliseconds=milliseconds,
        )
    )
    conn.execute(
        update(webhook_delivery)
        .where(webhook_delivery.c.id == delivery_id)
        .values(
            status=state,
            last_status=status,
            last_error=error,
            next_attempt_at=next_at,
            delivered_at=at if state == "delivered" else None,
        )
    )


def attempts(
    conn: Connection, portfolio_id: int, endpoint_id: int | None, limit: int
) -> list[RowMapping]:
    """The delivery log: the newest attempts first, with their delivery and endpoint."""
    query = (
        select(
            webhook_attempt.c.attempted_at,
            webhook_attempt.c.attempt,
            webhook_attempt.c.status,
            webhook_attempt.c.error,
            webhook_attempt.c.milliseconds,
            webhook_delivery.c.id.label("delivery"),
            webhook_delivery.c.event,
            webhook_delivery.c.activity_id,
            webhook_delivery.c.status.label("state"),
            webhook_delivery.c.next_attempt_at,
            endpoint.c.name.label("endpoint"),
        )
        .join(webhook_delivery, webhook_delivery.c.id == webhook_attempt.c.delivery_id)
        .join(endpoint, endpoint.c.id == webhook_delivery.c.endpoint_id)
        .where(endpoint.c.portfolio_id == portfolio_id)
        .order_by(webhook_attempt.c.id.desc())
        .limit(limit)
    )
    if endpoint_id is not None:
        query = query.where(endpoint.c.id == endpoint_id)
    return list(conn.execute(query).mappings())
