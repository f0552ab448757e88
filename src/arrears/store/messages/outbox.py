"""The outbox as a work queue: claiming due messages, recording each send attempt, reading what
the templates need. See docs/channels.md for the states and the at-most-once argument.

States: ``queued`` (due at ``COALESCE(next_attempt_at, send_at, created_at)``) -> ``claimed``
(by one worker, with ``claimed_at`` as a lease) -> ``sending`` (committed right before the
provider call) -> ``sent`` | ``failed`` | ``blocked``; a retry, a deferral or a fallback channel
goes back to ``queued``. Claiming: PostgreSQL ``FOR UPDATE SKIP LOCKED`` (workers skip each
other's rows); SQLite serialises writers, and the conditional ``UPDATE ... WHERE status =
'queued'`` makes a row claimed by exactly one worker in both.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, Update, bindparam, case, func, insert, select, update

from arrears.store.schema import (
    activity,
    case_step,
    contact_point,
    debtor,
    instalment,
    invoice,
    outbox,
)
from arrears.store.schema import portfolio as portfolio_table

DUE = func.coalesce(outbox.c.next_attempt_at, outbox.c.send_at, outbox.c.created_at)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    key: str
    portfolio_id: int
    debtor_id: int
    channel: str
    template: str | None
    params: dict[str, Any]
    send_at: datetime | None
    attempts: int
    status: str


def _row(r: Any) -> OutboxRow:
    params = r.params if isinstance(r.params, dict) else json.loads(r.params or "{}")
    return OutboxRow(
        id=r.id,
        key=r.key,
        portfolio_id=r.portfolio_id,
        debtor_id=r.debtor_id,
        channel=r.channel,
        template=r.template,
        params=params,
        send_at=r.send_at,
        attempts=r.attempts,
        status=r.status,
    )


_COLUMNS = (
    outbox.c.id,
    outbox.c.key,
    outbox.c.portfolio_id,
    outbox.c.debtor_id,
    outbox.c.channel,
    outbox.c.template,
    outbox.c.params,
    outbox.c.send_at,
    outbox.c.attempts,
    outbox.c.status,
)


def portfolio_id(engine: Engine, code: str) -> int | None:
    with engine.connect() as conn:
        pid = conn.execute(
            select(portfolio_table.c.id).where(portfolio_table.c.code == code)
        ).scalar_one_or_none()
    return None if pid is None else int(pid)


def recipient(conn: Connection, *, portfolio: int, external_id: str) -> Any:
    """The debtor ``external_id`` as a message preview needs it (``id``, ``country``, ``kind``,
    ``region``), or None."""
    return conn.execute(
        select(debtor.c.id, debtor.c.country, debtor.c.kind, debtor.c.region).where(
            debtor.c.portfolio_id == portfolio, debtor.c.external_id == external_id
        )
    ).one_or_none()


def languages_of(conn: Connection, *, portfolio: int) -> dict[str, int]:
    """The languages of the portfolio's debtors and how many debtors have each."""
    query = (
        select(debtor.c.language, func.count())
        .where(debtor.c.portfolio_id == portfolio)
        .group_by(debtor.c.language)
    )
    return {str(lang or "en"): int(n) for lang, n in conn.execute(query)}


def held(
    engine: Engine, *, portfolio: int, after: datetime
) -> list[tuple[str, bool, int, datetime]]:
    """The queued messages whose time has not come by ``after``, counted by why they wait:
    ``(rule, retry, messages, next)``; ``rule`` is the contact rule that last deferred the
    message (at send time: ``outbox.rule``; in the cycle: its step's ``case_step.rule``), ``""``
    for none (planned for later); ``retry``: waiting to be tried again after a temporary
    failure; ``next``: when the first of them is due."""
    rule = func.coalesce(outbox.c.rule, case_step.c.rule, "")
    retry = outbox.c.last_error.is_not(None) & outbox.c.rule.is_(None)
    query = (
        select(rule, retry, func.count(), func.min(DUE))
        .select_from(outbox.outerjoin(case_step, case_step.c.key == outbox.c.key))
        .where(outbox.c.portfolio_id == portfolio, outbox.c.status == "queued", after < DUE)
        .group_by(rule, retry)
        .order_by(rule, retry)
    )
    with engine.connect() as conn:
        return [
            (str(r), bool(t), int(n), _aware(_datetime(first)))
            for r, t, n, first in conn.execute(query)
        ]


def _datetime(value: datetime | str) -> datetime:
    """A time as SQLite returns an aggregate of times (text) or PostgreSQL (a datetime)."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def release_expired_claims(engine: Engine, *, portfolio: int, now: datetime, lease: float) -> int:
    """Claimed rows whose worker is gone (lease over) go back to the queue: never sent."""
    cutoff = now - timedelta(seconds=lease)
    with engine.begin() as conn:
        result = conn.execute(
            update(outbox)
            .where(
                outbox.c.portfolio_id == portfolio,
                outbox.c.status == "claimed",
                outbox.c.claimed_at < cutoff,
            )
            .values(status="queued", claimed_by=None, claimed_at=None)
        )
    return int(result.rowcount)


def stale_sending(
    engine: Engine, *, portfolio: int, now: datetime, lease: float
) -> list[OutboxRow]:
    """Rows left in ``sending`` longer than the lease: their worker died during the provider
    call, so whether the provider got the message is unknown."""
    cutoff = now - timedelta(seconds=lease)
    with engine.connect() as conn:
        rows = conn.execute(
            select(*_COLUMNS).where(
                outbox.c.portfolio_id == portfolio,
                outbox.c.status == "sending",
                outbox.c.claimed_at < cutoff,
            )
        ).all()
    return [_row(r) for r in rows]


def claim(
    engine: Engine,
    *,
    portfolio: int,
    now: datetime,
    limit: int,
    worker: str,
    lease_start: datetime | None = None,
) -> list[OutboxRow]:
    """Claim up to ``limit`` queued messages due by ``now`` for ``worker`` (oldest due first).
    ``lease_start`` (default ``now``): the real time the claim is made, ``claimed_at``; leases
    run on the real clock even when ``now`` is another (a catch-up's cutoff, a test's clock)."""
    lease_start = now if lease_start is None else lease_start
    with engine.begin() as conn:
        query = (
            select(*_COLUMNS)
            .where(outbox.c.portfolio_id == portfolio, outbox.c.status == "queued", now >= DUE)
            .order_by(DUE, outbox.c.id)
            .limit(limit)
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=outbox)
        candidates = conn.execute(query).all()
        claimed = []
        for r in candidates:
            done = conn.execute(
                update(outbox)
                .where(outbox.c.id == r.id, outbox.c.status == "queued")
                .values(status="claimed", claimed_by=worker, claimed_at=lease_start)
            )
            if done.rowcount == 1:
                claimed.append(_row(r))
    return claimed


def release(engine: Engine, ids: Iterable[int], worker: str) -> int:
    """Give claimed rows back (a worker stopping before it sends them)."""
    ids = list(ids)
    if not ids:
        return 0
    with engine.begin() as conn:
        result = conn.execute(
            update(outbox)
            .where(
                outbox.c.id.in_(ids), outbox.c.status == "claimed", outbox.c.claimed_by == worker
            )
            .values(status="queued", claimed_by=None, claimed_at=None)
        )
    return int(result.rowcount)


@functools.lru_cache(maxsize=64)
def _move(columns: tuple[str, ...]) -> Update:
    """The UPDATE of one outbox row in given states, setting ``columns``: built once per set
    of columns, so a worker's thousands of transitions reuse one compiled statement."""
    return (
        update(outbox)
        .where(outbox.c.id == bindparam("row_id"))
        .where(outbox.c.status.in_(bindparam("states", expanding=True)))
        .values({c: bindparam(f"new_{c}") for c in columns})
    )


_LOG = insert(activity)  # executed with its values as parameters: compiled once


def transition(
    conn: Connection,
    row: OutboxRow,
    *,
    expect: str | tuple[str, ...],
    event: str,
    at: datetime,
    actor: str,
    payload: dict[str, Any],
    unique: bool = True,
    **values: Any,
) -> bool:
    """Move ``row`` from the state ``expect`` to ``values`` and log the activity
    ``message.<event>``, on ``conn`` (one transaction); False if the row was not in ``expect``."""
    states = [expect] if isinstance(expect, str) else list(expect)
    columns = tuple(sorted(values))
    params = {f"new_{c}": values[c] for c in columns}
    result = conn.execute(_move(columns), {"row_id": row.id, "states": states, **params})
    if result.rowcount != 1:
        return False
    log(conn, row, event=event, at=at, actor=actor, payload=payload, unique=unique)
    return True


def log(
    conn: Connection,
    row: OutboxRow,
    *,
    event: str,
    at: datetime,
    actor: str,
    payload: dict[str, Any],
    unique: bool = True,
) -> None:
    attempt = payload.get("attempt", row.attempts)
    conn.execute(
        _LOG,
        {
            "occurred_at": at,
            "kind": f"message.{event}",
            "actor": actor,
            "portfolio_id": row.portfolio_id,
            "debtor_id": row.debtor_id,
            "subject_kind": "outbox",
            "subject_id": row.key[:200],
            "payload": {"channel": row.channel, "template": row.template, **payload},
            "idempotency_key": f"msg:{row.id}:{attempt}:{event}"[:200] if unique else None,
        },
    )


def mark_contact_point_bad(conn: Connection, debtor_id: int, kind: str, value: str) -> int:
    result = conn.execute(
        update(contact_point)
        .where(
            contact_point.c.debtor_id == debtor_id,
            contact_point.c.kind == kind,
            contact_point.c.value == value,
            contact_point.c.status == "valid",
        )
        .values(status="bad")
    )
    return int(result.rowcount)


def read_recipients(
    engine: Engine, debtor_ids: list[int], as_of: date
) -> dict[int, dict[str, Any]]:
    """What the templates and the adapters need of each debtor: its fields, its usable contact
    points (primary first), its open instalments with their days past due on ``as_of`` (not
    the disputed ones: a message asks for what is not in dispute), and
    ``earlier_contacts``: how many of its outbox messages were sent (the one being sent is not
    yet ``sent``: a first contact counts 0), and ``whatsapp_replied_at``: when it last wrote to
    us on WhatsApp (``message.replied``; None: never), which opens WhatsApp's 24 hours of free
    text."""
    out: dict[int, dict[str, Any]] = {}
    if not debtor_ids:
        return out
    with engine.connect() as conn:
        for d in conn.execute(
            select(
                debtor.c.id,
                debtor.c.external_id,
                debtor.c.name,
                debtor.c.kind,
                debtor.c.country,
                debtor.c.language,
                debtor.c.currency,
            ).where(debtor.c.id.in_(debtor_ids))
        ):
            out[d.id] = {
                "id": d.external_id,
                "name": d.name,
                "kind": d.kind,
                "country": d.country,
                "language": d.language,
                "currency": d.currency,
                "points": {},
                "invoices": [],
                "earlier_contacts": 0,
                "whatsapp_replied_at": None,
            }
        for p in conn.execute(
            select(contact_point.c.debtor_id, contact_point.c.kind, contact_point.c.value)
            .where(contact_point.c.debtor_id.in_(debtor_ids), contact_point.c.status == "valid")
            .order_by(contact_point.c.is_primary.desc(), contact_point.c.id)
        ):
            out[p.debtor_id]["points"].setdefault(p.kind, p.value)
        for c in conn.execute(  # the messages sent before: "despite our earlier reminders"
            select(outbox.c.debtor_id, func.count().label("n"))
            .where(outbox.c.debtor_id.in_(debtor_ids), outbox.c.status == "sent")
            .group_by(outbox.c.debtor_id)
        ):
            out[c.debtor_id]["earlier_contacts"] = int(c.n)
        for r in conn.execute(  # the debtor wrote on WhatsApp: free text for 24 hours
            select(activity.c.debtor_id, func.max(activity.c.occurred_at).label("at"))
            .where(
                activity.c.debtor_id.in_(debtor_ids),
                activity.c.kind == "message.replied",
                activity.c.payload["channel"].as_string() == "whatsapp",
            )
            .group_by(activity.c.debtor_id)
        ):
            at = r.at if r.at is None or r.at.tzinfo else r.at.replace(tzinfo=UTC)
            out[r.debtor_id]["whatsapp_replied_at"] = at
        for i in conn.execute(
            select(
                instalment.c.debtor_id,
                invoice.c.number,
                invoice.c.reference,
                invoice.c.issue_date,
                instalment.c.seq,
                instalment.c.due_date,
                instalment.c.currency,
                instalment.c.amount_minor,
                instalment.c.open_minor,
            )
            .join(invoice, invoice.c.id == instalment.c.invoice_id)
            .where(
                instalment.c.debtor_id.in_(debtor_ids),
                instalment.c.open_minor > 0,
                instalment.c.disputed.is_not(True),
            )
            .order_by(instalment.c.due_date, invoice.c.number, instalment.c.seq)
        ):
            out[i.debtor_id]["invoices"].append(
                {
                    "number": i.number,
                    "reference": i.reference,
                    "issue_date": i.issue_date,
                    "instalment": i.seq,
                    "due_date": i.due_date,
                    "days_past_due": max((as_of - i.due_date).days, 0),
                    "currency": i.currency,
                    "amount": int(i.amount_minor),
                    "open": int(i.open_minor),
                }
            )
    return out


@dataclass(frozen=True, slots=True)
class GuardInput:
    """What the contact rules need at send time for a batch's debtors (the frames of
    :class:`arrears.cycle.frames.CycleInput` of the same names, restricted to those debtors)."""

    debtors: pl.DataFrame
    consents: pl.DataFrame
    history: pl.DataFrame
    disputed: list[int]  # debtors with an open disputed instalment
    wholly_disputed: list[int]  # debtors all of whose open instalments are disputed


def read_guard_input(
    engine: Engine, *, portfolio: int, debtor_ids: list[int], as_of: date, now: datetime
) -> GuardInput:
    """The guard's input for ``debtor_ids`` only: the cycle read's own queries
    (``arrears.store.cycle.read``, ``arrears.store.cycle.snapshot``) filtered on the batch's debtors
    (debtors, contact points and consents through their indexes), so that a batch reads its
    debtors' rows, not the whole portfolio's. The contact history is what was **sent**
    (:func:`sent_history`), not what the cycle planned: the caps count real contacts."""
    from arrears.store.cycle import read as cr  # noqa: PLC0415 (only here)
    from arrears.store.cycle import snapshot as sn  # noqa: PLC0415

    ids = ", ".join(str(int(i)) for i in sorted(set(debtor_ids))) or "NULL"
    q = cr._Queries(portfolio, as_of, 0, postgres=engine.dialect.name == "postgresql")
    everything = (0, 2**62)
    with engine.connect() as conn:
        query = sn._debtors_query(portfolio, postgres=q.pg, only=ids)
        debtors = sn._debtors(pl.read_database(query, conn))
        points = sn._conform(
            pl.read_database(q.contact_points(everything, debtors=ids), conn), cr._POINT
        )
        point_ids = ", ".join(str(int(i)) for i in points["id"]) or "NULL"
        packed = pl.read_database(q.consent_rows(everything, points=point_ids), conn)
        history = sent_history(conn, debtor_ids=debtor_ids, now=now)
        disputed_rows = conn.execute(
            select(
                instalment.c.debtor_id,
                func.min(case((instalment.c.disputed.is_(True), 1), else_=0)).label("all_of"),
            )
            .where(
                instalment.c.debtor_id.in_(sorted(set(debtor_ids))),
                instalment.c.open_minor > 0,
            )
            .group_by(instalment.c.debtor_id)
            .having(func.max(case((instalment.c.disputed.is_(True), 1), else_=0)) == 1)
        ).all()
        disputed_ids = sorted(int(r.debtor_id) for r in disputed_rows)
        wholly = sorted(int(r.debtor_id) for r in disputed_rows if int(r.all_of) == 1)
    consents = cr._consents(points, sn._conform(packed, cr._PACKED))
    return GuardInput(debtors, consents, history, disputed_ids, wholly)


#: How far back the contact history goes at send time (the longest window of a shipped pack's
#: rules is 7 days; the cycle reads 30).
HISTORY_DAYS = 30


def sent_history(conn: Connection, *, debtor_ids: list[int], now: datetime) -> pl.DataFrame:
    """The contacts the debtors have had in the ``HISTORY_DAYS`` before ``now``, as the guard
    counts them (``HISTORY_SCHEMA``): every message **sent** at its ``sent_at`` (a message in
    ``sending`` at its ``claimed_at``: it may have gone), every contact logged by hand at its
    time, and a logged call that reached the debtor also as a conversation. Queued messages
    are not contacts: a backlog does not count against itself, and what goes out counts at the
    time it went out, so the caps spread a backlog over the following days."""
    from arrears.contact.frames import HISTORY_SCHEMA  # noqa: PLC0415 (only here)
    from arrears.store.cycle.read import CONVERSATION_OUTCOMES  # noqa: PLC0415

    ids = sorted(set(debtor_ids))
    start = now - timedelta(days=HISTORY_DAYS)
    rows: list[tuple[int, str, datetime, str]] = []
    if ids:
        at = func.coalesce(outbox.c.sent_at, outbox.c.claimed_at)
        for r in conn.execute(
            select(outbox.c.debtor_id, outbox.c.channel, at.label("at")).where(
                outbox.c.debtor_id.in_(ids), outbox.c.status.in_(("sent", "sending")), at >= start
            )
        ):
            rows.append((r.debtor_id, r.channel, _aware(r.at), "attempt"))
        for c in conn.execute(
            select(
                activity.c.debtor_id,
                activity.c.payload["channel"].as_string().label("channel"),
                activity.c.payload["outcome"].as_string().label("outcome"),
                activity.c.occurred_at,
            ).where(
                activity.c.debtor_id.in_(ids),
                activity.c.kind == "contact",
                activity.c.occurred_at >= start,
            )
        ):
            rows.append((c.debtor_id, c.channel, _aware(c.occurred_at), "attempt"))
            if c.channel == "call" and c.outcome in CONVERSATION_OUTCOMES:
                rows.append((c.debtor_id, "call", _aware(c.occurred_at), "conversation"))
    return pl.DataFrame(rows, schema=HISTORY_SCHEMA, orient="row")


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
