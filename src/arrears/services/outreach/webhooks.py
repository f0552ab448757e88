"""Outbound webhooks' use cases (docs/web.md, "Outbound webhooks"): add, list and remove an
endpoint; deliver (turn the activity committed since each endpoint's cursor into deliveries,
then send what is due); read the delivery log.

The events come from the append-only activity log after it is committed, never from the
services that write it: an endpoint's ``cursor`` is the last record it has seen. A delivery is
one event for one endpoint (unique on the pair, so collecting twice makes nothing twice); its
body is fixed when it is made and signed anew on each attempt (:mod:`arrears.webhooks`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit

from arrears.domain.activity import Activity
from arrears.domain.actor import Actor, Permission
from arrears.domain.errors import Conflict, NotFound
from arrears.domain.problems import Problem, ProblemsFound
from arrears.services.uow import SqlUnitOfWork
from arrears.store import webhooks as store
from arrears.store.activity_log import Entry, record
from arrears.store.portfolios import portfolio_id
from arrears.webhooks import events, sending, signing

NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
#: how long a sender holds a delivery it took (another sender does not take it meanwhile)
LEASE = timedelta(minutes=2)


class WebhookAdded(Activity):
    kind: ClassVar[str] = "webhook.added"


class WebhookRemoved(Activity):
    kind: ClassVar[str] = "webhook.removed"


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str
    url: str
    events: tuple[str, ...]
    cursor: int
    created_at: datetime
    created_by: str
    pending: int = 0
    delivered: int = 0
    failed: int = 0


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _endpoint(row: Any) -> Endpoint:
    return Endpoint(
        str(row["name"]), str(row["url"]), tuple(row["events"]), int(row["cursor"]),
        _aware(row["created_at"]), str(row["created_by"]), int(row.get("pending") or 0),
        int(row.get("delivered") or 0), int(row.get("failed") or 0),
    )  # fmt: skip


def problems(name: str, url: str, wanted: list[str], secret: str | None) -> list[Problem]:
    """Every problem of an endpoint's request."""
    found = []
    if not NAME.fullmatch(name):
        found.append(f"name {name!r}: lowercase letters, digits, . _ - (at most 64)")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2000:
        found.append(f"url {url!r}: an http:// or https:// URL")
    unknown = sorted(set(wanted) - set(events.NAMES))
    if unknown:
        found.append(f"unknown events {', '.join(unknown)}: choose from {', '.join(events.NAMES)}")
    if secret is not None and len(secret) < 16:
        found.append("the secret must have at least 16 characters")
    return [Problem("webhook", None, None, message) for message in found]


def add_endpoint(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    name: str,
    url: str,
    event_names: list[str] | None,
    at: datetime,
    secret: str | None = None,
) -> tuple[Endpoint, str]:
    """Add an endpoint receiving ``event_names`` (``None``: every event) of what happens from
    now on; returns it and its signing secret (made when not given). :class:`Conflict` when the
    name is taken in the portfolio."""
    actor.require(Permission.ADMINISTER, "add a webhook")
    name, url = name.strip(), url.strip()
    wanted = sorted(set(event_names)) if event_names else list(events.NAMES)
    found = problems(name, url, wanted, secret)
    if found:
        raise ProblemsFound(found)
    key = secret or signing.new_secret()
    with uow:
        conn = uow.conn
        pid = portfolio_id(conn, portfolio)
        if store.name_taken(conn, pid, name):
            raise Conflict(f"webhook {name!r} exists already (remove it, or choose another name)")
        cursor = store.last_record(conn)
        store.add_endpoint(
            conn,
            {
                "portfolio_id": pid, "name": name, "url": url, "secret": key, "events": wanted,
                "cursor": cursor, "created_by": actor.name, "created_at": at,
            },
        )  # fmt: skip
        record(
            conn,
            [
                Entry(
                    WebhookAdded(
                        at,
                        actor.name,
                        portfolio,
                        None,
                        "webhook",
                        name,
                        {"url": url, "events": wanted},
                        f"webhook.added:{portfolio}:{name}",
                    ),
                    pid,
                )
            ],
        )
    return Endpoint(name, url, tuple(wanted), cursor, at, actor.name), key


def list_endpoints(uow: SqlUnitOfWork, actor: Actor, *, portfolio: str) -> list[Endpoint]:
    """The portfolio's endpoints with their deliveries by state (never their secrets)."""
    actor.require(Permission.READ, "read the webhooks")
    with uow:
        return [_endpoint(r) for r in store.endpoints(uow.conn, portfolio_id(uow.conn, portfolio))]


def remove_endpoint(
    uow: SqlUnitOfWork, actor: Actor, *, portfolio: str, name: str, at: datetime
) -> None:
    """Stop sending to an endpoint (its deliveries stay in the log)."""
    actor.require(Permission.ADMINISTER, "remove a webhook")
    with uow:
        conn = uow.conn
        pid = portfolio_id(conn, portfolio)
        found = store.endpoint_named(conn, pid, name.strip())
        if found is None:
            raise NotFound(f"no webhook {name.strip()!r}")
        store.remove_endpoint(conn, int(found["id"]), at)
        record(
            conn,
            [
                Entry(
                    WebhookRemoved(
                        at,
                        actor.name,
                        portfolio,
                        None,
                        "webhook",
                        str(found["name"]),
                        {},
                        f"webhook.removed:{portfolio}:{found['name']}:{at.isoformat()}",
                    ),
                    pid,
                )
            ],
        )


def collect(
    uow: SqlUnitOfWork, actor: Actor, *, portfolio: str, at: datetime, wait: float = 2.0
) -> int:
    """Turn the records committed since each endpoint's cursor into its deliveries and move
    the cursor, in one transaction; returns how many deliveries were made.

    The cursor moves to the newest record only once every transaction open when it was read
    has ended (:func:`arrears.store.webhooks.settled`, waiting ``wait`` seconds at most): on
    PostgreSQL a transaction still open may commit a record with a lower id after a later one
    committed. When one is still open, the records seen get their deliveries but the cursor
    stays, and the next pass reads them again: a delivery is made once per endpoint and record
    (the pair is unique), so nothing is sent twice and nothing is skipped."""
    actor.require(Permission.ADMINISTER, "deliver webhooks")
    made = 0
    with uow:
        conn = uow.conn
        pid = portfolio_id(conn, portfolio)
        upto = store.last_record(conn)
        safe = store.settled(conn, wait)  # before anything is read after ``upto``
        for row in store.endpoints(conn, pid):
            cursor = int(row["cursor"])
            if cursor >= upto:
                continue
            found = store.records_after(conn, pid, cursor, upto, events.kinds_of(row["events"]))
            made += store.add_deliveries(
                conn,
                [
                    {
                        "endpoint_id": int(row["id"]),
                        "activity_id": r.record_id,
                        "event": events.EVENTS[r.kind],
                        "body": events.body(r),
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": at,
                        "created_at": at,
                    }
                    for r in (events.Record(*values) for values in found)
                ],
            )
            if safe:
                store.move_cursor(conn, int(row["id"]), upto)
    return made


@dataclass(frozen=True, slots=True)
class Delivered:
    """What one ``deliver`` did."""

    collected: int  # deliveries made from new activity
    delivered: int
    retrying: int  # failed this time, tried again later
    failed: int  # failed for good (the last attempt)


Sender = Callable[[str, str, dict[str, str]], sending.Answer]


def deliver(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    clock: Callable[[], datetime],
    send: Sender | None = None,
    every_pending: bool = False,
    limit: int = 500,
) -> Delivered:
    """Collect the new events, then send each due delivery once (``every_pending``: also
    those waiting for a later retry), each attempt recorded in its own transaction after the
    request: 2xx delivered; otherwise retried after :func:`arrears.webhooks.sending.backoff`,
    failed after :data:`arrears.webhooks.sending.MAX_ATTEMPTS`."""
    collected = collect(uow, actor, portfolio=portfolio, at=clock())
    with uow:
        pid = portfolio_id(uow.conn, portfolio)
        rows = store.due(uow.conn, pid, None if every_pending else clock(), limit)
    counts = {"delivered": 0, "retrying": 0, "failed": 0}
    client = sending.client() if send is None else None
    try:
        for row in rows:
            attempt = int(row["attempts"]) + 1
            with uow:
                taken = store.claim(uow.conn, int(row["id"]), attempt - 1, clock() + LEASE)
            if not taken:
                continue
            at = clock()
            headers = signing.headers(
                str(row["secret"]), at, str(row["body"]), event=str(row["event"]),
                delivery=f"whd_{row['id']}",
            )  # fmt: skip
            if client is not None:
                answer = sending.post(
                    client, str(row["url"]), str(row["body"]), headers,
                    timeout=sending.TIMEOUT_SECONDS,
                )  # fmt: skip
            else:
                assert send is not None
                answer = send(str(row["url"]), str(row["body"]), headers)
            done = clock()
            if answer.delivered:
                state, next_at = "delivered", done
            elif attempt >= sending.MAX_ATTEMPTS:
                state, next_at = "failed", done
            else:
                state, next_at = "pending", done + sending.backoff(attempt)
            counts["retrying" if state == "pending" else state] += 1
            with uow:
                store.record_attempt(
                    uow.conn, int(row["id"]), attempt, at=at, status=answer.status,
                    error=answer.error, milliseconds=answer.milliseconds, state=state,
                    next_at=next_at,
                )  # fmt: skip
    finally:
        if client is not None:
            client.close()
    return Delivered(collected, counts["delivered"], counts["retrying"], counts["failed"])


@dataclass(frozen=True, slots=True)
class Attempt:
    """A line of the delivery log."""

    attempted_at: datetime
    endpoint: str
    delivery: int
    event: str
    record_id: int  # the activity record it comes from
    attempt: int
    status: int | None
    error: str | None
    milliseconds: int
    state: str  # the delivery's: pending, delivered, failed
    next_attempt_at: datetime | None  # pending: when it is tried again


def delivery_log(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    endpoint: str | None = None,
    limit: int = 50,
) -> list[Attempt]:
    """The newest attempts first (``endpoint``'s only)."""
    actor.require(Permission.READ, "read the webhooks' delivery log")
    with uow:
        conn = uow.conn
        pid = portfolio_id(conn, portfolio)
        endpoint_id = None
        if endpoint is not None:
            found = store.endpoint_named(conn, pid, endpoint.strip())
            if found is None:
                raise NotFound(f"no webhook {endpoint.strip()!r}")
            endpoint_id = int(found["id"])
        rows = store.attempts(conn, pid, endpoint_id, limit)
    return [
        Attempt(
            _aware(r["attempted_at"]),
            str(r["endpoint"]),
            int(r["delivery"]),
            str(r["event"]),
            int(r["activity_id"]),
            int(r["attempt"]),
            r["status"],
            r["error"],
            int(r["milliseconds"]),
            str(r["state"]),
            _aware(r["next_attempt_at"]) if r["state"] == "pending" else None,
        )
        for r in rows
    ]
