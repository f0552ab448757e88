"""Read-only queries the collection KPIs need beyond the ledger's history (docs/kpi.md):

- :func:`read_case_groups`: each debtor's case stage and agency **as of the end of a past day**
  (the grouping of ``arrears kpi --by stage|agency``);
- :func:`read_calls`: the call outcomes logged by hand (activity ``contact``, channel ``call``),
  with who logged them (right-party contact, attribution to collectors);
- :func:`read_plans` and :func:`read_settlements`: the payment plans and settlement offers, with
  the days they started and ended (plan completion, settlement acceptance);
- :func:`read_commissions`: the agencies' commissions on what they remitted (cost to collect).

Plain selects; nothing is written. Every function raises
:class:`arrears.store.portfolios.UnknownPortfolio` for an unknown portfolio code.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import polars as pl
from sqlalchemy import Engine, and_, or_, select

from arrears.store.portfolios import portfolio_id
from arrears.store.schema import (
    activity,
    agency,
    agency_remittance,
    collection_case,
    payment_plan,
    placement,
    settlement,
)

#: The case events whose payload carries the case's stage and agency after the event.
CASE_KINDS = ("case.opened", "case.reopened", "case.stage_changed", "case.updated", "case.closed")

CASE_GROUP_SCHEMA: dict[str, pl.DataType] = {
    "debtor_id": pl.Int64(),
    "currency": pl.String(),
    "stage": pl.String(),
    "agency": pl.String(),
}
CALL_SCHEMA: dict[str, pl.DataType] = {
    "debtor_id": pl.Int64(),
    "on": pl.Date(),
    "actor": pl.String(),
    "outcome": pl.String(),
}
PLAN_SCHEMA: dict[str, pl.DataType] = {
    "plan_id": pl.Int64(),
    "debtor_id": pl.Int64(),
    "currency": pl.String(),
    "status": pl.String(),
    "balance_minor": pl.Int64(),
    "active_on": pl.Date(),
    "ended_on": pl.Date(),
}
SETTLEMENT_SCHEMA: dict[str, pl.DataType] = {
    "settlement_id": pl.Int64(),
    "debtor_id": pl.Int64(),
    "currency": pl.String(),
    "status": pl.String(),
    "amount_minor": pl.Int64(),
    "offered_on": pl.Date(),
    "expires_on": pl.Date(),
    "accepted_on": pl.Date(),
    "ended_on": pl.Date(),
}
COMMISSION_SCHEMA: dict[str, pl.DataType] = {
    "debtor_id": pl.Int64(),
    "currency": pl.String(),
    "agency": pl.String(),
    "collected_on": pl.Date(),
    "commission_minor": pl.Int64(),
}


def _pid(engine: Engine, portfolio: str) -> int:
    with engine.connect() as conn:
        return int(portfolio_id(conn, portfolio))


def _day(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def read_case_groups(engine: Engine, *, portfolio: str, on: date) -> pl.DataFrame:
    """One row per debtor and currency with a case open at the end of ``on``: its ``stage``
    and ``agency`` then (:data:`CASE_GROUP_SCHEMA`; ``agency`` null when not placed).

    A case not changed since ``on`` (``updated_on`` on or before it) is read as it stands; for
    one changed since, the stage and agency are those of its last case event (``case.*``
    activity) of a business day on or before ``on``. An agency's placement by hand
    (``placement``, placed on or before ``on`` and not recalled by then) names the agency."""
    pid = _pid(engine, portfolio)
    c = collection_case.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(c.id, c.debtor_id, c.currency, c.opened_on, c.stage, c.agency, c.updated_on)
            .where(c.portfolio_id == pid, c.opened_on <= on)
            .where(or_(c.closed_on.is_(None), c.closed_on > on))
        ).all()
        changed = {int(r[0]): r for r in rows if _day(r[6]) is not None and _day(r[6]) > on}  # type: ignore[operator]
        events: dict[tuple[int, str, date], tuple[date, int, str | None, str | None]] = {}
        if changed:
            debtors = sorted({int(r[1]) for r in changed.values()})
            for chunk in range(0, len(debtors), 5000):
                query = select(
                    activity.c.id, activity.c.debtor_id, activity.c.payload,
                    activity.c.idempotency_key, activity.c.occurred_at,
                ).where(
                    activity.c.portfolio_id == pid,
                    activity.c.subject_kind == "case",
                    activity.c.kind.in_(CASE_KINDS),
                    activity.c.debtor_id.in_(debtors[chunk : chunk + 5000]),
                )  # fmt: skip
                for aid, debtor_id, payload, key, occurred_at in conn.execute(query):
                    day = _event_day(key, occurred_at)
                    if day > on:
                        continue
                    body: Any = json.loads(payload) if isinstance(payload, str) else payload
                    case = str(body.get("case") or "") if isinstance(body, dict) else ""
                    parts = case.rsplit(":", 2)
                    if len(parts) < 3:
                        continue
                    natural = (int(debtor_id), parts[-2], date.fromisoformat(parts[-1]))
                    seen = events.get(natural)
                    if seen is None or (day, int(aid)) > seen[:2]:
                        events[natural] = (day, int(aid), body.get("stage"), body.get("agency"))
        placed = conn.execute(
            select(placement.c.debtor_id, placement.c.currency, agency.c.code)
            .join(agency, agency.c.id == placement.c.agency_id)
            .where(placement.c.portfolio_id == pid, placement.c.placed_on <= on)
            .where(or_(placement.c.recalled_on.is_(None), placement.c.recalled_on > on))
            .order_by(placement.c.placed_on, placement.c.id)
        ).all()
    by_hand = {(int(d), str(cur)): str(code) for d, cur, code in placed}
    out: list[tuple[int, str, str, str | None]] = []
    for case_id, debtor_id, currency, opened_on, now_stage, now_label, _ in rows:
        stage, label = now_stage, now_label
        if case_id in changed:
            event = events.get((int(debtor_id), str(currency), _day(opened_on)))  # type: ignore[arg-type]
            if event is not None:
                stage, label = event[2] or now_stage, event[3]
        label = by_hand.get((int(debtor_id), str(currency)), label)
        out.append((int(debtor_id), str(currency), str(stage), label or None))
    frame = pl.DataFrame(out, schema=CASE_GROUP_SCHEMA, orient="row")
    # one case per debtor and currency is open at a time; keep one row if the store has more
    return frame.unique(["debtor_id", "currency"], keep="last", maintain_order=True)


def _event_day(key: str | None, occurred_at: Any) -> date:
    """The business day of a cycle event: the day that ends its idempotency key."""
    if key:
        try:
            return date.fromisoformat(key[-10:])
        except ValueError:
            pass
    found = _day(occurred_at)
    assert found is not None
    return found


def read_calls(engine: Engine, *, portfolio: str) -> pl.DataFrame:
    """Every call outcome logged by hand (activity ``contact`` with channel ``call``):
    :data:`CALL_SCHEMA`, ``actor`` as recorded (``user:NAME``, ``cli:NAME``)."""
    pid = _pid(engine, portfolio)
    out: list[tuple[int, date, str, str]] = []
    with engine.connect() as conn:
        query = select(
            activity.c.debtor_id, activity.c.actor, activity.c.payload, activity.c.occurred_at
        ).where(activity.c.portfolio_id == pid, activity.c.kind == "contact")
        for debtor_id, actor, payload, occurred_at in conn.execute(query):
            body: Any = json.loads(payload) if isinstance(payload, str) else payload
            if not isinstance(body, dict) or body.get("channel") != "call" or debtor_id is None:
                continue
            on = _day(body.get("on")) or _day(occurred_at)
            assert on is not None
            out.append((int(debtor_id), on, str(actor), str(body.get("outcome") or "")))
    return pl.DataFrame(out, schema=CALL_SCHEMA, orient="row")


def read_contacts(engine: Engine, *, portfolio: str) -> pl.DataFrame:
    """Every contact with a debtor, any channel (:data:`arrears.kpi.channels.CONTACT_SCHEMA`):
    the messages the outbox sent (their channel, the day sent, UTC; ``logged`` false) and the
    contacts logged by hand (activity ``contact``: its channel and day; ``logged`` true), in
    the order they were recorded."""
    from arrears.kpi.channels import CONTACT_SCHEMA  # noqa: PLC0415
    from arrears.store.schema import outbox  # noqa: PLC0415

    pid = _pid(engine, portfolio)
    out: list[tuple[int, date, str, bool]] = []
    with engine.connect() as conn:
        sent = select(outbox.c.debtor_id, outbox.c.channel, outbox.c.sent_at).where(
            outbox.c.portfolio_id == pid, outbox.c.sent_at.is_not(None)
        )
        for debtor_id, channel, sent_at in conn.execute(sent.order_by(outbox.c.sent_at)):
            day = _day(sent_at)
            if debtor_id is not None and day is not None:
                out.append((int(debtor_id), day, str(channel), False))
        query = select(activity.c.debtor_id, activity.c.payload, activity.c.occurred_at).where(
            activity.c.portfolio_id == pid, activity.c.kind == "contact"
        )
        for debtor_id, payload, occurred_at in conn.execute(query.order_by(activity.c.id)):
            body: Any = json.loads(payload) if isinstance(payload, str) else payload
            if not isinstance(body, dict) or not body.get("channel") or debtor_id is None:
                continue
            on = _day(body.get("on")) or _day(occurred_at)
            assert on is not None
            out.append((int(debtor_id), on, str(body["channel"]), True))
    return pl.DataFrame(out, schema=CONTACT_SCHEMA, orient="row")


def read_plans(engine: Engine, *, portfolio: str) -> pl.DataFrame:
    """Every payment plan of ``portfolio``: :data:`PLAN_SCHEMA`."""
    pid = _pid(engine, portfolio)
    p = payment_plan.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                p.id, p.debtor_id, p.currency, p.status, p.balance_minor, p.active_on, p.ended_on
            ).where(p.portfolio_id == pid)
        ).all()
    return pl.DataFrame(
        [(*r[:5], _day(r[5]), _day(r[6])) for r in rows], schema=PLAN_SCHEMA, orient="row"
    )


def read_settlements(engine: Engine, *, portfolio: str) -> pl.DataFrame:
    """Every settlement offer of ``portfolio``: :data:`SETTLEMENT_SCHEMA`."""
    pid = _pid(engine, portfolio)
    s = settlement.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                s.id, s.debtor_id, s.currency, s.status, s.amount_minor,
                s.offered_on, s.expires_on, s.accepted_on, s.ended_on,
            ).where(s.portfolio_id == pid)
        ).all()  # fmt: skip
    return pl.DataFrame(
        [(*r[:5], *(_day(v) for v in r[5:])) for r in rows],
        schema=SETTLEMENT_SCHEMA,
        orient="row",
    )


def read_commissions(engine: Engine, *, portfolio: str) -> pl.DataFrame:
    """Every remittance line's commission (:data:`COMMISSION_SCHEMA`)."""
    pid = _pid(engine, portfolio)
    r, pl_ = agency_remittance.c, placement.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(pl_.debtor_id, pl_.currency, agency.c.code, r.collected_on, r.commission_minor)
            .select_from(
                agency_remittance.join(placement, and_(placement.c.id == r.placement_id)).join(
                    agency, agency.c.id == r.agency_id
                )
            )
            .where(pl_.portfolio_id == pid)
        ).all()
    return pl.DataFrame(
        [(int(a), str(b), str(c), _day(d), int(e)) for a, b, c, d, e in rows],
        schema=COMMISSION_SCHEMA,
        orient="row",
    )
