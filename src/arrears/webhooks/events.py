"""Which activity records are events for webhook clients, and each event's JSON body.

An event's name is the activity kind's, except where the client's word is another
(``payment.posted`` is ``payment.recorded``, ``stage.approved`` ``case.stage_approved``). The body
is the record: its id (``evt_<record id>``, the same on every attempt and for every endpoint),
the event, when it happened, who did it, the portfolio, the debtor, the subject and the
payload as the activity log keeps it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

#: activity kind -> event name
EVENTS: dict[str, str] = {
    "payment.posted": "payment.recorded",
    "payment.reversed": "payment.reversed",
    "promise.made": "promise.made",
    "promise.kept": "promise.kept",
    "promise.partial": "promise.partial",
    "promise.broken": "promise.broken",
    "promise.cancelled": "promise.cancelled",
    "case.opened": "case.opened",
    "case.stage_changed": "case.stage_changed",
    "case.closed": "case.closed",
    "stage.approved": "case.stage_approved",
    "dispute.opened": "dispute.opened",
    "dispute.upheld": "dispute.upheld",
    "dispute.rejected": "dispute.rejected",
    "dispute.closed": "dispute.closed",
    "invoice.disputed": "invoice.disputed",
    "plan.accepted": "plan.accepted",
    "plan.approved": "plan.approved",
    "plan.broken": "plan.broken",
    "plan.completed": "plan.completed",
    "settlement.offered": "settlement.offered",
    "settlement.accepted": "settlement.accepted",
    "settlement.paid": "settlement.paid",
    "write_off.posted": "write_off.posted",
    "message.opted_out": "debtor.opted_out",
}

#: every event name, sorted: what ``arrears webhooks add --event`` accepts
NAMES: tuple[str, ...] = tuple(sorted(set(EVENTS.values())))


def kinds_of(events: list[str] | tuple[str, ...]) -> list[str]:
    """The activity kinds that make ``events``."""
    wanted = set(events)
    return sorted(kind for kind, event in EVENTS.items() if event in wanted)


@dataclass(frozen=True, slots=True)
class Record:
    """An activity record as the webhooks read it."""

    record_id: int
    occurred_at: datetime
    kind: str
    actor: str
    portfolio: str
    debtor: str | None
    subject_kind: str
    subject_id: str
    payload: Any


def body(record: Record) -> str:
    """The JSON body of ``record``'s event (compact, keys sorted: the bytes that are signed)."""
    return json.dumps(
        {
            "id": f"evt_{record.record_id}",
            "event": EVENTS[record.kind],
            "occurred_at": record.occurred_at.isoformat(),
            "actor": record.actor,
            "portfolio": record.portfolio,
            "debtor": record.debtor,
            "subject": {"kind": record.subject_kind, "id": record.subject_id},
            "data": record.payload,
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
