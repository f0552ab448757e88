"""Read models of the collectors' web pages (docs/web.md) that no other service gives: who a
debtor is, and how many days past due the oldest open instalment of each of a few debtors is;
the account page's contact points with their consents, open invoices, cases, holds, timeline
(the activity log, paginated by a cursor), "may I call now?" and the approvals inbox."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import Connection, func, or_, select, update

from arrears.contact.model import Pack
from arrears.domain.activity import Activity
from arrears.domain.actor import Actor, Permission
from arrears.domain.errors import Conflict, NotFound
from arrears.domain.money import from_minor
from arrears.domain.problems import Problem, ProblemsFound, printable
from arrears.services.outreach.compliance import CallTask, CallVerdict, may_call
from arrears.services.uow import SqlUnitOfWork
from arrears.store.activity_log import Entry, record
from arrears.store.portfolios import portfolio_id
from arrears.store.schema import (
    activity,
    collection_case,
    consent,
    contact_point,
    hold,
    instalment,
    invoice,
)
from arrears.store.schema import debtor as debtor_table
from arrears.store.schema import task as task_table


@dataclass(frozen=True, slots=True)
class DebtorSummary:
    external_id: str
    name: str
    kind: str  # person, company
    country: str
    language: str
    currency: str
    do_not_contact: bool
    credit_status: str = "active"  # active, on_hold (no new credit), closed


def debtor_summary(
    uow: SqlUnitOfWork, actor: Actor, *, portfolio: str, debtor: str
) -> DebtorSummary:
    """Who ``debtor`` (external id) is; :class:`NotFound` for an unknown one."""
    actor.require(Permission.READ, "read an account")
    with uow:
        pid = portfolio_id(uow.conn, portfolio)
        row = uow.conn.execute(
            select(debtor_table).where(
                debtor_table.c.portfolio_id == pid, debtor_table.c.external_id == debtor
            )
        ).first()
    if row is None:
        raise NotFound(printable(f"unknown debtor {debtor!r}"))
    m = row._mapping
    return DebtorSummary(
        str(m["external_id"]),
        str(m["name"]),
        str(m["kind"]),
        str(m["country"]),
        str(m["language"]),
        str(m["currency"]),
        bool(m["do_not_contact"]),
        str(m["credit_status"]),
    )


def days_past_due(
    uow: SqlUnitOfWork, actor: Actor, *, portfolio: str, debtors: Sequence[str], as_of: date
) -> dict[tuple[str, str], int]:
    """``(debtor, currency)``: days from the due date of the oldest open instalment to
    ``as_of``, for the debtors named (those with nothing past due are absent)."""
    actor.require(Permission.READ, "read accounts")
    if not debtors:
        return {}
    with uow:
        pid = portfolio_id(uow.conn, portfolio)
        rows = uow.conn.execute(
            select(
                debtor_table.c.external_id, instalment.c.currency, func.min(instalment.c.due_date)
            )
            .join(debtor_table, debtor_table.c.id == instalment.c.debtor_id)
            .where(
                debtor_table.c.portfolio_id == pid,
                debtor_table.c.external_id.in_(list(debtors)),
                instalment.c.open_minor > 0,
                instalment.c.due_date < as_of,
            )
            .group_by(debtor_table.c.external_id, instalment.c.currency)
        ).all()
    found = {}
    for external_id, currency, oldest in rows:
        day = oldest if isinstance(oldest, date) else date.fromisoformat(str(oldest))
        found[(str(external_id), str(currency))] = (as_of - day).days
    return found


def debtor_row_id(conn: Connection, portfolio: str, debtor: str) -> int | None:
    """The store id of ``debtor`` (external id) of ``portfolio``, on the caller's connection."""
    found = conn.execute(
        select(debtor_table.c.id).where(
            debtor_table.c.portfolio_id == portfolio_id(conn, portfolio),
            debtor_table.c.external_id == debtor,
        )
    ).scalar()
    return None if found is None else int(found)


def _owner(uow: SqlUnitOfWork, portfolio: str, debtor: str) -> int:
    found = debtor_row_id(uow.conn, portfolio, debtor)
    if found is None:
        raise NotFound(printable(f"unknown debtor {debtor!r}"))
    return found


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


@dataclass(frozen=True, slots=True)
class ContactPointView:
    """A contact point with its consent per channel (``granted``, ``denied``: opted out,
    ``unknown``); ``status`` ``bad``: it bounced or was a wrong number."""

    kind: str  # email, phone, postal
    value: str
    primary: bool
    status: str
    consents: dict[str, str]


def contact_points(
    uow: SqlUnitOfWork, actor: Actor, *, portfolio: str, debtor: str
) -> list[ContactPointView]:
    actor.require(Permission.READ, "read an account")
    with uow:
        owner = _owner(uow, portfolio, debtor)
        points = uow.conn.execute(
            select(contact_point)
            .where(contact_point.c.debtor_id == owner)
            .order_by(contact_point.c.kind, contact_point.c.is_primary.desc(), contact_point.c.id)
        ).all()
        given = uow.conn.execute(
            select(consent.c.contact_point_id, consent.c.channel, consent.c.status).where(
                consent.c.contact_point_id.in_([p.id for p in points])
            )
        ).all()
    by_point: dict[int, dict[str, str]] = {}
    for point_id, channel, status in given:
        by_point.setdefault(int(point_id), {})[str(channel)] = str(status)
    return [
        ContactPointView(
            str(p.kind),
            str(p.value),
            bool(p.is_primary),
            str(p.status),
            dict(sorted(by_point.get(int(p.id), {}).items())),
        )
        for p in points
    ]


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """An open instalment of an invoice: what is left of it and its days past due."""

    number: str
    instalment: int
    issue_date: date
    due_on: date
    days_past_due: int  # 0: not yet due
    currency: str
    amount: Decimal
    open: Decimal
    disputed: bool


def open_invoices(
    uow: SqlUnitOfWork, actor: Actor, *, portfolio: str, debtor: str, as_of: date
) -> list[InvoiceLine]:
    """``debtor``'s open instalments, the oldest due first, their days past due on ``as_of``."""
    actor.require(Permission.READ, "read an account")
    with uow:
        owner = _owner(uow, portfolio, debtor)
        rows = uow.conn.execute(
            select(
                invoice.c.number,
                instalment.c.seq,
                instalment.c.issue_date,
                instalment.c.due_date,
                instalment.c.currency,
                instalment.c.amount_minor,
                instalment.c.open_minor,
                instalment.c.disputed,
            )
            .join(invoice, invoice.c.id == instalment.c.invoice_id)
            .where(instalment.c.debtor_id == owner, instalment.c.open_minor > 0)
            .order_by(instalment.c.due_date, invoice.c.number, instalment.c.seq)
        ).all()
    return [
        InvoiceLine(
            str(r.number),
            int(r.seq),
            _day(r.issue_date),
            _day(r.due_date),
            max((as_of - _day(r.due_date)).days, 0),
            str(r.currency),
            from_minor(int(r.amount_minor), str(r.currency)),
            from_minor(int(r.open_minor), str(r.currency)),
            bool(r.disputed),
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class CaseView:
    """A collection case of the debtor, open or closed."""

    currency: str
    opened_on: date
    closed_on: date | None
    stage: str
    segment: str
    arm: str | None  # the experiment arm
    awaiting_approval: str | None
    paused_by: str | None
    paused_until: date | None
    agency: str | None


def cases(uow: SqlUnitOfWork, actor: Actor, *, portfolio: str, debtor: str) -> list[CaseView]:
    """``debtor``'s collection cases, the open ones first, newest first."""
    actor.require(Permission.READ, "read an account")
    with uow:
        owner = _owner(uow, portfolio, debtor)
        rows = uow.conn.execute(
            select(collection_case)
            .where(collection_case.c.debtor_id == owner)
            .order_by(
                collection_case.c.closed_on.is_(None).desc(), collection_case.c.opened_on.desc()
            )
        ).all()
    return [
        CaseView(
            str(r.currency),
            _day(r.opened_on),
            None if r.closed_on is None else _day(r.closed_on),
            str(r.stage),
            str(r.segment),
            r.arm,
            r.awaiting_approval,
            r.paused_by,
            None if r.paused_until is None else _day(r.paused_until),
            r.agency,
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class HoldView:
    hold_id: int
    starts_on: date
    ends_on: date
    reason: str
    released_on: date | None
    actor: str


def holds(uow: SqlUnitOfWork, actor: Actor, *, portfolio: str, debtor: str) -> list[HoldView]:
    """``debtor``'s holds, newest first."""
    actor.require(Permission.READ, "read an account")
    with uow:
        owner = _owner(uow, portfolio, debtor)
        rows = uow.conn.execute(
            select(hold).where(hold.c.debtor_id == owner).order_by(hold.c.id.desc())
        ).all()
    return [
        HoldView(
            int(r.id),
            _day(r.starts_on),
            _day(r.ends_on),
            str(r.reason),
            None if r.released_on is None else _day(r.released_on),
            str(r.actor),
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class TimelineItem:
    """One record of the account's activity log: what happened (``kind``: ``promise.made``,
    ``message.delivered``, ``contact``, ``note.added``...), when, who did it, and its details."""

    record_id: int
    occurred_at: datetime
    kind: str
    actor: str
    payload: dict[str, Any]
    subject_kind: str = ""
    subject_id: str = ""
    debtor: str | None = None  # its external id


@dataclass(frozen=True, slots=True)
class Timeline:
    items: list[TimelineItem]
    #: the cursor of the next (older) page, ``None`` on the last page
    next_cursor: int | None


def timeline(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    debtor: str | None,
    before: int | None = None,
    limit: int = 25,
    kinds: Sequence[str] = (),
) -> Timeline:
    """``debtor``'s activity log (the portfolio's, ``debtor`` ``None``), newest first: ``limit``
    records older than the record id ``before`` (the cursor a page gives for the next one);
    only kinds starting with one of ``kinds`` when given (``message.`` for every message
    record)."""
    actor.require(Permission.READ, "read the activity log")
    limit = max(1, min(limit, 1000))
    with uow:
        if debtor is None:
            query = select(activity).where(
                activity.c.portfolio_id == portfolio_id(uow.conn, portfolio)
            )
        else:
            query = select(activity).where(activity.c.debtor_id == _owner(uow, portfolio, debtor))
        if before is not None:
            query = query.where(activity.c.id < before)
        if kinds:
            query = query.where(or_(*(activity.c.kind.startswith(k) for k in kinds)))
        query = query.add_columns(debtor_table.c.external_id.label("debtor_external")).outerjoin(
            debtor_table, debtor_table.c.id == activity.c.debtor_id
        )
        rows = uow.conn.execute(query.order_by(activity.c.id.desc()).limit(limit + 1)).all()
    items = [
        TimelineItem(
            int(r.id),
            r.occurred_at,
            str(r.kind),
            str(r.actor),
            dict(r.payload or {}),
            str(r.subject_kind),
            str(r.subject_id),
            r.debtor_external,
        )
        for r in rows[:limit]
    ]
    return Timeline(items, items[-1].record_id if len(rows) > limit else None)


def call_check(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    debtor: str,
    at: datetime,
    packs: dict[str, Pack],
) -> CallVerdict:
    """May ``debtor`` be called at ``at``? The dispatcher's contact rules
    (:func:`arrears.services.outreach.compliance.may_call`) for the debtor's open call task, or for
    a
    call made without one."""
    actor.require(Permission.WORK, "start a call")
    with uow:
        owner = _owner(uow, portfolio, debtor)
        task_id = uow.conn.execute(
            select(func.min(task_table.c.id)).where(
                task_table.c.debtor_id == owner,
                task_table.c.kind == "call",
                task_table.c.status == "open",
            )
        ).scalar()
    return may_call(uow, actor, CallTask(int(task_id or 0), owner, portfolio), at=at, packs=packs)


@dataclass(frozen=True, slots=True)
class AwaitingApproval:
    """An open case the cycle holds at a stage that needs a person's approval."""

    debtor: str
    name: str
    currency: str
    stage: str  # the stage it is in
    awaiting: str  # the stage it waits to enter
    opened_on: date
    open: Decimal


def awaiting_approval(
    uow: SqlUnitOfWork, actor: Actor, *, portfolio: str
) -> list[AwaitingApproval]:
    """The portfolio's open cases waiting for an approval (the approvals inbox), by debtor."""
    actor.require(Permission.APPROVE, "read the approvals inbox")
    with uow:
        pid = portfolio_id(uow.conn, portfolio)
        owed = (
            select(
                instalment.c.debtor_id,
                instalment.c.currency,
                func.sum(instalment.c.open_minor).label("open_minor"),
            )
            .where(instalment.c.portfolio_id == pid)
            .group_by(instalment.c.debtor_id, instalment.c.currency)
            .subquery()
        )
        rows = uow.conn.execute(
            select(
                debtor_table.c.external_id,
                debtor_table.c.name,
                collection_case.c.currency,
                collection_case.c.stage,
                collection_case.c.awaiting_approval,
                collection_case.c.opened_on,
                owed.c.open_minor,
            )
            .join(debtor_table, debtor_table.c.id == collection_case.c.debtor_id)
            .outerjoin(
                owed,
                (owed.c.debtor_id == collection_case.c.debtor_id)
                & (owed.c.currency == collection_case.c.currency),
            )
            .where(
                collection_case.c.portfolio_id == pid,
                collection_case.c.closed_on.is_(None),
                collection_case.c.awaiting_approval.is_not(None),
            )
            .order_by(debtor_table.c.external_id, collection_case.c.currency)
        ).all()
    return [
        AwaitingApproval(
            str(r.external_id),
            str(r.name),
            str(r.currency),
            str(r.stage),
            str(r.awaiting_approval),
            _day(r.opened_on),
            from_minor(int(r.open_minor or 0), str(r.currency)),
        )
        for r in rows
    ]


class CreditHeld(Activity):
    kind: ClassVar[str] = "credit.held"


class CreditReleased(Activity):
    kind: ClassVar[str] = "credit.released"


@dataclass(frozen=True, slots=True)
class CreditChanged:
    debtor: str
    credit_status: str  # what it is now
    changed: bool  # False: it was so already


def set_credit_hold(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    debtor: str,
    hold: bool,
    reason: str,
    at: datetime,
) -> CreditChanged:
    """Put ``debtor``'s credit on hold (``hold``: no new sales on credit; the debtor's
    ``credit_status`` ``on_hold``, as the policy's ``credit_hold`` step does) with a reason, or
    release it (``active``); a closed account is refused (:class:`Conflict`). Doing it twice
    changes nothing."""
    actor.require(Permission.WORK, "hold or release a debtor's credit")
    said = reason.strip()
    source = f"credit of {debtor}"
    if hold and not said:
        raise ProblemsFound([Problem(source, None, "reason", "a credit hold needs a reason")])
    if len(said) > 2000:
        raise ProblemsFound([Problem(source, None, "reason", "at most 2000 characters")])
    before, after = ("active", "on_hold") if hold else ("on_hold", "active")
    with uow:
        conn = uow.conn
        owner = _owner(uow, portfolio, debtor)
        status = str(
            conn.execute(
                select(debtor_table.c.credit_status).where(debtor_table.c.id == owner)
            ).scalar_one()
        )
        if status == after:
            return CreditChanged(debtor, status, changed=False)
        if status != before:
            raise Conflict(printable(f"{source} is {status}: it cannot be held or released"))
        conn.execute(
            update(debtor_table)
            .where(debtor_table.c.id == owner, debtor_table.c.credit_status == before)
            .values(credit_status=after, updated_at=at)
        )
        kind = CreditHeld if hold else CreditReleased
        payload = {"before": before, "after": after} | ({"reason": said} if said else {})
        record(
            conn,
            [
                Entry(
                    kind(
                        occurred_at=at, actor=actor.name, portfolio=portfolio, debtor=debtor,
                        subject_kind="debtor", subject_id=debtor,
                        payload=payload,
                    ),
                    portfolio_id(conn, portfolio),
                    owner,
                )
            ],
        )  # fmt: skip
    return CreditChanged(debtor, after, changed=True)
