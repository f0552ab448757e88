"""Writing the append-only activity log, always on the caller's connection (same transaction)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, insert

from arrears.domain.activity import Activity
from arrears.store.schema import activity as activity_table


@dataclass(frozen=True, slots=True)
class Entry:
    """An activity with the store ids it refers to."""

    activity: Activity
    portfolio_id: int | None
    debtor_id: int | None = None


def row(entry: Entry) -> dict[str, object]:
    a = entry.activity
    return {
        "occurred_at": a.occurred_at,
        "kind": a.kind,
        "actor": a.actor,
        "portfolio_id": entry.portfolio_id,
        "debtor_id": entry.debtor_id,
        "subject_kind": a.subject_kind,
        "subject_id": a.subject_id,
        "payload": a.payload,
        "idempotency_key": a.idempotency_key,
    }


def record(conn: Connection, entries: Iterable[Entry]) -> int:
    """Insert the entries on ``conn``; returns how many were written."""
    rows = [row(e) for e in entries]
    if rows:
        conn.execute(insert(activity_table), rows)
    return len(rows)
