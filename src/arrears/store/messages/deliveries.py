"""What happens to a message after it was sent, as providers and debtors tell us (over HTTP,
``arrears serve``, docs/web.md; or on the command line): delivery reports, opens and clicks,
replies and opt-outs. The use cases are :mod:`arrears.services.outreach.messages`; these are their
writes, on the connection of the use case's transaction.

Each write goes with its activity record, and each is idempotent: the activity's
``idempotency_key`` (unique in the table) is derived from what happened (``cb:<outbox
id>:<status>``, ``track:<outbox id>:opened``...), the insert skips a key already there (``ON
CONFLICT DO NOTHING``), and the state change is made only when the record is new. A provider
retrying a callback, or a debtor opening a message ten times, records once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from arrears.domain.ledger import CONTACT_KIND_OF_CHANNEL
from arrears.store.messages.outbox import OutboxRow, mark_contact_point_bad
from arrears.store.schema import activity, consent, contact_point, debtor, outbox

#: Delivery statuses recorded (``message.<status>``); a provider's others are acknowledged only.
DELIVERY_STATUSES = ("delivered", "undelivered", "failed")


@dataclass(frozen=True, slots=True)
class Recorded:
    """``found``: the message (or the contact point) is ours; ``recorded``: something new was
    written (False on a replay); ``changed``: contact points or consents changed."""

    found: bool
    recorded: bool = False
    changed: int = 0


def _insert_once(conn: Connection, **values: Any) -> bool:
    """Insert an activity unless its idempotency key is already there; True if inserted."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(activity)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(activity.c.id)
    )
    return conn.execute(statement).scalar_one_or_none() is not None


def _outbox_row(conn: Connection, *where: Any) -> OutboxRow | None:
    r = conn.execute(
        select(
            outbox.c.id, outbox.c.key, outbox.c.portfolio_id, outbox.c.debtor_id,
            outbox.c.channel, outbox.c.template, outbox.c.params, outbox.c.send_at,
            outbox.c.attempts, outbox.c.status,
        ).where(*where).order_by(outbox.c.id).limit(1)
    ).one_or_none()  # fmt: skip
    if r is None:
        return None
    params = r.params if isinstance(r.params, dict) else json.loads(r.params or "{}")
    return OutboxRow(
        r.id, r.key, r.portfolio_id, r.debtor_id, r.channel, r.template, params, r.send_at,
        r.attempts, r.status,
    )  # fmt: skip


def _message_activity(
    conn: Connection,
    row: OutboxRow,
    *,
    event: str,
    key: str,
    at: datetime,
    actor: str,
    payload: dict[str, Any],
) -> bool:
    return _insert_once(
        conn,
        occurred_at=at,
        kind=f"message.{event}",
        actor=actor,
        portfolio_id=row.portfolio_id,
        debtor_id=row.debtor_id,
        subject_kind="outbox",
        subject_id=row.key[:200],
        payload={"channel": row.channel, "template": row.template, **payload},
        idempotency_key=key[:200],
    )


def _sent_to(conn: Connection, row: OutboxRow) -> str | None:
    """The address the last attempt went to (the ``message.sending`` record's ``to``)."""
    found = conn.execute(
        select(activity.c.payload)
        .where(
            activity.c.kind == "message.sending",
            activity.c.debtor_id == row.debtor_id,
            activity.c.subject_kind == "outbox",
            activity.c.subject_id == row.key[:200],
        )
        .order_by(activity.c.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    payload = found if isinstance(found, dict) else json.loads(found or "{}")
    to = payload.get("to")
    return str(to) if to else None


def record_delivery(
    conn: Connection,
    *,
    portfolio: int,
    provider_ref: str,
    status: str,
    at: datetime,
    actor: str,
    provider: str,
    permanent: bool = False,
    error: str = "",
) -> Recorded:
    """A provider's delivery report for the message it knows as ``provider_ref``:
    ``message.delivered|undelivered|failed`` once per message and status; a permanent failure
    also marks the contact point the message went to bad (the guard then skips it)."""
    if status not in DELIVERY_STATUSES:
        raise ValueError(f"status {status!r}: expected one of {', '.join(DELIVERY_STATUSES)}")
    row = _outbox_row(
        conn, outbox.c.portfolio_id == portfolio, outbox.c.provider_ref == provider_ref
    )
    if row is None:
        return Recorded(found=False)
    to = _sent_to(conn, row) if permanent and status != "delivered" else None
    payload: dict[str, Any] = {"source": f"{provider} callback", "provider_ref": provider_ref}
    if error:
        payload["error"] = error[:500]
    if to is not None:
        payload.update(permanent=True, to=to)
    new = _message_activity(
        conn, row, event=status, key=f"cb:{row.id}:{status}", at=at, actor=actor,
        payload=payload,
    )  # fmt: skip
    changed = 0
    kind = CONTACT_KIND_OF_CHANNEL.get(row.channel)  # type: ignore[call-overload]
    if new and to is not None and kind is not None:
        changed = mark_contact_point_bad(conn, row.debtor_id, kind, to)
    return Recorded(found=True, recorded=new, changed=changed)


def record_tracking(
    conn: Connection,
    *,
    portfolio: int,
    key: str,
    event: str,
    at: datetime,
    actor: str,
    url: str | None = None,
) -> Recorded:
    """An email was opened (the pixel) or a link in it clicked: ``message.opened`` once per
    message; ``message.clicked`` once per message and link (a click also counts as the open
    when the pixel was blocked)."""
    if event not in ("opened", "clicked"):
        raise ValueError(f"event {event!r}: expected opened or clicked")
    row = _outbox_row(conn, outbox.c.portfolio_id == portfolio, outbox.c.key == key)
    if row is None:
        return Recorded(found=False)
    new = False
    if event == "clicked":
        link = hashlib.sha256((url or "").encode()).hexdigest()[:16]
        new = _message_activity(
            conn, row, event="clicked", key=f"track:{row.id}:clicked:{link}", at=at,
            actor=actor, payload={"url": (url or "")[:1000]},
        )  # fmt: skip
    via = {"via": "click"} if event == "clicked" else {}
    opened = _message_activity(
        conn, row, event="opened", key=f"track:{row.id}:opened", at=at, actor=actor,
        payload=via,
    )  # fmt: skip
    return Recorded(found=True, recorded=new or opened)


@dataclass(frozen=True, slots=True)
class Point:
    """A contact point an opt-out or a reply matched, with its debtor's ids."""

    id: int
    debtor_id: int
    debtor: str  # the debtor's external id


def points(
    conn: Connection,
    *,
    portfolio: int,
    channel: str,
    debtor_external_id: str | None = None,
    value: str | None = None,
) -> list[Point]:
    """The contact points ``channel`` reaches of the debtor ``debtor_external_id`` or with the
    address ``value`` (every debtor that has it), in the order they were added."""
    kind = CONTACT_KIND_OF_CHANNEL[channel]  # type: ignore[index]
    query = (
        select(contact_point.c.id, contact_point.c.debtor_id, debtor.c.external_id)
        .join(debtor, debtor.c.id == contact_point.c.debtor_id)
        .where(debtor.c.portfolio_id == portfolio, contact_point.c.kind == kind)
        .order_by(contact_point.c.id)
    )
    if debtor_external_id is not None:
        query = query.where(debtor.c.external_id == debtor_external_id)
    if value is not None:
        query = query.where(contact_point.c.value == value)
    return [Point(r.id, r.debtor_id, r.external_id) for r in conn.execute(query)]


def deny_consent(
    conn: Connection, point: Point, *, channel: str, at: datetime, source: str
) -> bool:
    """Consent ``denied`` for ``channel`` on ``point``; False when it already was (also when a
    concurrent request denied it just now): nothing changed."""
    done = conn.execute(
        update(consent)
        .where(
            consent.c.contact_point_id == point.id,
            consent.c.channel == channel,
            consent.c.status != "denied",
        )
        .values(status="denied", recorded_at=at, source=source[:64])
    ).rowcount
    if done:
        return True
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    inserted = conn.execute(
        dialect.insert(consent)
        .values(
            contact_point_id=point.id, channel=channel, status="denied", recorded_at=at,
            source=source[:64],
        )
        .on_conflict_do_nothing(index_elements=["contact_point_id", "channel"])
        .returning(consent.c.id)
    ).scalar_one_or_none()  # fmt: skip
    return inserted is not None


def log_opt_out(
    conn: Connection,
    *,
    portfolio: int,
    debtor_id: int,
    channel: str,
    at: datetime,
    actor: str,
    source: str,
    ref: str = "",
) -> bool:
    """The ``message.opted_out`` record of a debtor whose consent changed (once per provider
    message ``ref`` when there is one)."""
    return _insert_once(
        conn, occurred_at=at, kind="message.opted_out", actor=actor, portfolio_id=portfolio,
        debtor_id=debtor_id, subject_kind="consent", subject_id=channel,
        payload={"channel": channel, "source": source, **({"ref": ref} if ref else {})},
        idempotency_key=f"opt-out:{debtor_id}:{channel}:{ref}"[:200] if ref else None,
    )  # fmt: skip


def log_reply(
    conn: Connection,
    point: Point,
    *,
    portfolio: int,
    channel: str,
    value: str,
    text: str,
    ref: str,
    at: datetime,
    actor: str,
) -> bool:
    """An inbound reply that is not an opt-out: ``message.replied`` on ``point``'s debtor, once
    per provider message id ``ref``."""
    return _insert_once(
        conn, occurred_at=at, kind="message.replied", actor=actor, portfolio_id=portfolio,
        debtor_id=point.debtor_id, subject_kind="inbound", subject_id=ref[:200] or channel,
        payload={"channel": channel, "from": value, "text": text[:1600]},
        idempotency_key=f"reply:{point.debtor_id}:{ref}"[:200] if ref else None,
    )  # fmt: skip


def debtor_language(conn: Connection, *, portfolio: int, external_id: str) -> str | None:
    """The debtor's language, or None when there is no such debtor."""
    found = conn.execute(
        select(debtor.c.language).where(
            debtor.c.portfolio_id == portfolio, debtor.c.external_id == external_id
        )
    ).one_or_none()
    return None if found is None else str(found.language or "en")
