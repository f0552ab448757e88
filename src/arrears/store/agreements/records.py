"""Payment plans, their schedules and settlements: the SQL, on the caller's connection.

No commit here: the unit of work owns the transaction. Every write that changes an agreement
writes its activity record in the same transaction, with an idempotency key made of business
ids (portfolio, debtor, currency, days), never row ids; a record whose key exists is not
written again (:func:`log`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import Connection, func, insert, or_, select, update

from arrears.domain.activity import Activity
from arrears.domain.agreements import (
    LIVE_PLAN_STATUSES,
    LIVE_SETTLEMENT_STATUSES,
    PLAN_PAYMENT_SCHEMA,
    PLAN_SCHEDULE_SCHEMA,
    ScheduledInstalment,
    SettlementStatus,
)
from arrears.store import bulk
from arrears.store.activity_log import Entry, record
from arrears.store.portfolios import portfolio_id
from arrears.store.schema import (
    activity,
    collection_case,
    debtor,
    instalment,
    invoice,
    offer,
    payment,
    payment_plan,
    plan_instalment,
    settlement,
)
from arrears.store.schema import portfolio as portfolio_table


@dataclass(frozen=True, slots=True)
class Owner:
    """A debtor of a portfolio, with its store ids."""

    portfolio: str
    portfolio_id: int
    debtor_id: int
    external_id: str
    currency: str  # the debtor's own


def owner(conn: Connection, portfolio: str, external_id: str) -> Owner | None:
    """The debtor, or ``None``; :class:`UnknownPortfolio` for an unknown portfolio."""
    pid = portfolio_id(conn, portfolio)
    row = conn.execute(
        select(debtor.c.id, debtor.c.currency).where(
            debtor.c.portfolio_id == pid, debtor.c.external_id == external_id
        )
    ).first()
    if row is None:
        return None
    return Owner(portfolio, pid, int(row.id), external_id, str(row.currency))


def owner_by_id(conn: Connection, debtor_id: int) -> Owner:
    row = conn.execute(
        select(
            portfolio_table.c.code, debtor.c.portfolio_id, debtor.c.external_id, debtor.c.currency
        )
        .join(portfolio_table, portfolio_table.c.id == debtor.c.portfolio_id)
        .where(debtor.c.id == debtor_id)
    ).one()
    return Owner(
        str(row.code), int(row.portfolio_id), debtor_id, str(row.external_id), str(row.currency)
    )


def open_balance_minor(conn: Connection, who: Owner, currency: str) -> int:
    """What the debtor owes in ``currency``: every open instalment, due or not."""
    total = conn.execute(
        select(func.coalesce(func.sum(instalment.c.open_minor), 0)).where(
            instalment.c.debtor_id == who.debtor_id, instalment.c.currency == currency
        )
    ).scalar_one()
    return int(total)


def payments(
    conn: Connection, debtor_currency: list[tuple[int, str]], since: date, as_of: date
) -> dict[tuple[int, str], list[tuple[date, int]]]:
    """Each (debtor, currency)'s payments received from ``since`` to ``as_of`` and not reversed
    as of ``as_of``: ``(received_on, amount_minor)``, by day."""
    found: dict[tuple[int, str], list[tuple[date, int]]] = defaultdict(list)
    if not debtor_currency:
        return found
    ids = sorted({d for d, _ in debtor_currency})
    wanted = set(debtor_currency)
    for start in range(0, len(ids), 5000):
        rows = conn.execute(
            select(
                payment.c.debtor_id,
                payment.c.currency,
                payment.c.received_on,
                payment.c.amount_minor,
            )
            .where(
                payment.c.debtor_id.in_(ids[start : start + 5000]),
                payment.c.received_on >= since,
                payment.c.received_on <= as_of,
                or_(payment.c.reversed_on.is_(None), payment.c.reversed_on > as_of),
            )
            .order_by(payment.c.received_on, payment.c.id)
        )
        for row in rows:
            key = (int(row.debtor_id), str(row.currency))
            if key in wanted:
                found[key].append((row.received_on, int(row.amount_minor)))
    return found


def log(conn: Connection, who: Owner, entry: Activity) -> bool:
    """Write ``entry`` unless a record with its idempotency key exists; ``False``: it did."""
    if (
        entry.idempotency_key is not None
        and conn.execute(
            select(activity.c.id).where(activity.c.idempotency_key == entry.idempotency_key)
        ).first()
    ):
        return False
    record(conn, [Entry(entry, who.portfolio_id, who.debtor_id)])
    return True


def _inserted(key: Any) -> int:
    assert key is not None
    return int(key[0])


# Payment plans ---------------------------------------------------------------------------------


def plan_by_key(conn: Connection, key: str) -> dict[str, Any] | None:
    row = conn.execute(select(payment_plan).where(payment_plan.c.key == key)).mappings().first()
    return None if row is None else dict(row)


def plan(conn: Connection, plan_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(payment_plan).where(payment_plan.c.id == plan_id)).mappings().first()
    return None if row is None else dict(row)


def live_plan(conn: Connection, who: Owner, currency: str) -> dict[str, Any] | None:
    """The debtor's plan in ``currency`` that is active or awaiting approval, if any."""
    row = (
        conn.execute(
            select(payment_plan).where(
                payment_plan.c.debtor_id == who.debtor_id,
                payment_plan.c.currency == currency,
                payment_plan.c.status.in_(LIVE_PLAN_STATUSES),
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


def insert_plan(
    conn: Connection, values: dict[str, Any], schedule: tuple[ScheduledInstalment, ...]
) -> int:
    plan_id = _inserted(conn.execute(insert(payment_plan).values(**values)).inserted_primary_key)
    conn.execute(
        insert(plan_instalment),
        [
            {"plan_id": plan_id, "seq": r.seq, "due_on": r.due_on, "amount_minor": r.amount_minor}
            for r in schedule
        ],
    )
    return plan_id


def update_plan(conn: Connection, plan_id: int, **values: Any) -> None:
    conn.execute(update(payment_plan).where(payment_plan.c.id == plan_id).values(**values))


def schedule(conn: Connection, plan_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(plan_instalment)
        .where(plan_instalment.c.plan_id == plan_id)
        .order_by(plan_instalment.c.seq)
    ).mappings()
    return [dict(r) for r in rows]


def schedule_rows(conn: Connection, plan_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The schedules of ``plan_ids`` (every column of ``plan_instalment``), by plan, in order."""
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for start in range(0, len(plan_ids), 5000):
        rows = conn.execute(
            select(plan_instalment)
            .where(plan_instalment.c.plan_id.in_(plan_ids[start : start + 5000]))
            .order_by(plan_instalment.c.plan_id, plan_instalment.c.seq)
        ).mappings()
        for r in rows:
            found[int(r["plan_id"])].append(dict(r))
    return found


def scheduled(rows: list[dict[str, Any]]) -> list[ScheduledInstalment]:
    """A schedule's rows as the domain's instalments."""
    return [ScheduledInstalment(int(r["seq"]), r["due_on"], int(r["amount_minor"])) for r in rows]


def update_instalment(conn: Connection, plan_id: int, seq: int, **values: Any) -> None:
    conn.execute(
        update(plan_instalment)
        .where(plan_instalment.c.plan_id == plan_id, plan_instalment.c.seq == seq)
        .values(**values)
    )


def plans(
    conn: Connection,
    pid: int,
    *,
    debtor_id: int | None = None,
    statuses: tuple[str, ...] | None = None,
    ended_since: date | None = None,
    plan_id: int | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """The portfolio's plans (one debtor's, or the one ``plan_id``), newest first, with the
    debtor's external id;
    ``statuses``: only those; ``ended_since``: only those not ended before that day;
    ``limit`` rows at most after the first ``offset`` (a page, in SQL)."""
    query = (
        select(payment_plan, debtor.c.external_id.label("debtor"))
        .join(debtor, debtor.c.id == payment_plan.c.debtor_id)
        .where(payment_plan.c.portfolio_id == pid)
        .order_by(payment_plan.c.id.desc())
    )
    if debtor_id is not None:
        query = query.where(payment_plan.c.debtor_id == debtor_id)
    if plan_id is not None:
        query = query.where(payment_plan.c.id == plan_id)
    if statuses is not None:
        query = query.where(payment_plan.c.status.in_(statuses))
    if ended_since is not None:
        query = query.where(
            or_(payment_plan.c.ended_on.is_(None), payment_plan.c.ended_on >= ended_since)
        )
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return [dict(r) for r in conn.execute(query).mappings()]


#: The plans :func:`plan_schedule_frame` and :func:`plan_payment_frame` read: of the portfolio,
#: of ``statuses``, started by the day and not ended by then.
_RUNNING = (
    "pp.portfolio_id = :pid AND pp.status IN :statuses AND pp.active_on <= :as_of "
    "AND (pp.ended_on IS NULL OR pp.ended_on > :as_of)"
)


def _running_params(pid: int, as_of: date, statuses: tuple[str, ...]) -> dict[str, Any]:
    return {"pid": pid, "as_of": as_of.isoformat(), "statuses": statuses}


def _expand(sql: str, statuses: tuple[str, ...]) -> str:
    """``IN :statuses`` written out (the statuses are this module's constants)."""
    return sql.replace(":statuses", "(" + ", ".join(f"'{s}'" for s in statuses) + ")")


def plan_schedule_frame(
    conn: Connection, pid: int, as_of: date, statuses: tuple[str, ...]
) -> pl.DataFrame:
    """Every instalment of the plans running on ``as_of`` (see ``_RUNNING``), in one query:
    :data:`arrears.domain.agreements.PLAN_SCHEDULE_SCHEMA` and what the last run recorded
    (``was_status``, ``was_paid_on``, ``was_found_on``)."""
    sql = f"""
        SELECT pi.plan_id, pi.seq, pi.due_on, pi.amount_minor, pp.grace_days,
               pp.missed_to_break, pi.status, pi.paid_on, pi.found_on
        FROM plan_instalment pi JOIN payment_plan pp ON pp.id = pi.plan_id
        WHERE {_RUNNING}"""
    schema = PLAN_SCHEDULE_SCHEMA | {
        "was_status": pl.String(),
        "was_paid_on": pl.Date(),
        "was_found_on": pl.Date(),
    }
    params = _running_params(pid, as_of, statuses)
    return bulk.read_frame(conn, _expand(sql, statuses), schema, params)


def plan_payment_frame(
    conn: Connection, pid: int, as_of: date, statuses: tuple[str, ...]
) -> pl.DataFrame:
    """The payments towards the plans running on ``as_of``: their debtor's in their currency
    from the day each was accepted to ``as_of``, not reversed by then
    (:data:`arrears.domain.agreements.PLAN_PAYMENT_SCHEMA`), in one query."""
    sql = f"""
        SELECT pp.id, p.received_on, p.amount_minor
        FROM payment_plan pp JOIN payment p
          ON p.debtor_id = pp.debtor_id AND p.currency = pp.currency
         AND p.received_on >= pp.accepted_on AND p.received_on <= :as_of
         AND (p.reversed_on IS NULL OR p.reversed_on > :as_of)
        WHERE {_RUNNING}"""
    params = _running_params(pid, as_of, statuses)
    return bulk.read_frame(conn, _expand(sql, statuses), PLAN_PAYMENT_SCHEMA, params)


def plans_by_id(conn: Connection, plan_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The plans ``plan_ids`` (every column), by id."""
    found: dict[int, dict[str, Any]] = {}
    for start in range(0, len(plan_ids), 5000):
        rows = conn.execute(
            select(payment_plan).where(payment_plan.c.id.in_(plan_ids[start : start + 5000]))
        ).mappings()
        found |= {int(r["id"]): dict(r) for r in rows}
    return found


# Settlements -----------------------------------------------------------------------------------


def settlement_by_key(conn: Connection, key: str) -> dict[str, Any] | None:
    row = conn.execute(select(settlement).where(settlement.c.key == key)).mappings().first()
    return None if row is None else dict(row)


def settlement_row(conn: Connection, settlement_id: int) -> dict[str, Any] | None:
    row = (
        conn.execute(select(settlement).where(settlement.c.id == settlement_id)).mappings().first()
    )
    return None if row is None else dict(row)


def live_settlement(conn: Connection, who: Owner, currency: str) -> dict[str, Any] | None:
    row = (
        conn.execute(
            select(settlement).where(
                settlement.c.debtor_id == who.debtor_id,
                settlement.c.currency == currency,
                settlement.c.status.in_(
                    (SettlementStatus.AWAITING_APPROVAL, *LIVE_SETTLEMENT_STATUSES)
                ),
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


def insert_settlement(conn: Connection, values: dict[str, Any]) -> int:
    return _inserted(conn.execute(insert(settlement).values(**values)).inserted_primary_key)


def update_settlement(conn: Connection, settlement_id: int, **values: Any) -> None:
    conn.execute(update(settlement).where(settlement.c.id == settlement_id).values(**values))


def settlements(
    conn: Connection,
    pid: int,
    *,
    debtor_id: int | None = None,
    statuses: tuple[str, ...] | None = None,
    ended_since: date | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """The portfolio's settlements (one debtor's), newest first, with the debtor's external
    id; ``statuses``: only those; ``ended_since``: only those not ended before that day;
    ``limit`` rows at most after the first ``offset`` (a page, in SQL)."""
    query = (
        select(settlement, debtor.c.external_id.label("debtor"))
        .join(debtor, debtor.c.id == settlement.c.debtor_id)
        .where(settlement.c.portfolio_id == pid)
        .order_by(settlement.c.id.desc())
    )
    if debtor_id is not None:
        query = query.where(settlement.c.debtor_id == debtor_id)
    if statuses is not None:
        query = query.where(settlement.c.status.in_(statuses))
    if ended_since is not None:
        query = query.where(
            or_(settlement.c.ended_on.is_(None), settlement.c.ended_on >= ended_since)
        )
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return [dict(r) for r in conn.execute(query).mappings()]


def open_invoices(
    conn: Connection, who: Owner, currency: str, issued_by: date
) -> list[tuple[str, int]]:
    """The debtor's invoices in ``currency`` issued by ``issued_by`` with something open:
    ``(external id, open minor)``, oldest due first."""
    rows = conn.execute(
        select(
            invoice.c.external_id,
            func.sum(instalment.c.open_minor).label("open_minor"),
            func.min(instalment.c.due_date).label("due"),
        )
        .join(instalment, instalment.c.invoice_id == invoice.c.id)
        .where(
            invoice.c.debtor_id == who.debtor_id,
            invoice.c.currency == currency,
            invoice.c.issue_date <= issued_by,
            instalment.c.open_minor > 0,
        )
        .group_by(invoice.c.external_id)
        .order_by("due", invoice.c.external_id)
    )
    return [(str(r.external_id), int(r.open_minor)) for r in rows]


# The cycle's offers ----------------------------------------------------------------------------


def close_offers(
    conn: Connection, who: Owner, kind: str, status: str, *, made_by: date | None = None
) -> int:
    """Mark the debtor's open offers of ``kind`` (made by the cycle) ``status``."""
    query = update(offer).where(
        offer.c.debtor_id == who.debtor_id, offer.c.kind == kind, offer.c.status == "open"
    )
    if made_by is not None:
        query = query.where(offer.c.made_on <= made_by)
    return int(conn.execute(query.values(status=status)).rowcount or 0)


def open_offers(conn: Connection, pid: int) -> list[dict[str, Any]]:
    """The portfolio's open offers made by the cycle, oldest first."""
    query = (
        select(offer)
        .select_from(offer.join(debtor, debtor.c.id == offer.c.debtor_id))
        .where(debtor.c.portfolio_id == pid, offer.c.status == "open")
        .order_by(offer.c.made_on, offer.c.id)
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def offers(
    conn: Connection, pid: int, *, debtor_id: int | None = None, everything: bool = False
) -> list[dict[str, Any]]:
    """The portfolio's offers made by the cycle (open ones, or ``everything``), newest first,
    with the debtor's external id and the case's currency."""
    query = (
        select(offer, debtor.c.external_id.label("debtor"), collection_case.c.currency)
        .select_from(
            offer.join(debtor, debtor.c.id == offer.c.debtor_id).join(
                collection_case, collection_case.c.id == offer.c.case_id
            )
        )
        .where(debtor.c.portfolio_id == pid)
        .order_by(offer.c.made_on.desc(), offer.c.id.desc())
    )
    if not everything:
        query = query.where(offer.c.status == "open")
    if debtor_id is not None:
        query = query.where(offer.c.debtor_id == debtor_id)
    return [dict(r) for r in conn.execute(query).mappings()]


def set_offer(conn: Connection, offer_id: int, **values: Any) -> None:
    conn.execute(update(offer).where(offer.c.id == offer_id).values(**values))
