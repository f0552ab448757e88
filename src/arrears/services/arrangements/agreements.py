"""Payment plans as use cases: quote, accept, approve (beyond the policy's limits), cancel,
list. Settlements are :mod:`arrears.services.arrangements.settlements`'s; what the daily cycle does
with
both, :mod:`arrears.services.arrangements.agreement_monitor`'s.

Each change checks the actor's role (``WORK`` to quote, accept and offer; ``APPROVE`` to approve
what goes beyond the policy's limits), checks the request (every problem at once, as
:class:`~arrears.domain.problems.ProblemsFound`), runs in one transaction of its unit of work and
writes its activity record there, naming the actor, with an idempotency key made of business
ids: the same request again changes nothing. The calculator and the judgement of a plan or a
settlement are pure (:mod:`arrears.domain.agreements`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from arrears.domain import agreements as rules
from arrears.domain.activity import Activity
from arrears.domain.actor import Actor, Permission
from arrears.domain.agreements import (
    LIVE_PLAN_STATUSES,
    Frequency,
    Limits,
    PlanStatus,
    PlanTerms,
    SettlementStatus,
)
from arrears.domain.errors import Conflict, NotFound
from arrears.domain.money import Money, MoneyError, is_currency, to_minor
from arrears.domain.problems import Problem, ProblemsFound, printable
from arrears.policy.model import Policy
from arrears.services.uow import SqlUnitOfWork
from arrears.store.agreements import records
from arrears.store.agreements.records import Owner
from arrears.store.portfolios import UnknownPortfolio, portfolio_id

#: How long the cycle looks back for a broken plan (its on_broken_promise steps' anchor).
BROKEN_LOOKBACK_DAYS = 400


class _Request:
    """The problems of one request, raised together (an unknown debtor alone: NotFound)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def add(self, message: str) -> None:
        self.problems.append(Problem(self.source, None, None, message))

    def check(self) -> None:
        if self.problems:
            raise ProblemsFound(self.problems)


def _owner(conn: Connection, request: _Request, portfolio: str, debtor: str) -> Owner:
    try:
        found = records.owner(conn, portfolio, debtor)
    except UnknownPortfolio as exc:
        raise NotFound(printable(f"{request.source}: {exc}")) from exc
    if found is None:
        if request.problems:
            request.add(f"unknown debtor {debtor!r}")
            request.check()
        raise NotFound(printable(f"{request.source}: unknown debtor {debtor!r}"))
    return found


def _portfolio_id(conn: Connection, source: str, portfolio: str) -> int:
    try:
        return portfolio_id(conn, portfolio)
    except UnknownPortfolio as exc:
        raise NotFound(f"{source}: {exc}") from exc


def _scope(
    conn: Connection, request: _Request, portfolio: str, debtor: str | None
) -> tuple[int, int | None]:
    """A listing's portfolio id and ``debtor``'s (``None``: every debtor's)."""
    pid = _portfolio_id(conn, request.source, portfolio)
    debtor_id = None if debtor is None else _owner(conn, request, portfolio, debtor).debtor_id
    return pid, debtor_id


def _log(
    conn: Connection,
    who: Owner,
    kind: type[Activity],
    *,
    actor: str,
    at: datetime,
    subject_kind: str,
    subject_id: int,
    payload: dict[str, Any],
    key: str,
) -> None:
    """Write ``who``'s activity record of ``kind`` about a plan or settlement, once (``key``)."""
    records.log(
        conn,
        who,
        kind(
            occurred_at=at,
            actor=actor,
            portfolio=who.portfolio,
            debtor=who.external_id,
            subject_kind=subject_kind,
            subject_id=str(subject_id),
            payload=payload,
            idempotency_key=key,
        ),
    )


def _currency(request: _Request, code: str | None, who: Owner | None) -> str | None:
    if code is None:
        return who.currency if who else None
    code = code.upper()
    if not is_currency(code):
        request.add(f"unknown currency {code!r}")
        return None
    return code


def _minor(request: _Request, amount: Decimal, currency: str, what: str) -> int | None:
    try:
        return to_minor(amount, currency)
    except MoneyError as exc:
        request.add(f"{what}: {exc}")
        return None


def _fmt(currency: str) -> Callable[[int], str]:
    return lambda minor: str(Money.from_minor(minor, currency))


def limits(policy: Policy, currency: str) -> Limits:
    """The policy's plan limits in ``currency``'s minor units (a minimum instalment with more
    decimals than the currency has is rounded down)."""
    p = policy.payment_plans
    exp = Money.from_minor(1, currency).amount
    least = int(p.min_instalment / exp) if p.min_instalment > 0 else 0
    return Limits(
        max_instalments=p.max_instalments,
        min_instalment_minor=least,
        frequencies=frozenset(Frequency(f) for f in p.frequencies),
        max_days_to_first=p.max_days_to_first,
        min_down_percent=p.min_down_payment,
        fee_percent=p.fee,
    )


# Payment plans ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlanQuote:
    """A plan as the calculator computes it (nothing written): the schedule, its total, and
    the policy's limits it goes beyond (non-empty: a manager must approve it)."""

    debtor: str
    currency: str
    frequency: str
    terms: PlanTerms

    @property
    def needs_approval(self) -> bool:
        return bool(self.terms.beyond)


@dataclass(frozen=True, slots=True)
class PlanRecorded:
    plan_id: int
    status: str  # active | awaiting_approval (or whatever it was, when unchanged)
    quote: PlanQuote
    changed: bool  # False: this very plan was accepted before


def _quote(
    conn: Connection,
    request: _Request,
    *,
    portfolio: str,
    debtor: str,
    policy: Policy,
    on: date,
    first_on: date | None,
    instalments: int | None,
    frequency: str,
    down: Decimal,
    currency: str | None,
    least_down: bool = False,
) -> tuple[Owner, PlanQuote]:
    try:
        freq: Frequency | None = Frequency(frequency)
    except ValueError:
        freq = None
        request.add(
            f"unknown frequency {frequency!r}: one of {', '.join(f.value for f in Frequency)}"
        )
    who = _owner(conn, request, portfolio, debtor)
    code = _currency(request, currency, who)
    down_minor = _minor(request, down, code, "down payment") if code else None
    if code is None or down_minor is None:
        request.check()
    assert code is not None and down_minor is not None
    policy_limits = limits(policy, code)
    first = first_on or on + timedelta(days=min(7, policy_limits.max_days_to_first))
    balance_minor = records.open_balance_minor(conn, who, code)
    if least_down:  # at least the down payment the policy asks, on this balance
        least = rules.least_down_minor(balance_minor, policy.payment_plans.min_down_payment)
        down_minor = max(down_minor, least)
    terms = rules.plan_terms(
        balance_minor=balance_minor,
        instalments=instalments,
        frequency=freq or Frequency.MONTHLY,
        first_on=first,
        down_minor=down_minor,
        quoted_on=on,
        limits=policy_limits,
        fmt=_fmt(code),
    )
    for problem in terms.problems:
        request.add(problem)
    request.check()
    assert freq is not None
    return who, PlanQuote(debtor, code, freq.value, terms)


def quote_plan(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    debtor: str,
    policy: Policy,
    on: date,
    first_on: date | None = None,
    instalments: int | None = None,
    frequency: str = "monthly",
    down: Decimal = Decimal(0),
    currency: str | None = None,
    least_down: bool = False,
) -> PlanQuote:
    """The schedule of a plan on ``debtor``'s open balance in ``currency`` (default: the
    debtor's), within ``policy``'s limits or saying which it goes beyond; writes nothing.
    ``instalments`` ``None``: as many as the limits allow (each at least the minimum);
    ``least_down``: the down payment at least what the policy asks. A collector, or the
    debtor on their own account."""
    _may_agree(actor, debtor, "quote a payment plan")
    request = _Request(f"plan for {debtor}")
    with uow:
        _, quote = _quote(
            uow.conn,
            request,
            portfolio=portfolio,
            debtor=debtor,
            policy=policy,
            on=on,
            first_on=first_on,
            instalments=instalments,
            frequency=frequency,
            down=down,
            currency=currency,
            least_down=least_down,
        )
    return quote


def plan_key(portfolio: str, debtor: str, currency: str, on: date) -> str:
    return f"plan:{portfolio}:{debtor}:{currency}:{on.isoformat()}"


def accept_plan(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    debtor: str,
    policy: Policy,
    on: date,
    at: datetime,
    first_on: date | None = None,
    instalments: int | None = None,
    frequency: str = "monthly",
    down: Decimal = Decimal(0),
    currency: str | None = None,
    within_limits: bool = False,
    least_down: bool = False,
) -> PlanRecorded:
    """Record the debtor's acceptance on ``on`` of the plan :func:`quote_plan` computes: active
    at once (it pauses the case) within the policy's limits, else awaiting a manager's approval
    until ``payment_plans.offer_expires_days`` later. ``within_limits`` (always, for the debtor
    on their own page): a plan beyond them is refused instead, every limit named, nothing
    written. The quote and the acceptance are one transaction. The same plan accepted again on
    the same day changes nothing."""
    _may_agree(actor, debtor, "accept a payment plan")
    within_limits = within_limits or actor.may(Permission.SELF_SERVICE)
    request = _Request(f"plan for {debtor}")
    with uow:
        conn = uow.conn
        who, quote = _quote(
            conn,
            request,
            portfolio=portfolio,
            debtor=debtor,
            policy=policy,
            on=on,
            first_on=first_on,
            instalments=instalments,
            frequency=frequency,
            down=down,
            currency=currency,
            least_down=least_down,
        )
        if within_limits and quote.needs_approval:
            raise ProblemsFound.of(
                f"plan for {debtor}",
                *(f"beyond what can be agreed here: {why}" for why in quote.terms.beyond),
            )
        key = plan_key(portfolio, debtor, quote.currency, on)
        before = records.plan_by_key(conn, key)
        if before is not None:
            return PlanRecorded(int(before["id"]), str(before["status"]), quote, changed=False)
        live = records.live_plan(conn, who, quote.currency)
        if live is not None:
            raise Conflict(
                f"plan for {debtor}: {debtor} has plan {live['id']} in {quote.currency} "
                f"({str(live['status']).replace('_', ' ')}): cancel it first "
                f"(arrears payment-plan cancel {live['id']})"
            )
        terms = quote.terms
        status = PlanStatus.AWAITING_APPROVAL if terms.beyond else PlanStatus.ACTIVE
        plan_id = records.insert_plan(
            conn,
            {
                "key": key,
                "portfolio_id": who.portfolio_id,
                "debtor_id": who.debtor_id,
                "currency": quote.currency,
                "status": status,
                "balance_minor": terms.balance_minor,
                "down_minor": terms.down_minor,
                "fee_minor": terms.fee_minor,
                "instalments": len([r for r in terms.schedule if r.seq > 0]),
                "frequency": quote.frequency,
                "first_on": terms.schedule[0].due_on,
                "accepted_on": on,
                "expires_on": on + timedelta(days=policy.payment_plans.offer_expires_days),
                "active_on": on if status == PlanStatus.ACTIVE else None,
                "beyond": list(terms.beyond),
                "grace_days": policy.payment_plans.grace_days,
                "missed_to_break": policy.payment_plans.missed_to_break,
                "actor": actor.name,
                "created_at": at,
            },
            terms.schedule,
        )
        kind = rules.PlanAwaitingApproval if terms.beyond else rules.PlanAccepted
        _log(
            conn,
            who,
            kind,
            actor=actor.name,
            at=at,
            subject_kind="payment_plan",
            subject_id=plan_id,
            payload=_plan_payload(quote, on) | {"beyond": list(terms.beyond)},
            key=f"{kind.kind}:{key}",
        )
        if status == PlanStatus.ACTIVE:
            _activate(conn, who, plan_id, key, quote.currency, terms, on, actor, at)
    return PlanRecorded(plan_id, status, quote, changed=True)


def _may_agree(actor: Actor, debtor: str | None, doing: str) -> None:
    """A collector, or the debtor on their own account (self-service)."""
    if actor.may(Permission.SELF_SERVICE) and actor.name == f"debtor:{debtor}":
        return
    actor.require(Permission.WORK, doing)


def _statuses(
    request: _Request, status: str | None, kind: type[PlanStatus] | type[SettlementStatus]
) -> tuple[str, ...] | None:
    """A listing's status filter: ``None`` (any), or that one of ``kind`` (else a problem)."""
    if status is None:
        return None
    if status not in {s.value for s in kind}:
        request.add(printable(f"unknown status {status!r}: one of {', '.join(kind)}"))
        request.check()
    return (status,)


def _may_read(actor: Actor, debtor: str | None, doing: str) -> None:
    """Anyone who may read, or the debtor their own agreements (self-service)."""
    if actor.may(Permission.SELF_SERVICE) and actor.name == f"debtor:{debtor}":
        return
    actor.require(Permission.READ, doing)


def _plan_payload(quote: PlanQuote, on: date) -> dict[str, Any]:
    terms = quote.terms
    return {
        "currency": quote.currency,
        "balance_minor": terms.balance_minor,
        "down_minor": terms.down_minor,
        "fee_minor": terms.fee_minor,
        "frequency": quote.frequency,
        "on": on.isoformat(),
        "schedule": [[r.seq, r.due_on.isoformat(), r.amount_minor] for r in terms.schedule],
    }


def _activate(
    conn: Connection,
    who: Owner,
    plan_id: int,
    key: str,
    currency: str,
    terms: PlanTerms,
    on: date,
    actor: Actor,
    at: datetime,
) -> None:
    """What an active plan brings: its fee posted as an invoice due with the last instalment,
    and the cycle's open plan offers to the debtor marked accepted."""
    records.close_offers(conn, who, "payment_plan", "accepted", made_by=on)
    if terms.fee_minor <= 0:
        return
    from arrears.domain.ledger import Instalment, Invoice  # noqa: PLC0415
    from arrears.store.ledger.receivables import add_invoice  # noqa: PLC0415

    fee = Money.from_minor(terms.fee_minor, currency)
    number = f"PLANFEE-{who.external_id}-{currency}-{on:%Y%m%d}"
    add_invoice(
        conn,
        Invoice(
            number,
            who.external_id,
            number,
            on,
            (Instalment(1, terms.schedule[-1].due_on, fee, fee),),
            reference=f"payment plan {plan_id} fee ({key})",
            portfolio=who.portfolio,
        ),
        actor=actor.name,
        at=at,
    )


@dataclass(frozen=True, slots=True)
class PlanChanged:
    plan_id: int
    status: str
    changed: bool


def approve_plan(
    uow: SqlUnitOfWork, actor: Actor, plan_id: int, *, on: date, at: datetime
) -> PlanChanged:
    """A manager approves a plan beyond the policy's limits: it becomes active on ``on``."""
    actor.require(Permission.APPROVE, "approve a payment plan")
    request = _Request(f"plan {plan_id}")
    with uow:
        conn = uow.conn
        found = records.plan(conn, plan_id)
        if found is None:
            raise NotFound(f"plan {plan_id}: no such plan")
        if found["status"] == PlanStatus.ACTIVE and found["approved_by"] is not None:
            return PlanChanged(plan_id, PlanStatus.ACTIVE, changed=False)
        if found["status"] != PlanStatus.AWAITING_APPROVAL:
            request.add(f"plan {plan_id} is {found['status']}: only a plan awaiting approval is")
        elif on > found["expires_on"]:
            request.add(f"the offer expired on {found['expires_on']}: quote and accept a new plan")
        elif on < found["accepted_on"]:
            request.add(f"cannot approve on {on}, before it was accepted ({found['accepted_on']})")
        request.check()
        who = records.owner_by_id(conn, int(found["debtor_id"]))
        records.update_plan(
            conn, plan_id, status=PlanStatus.ACTIVE, active_on=on, approved_by=actor.name
        )
        schedule = tuple(
            rules.ScheduledInstalment(int(r["seq"]), r["due_on"], int(r["amount_minor"]))
            for r in records.schedule(conn, plan_id)
        )
        terms = PlanTerms(
            int(found["balance_minor"]),
            int(found["down_minor"]),
            int(found["fee_minor"]),
            schedule,
            (),
            tuple(found["beyond"]),
        )
        _log(
            conn,
            who,
            rules.PlanApproved,
            actor=actor.name,
            at=at,
            subject_kind="payment_plan",
            subject_id=plan_id,
            payload={"on": on.isoformat(), "beyond": list(found["beyond"])},
            key=f"plan.approved:{found['key']}",
        )
        _activate(
            conn, who, plan_id, str(found["key"]), str(found["currency"]), terms, on, actor, at
        )
    return PlanChanged(plan_id, PlanStatus.ACTIVE, changed=True)


def cancel_plan(
    uow: SqlUnitOfWork, actor: Actor, plan_id: int, *, on: date, at: datetime, reason: str
) -> PlanChanged:
    """End a plan that is active or awaiting approval as of ``on`` (the case resumes)."""
    actor.require(Permission.WORK, "cancel a payment plan")
    request = _Request(f"plan {plan_id}")
    if not reason.strip():
        request.add("cancelling a plan needs a reason")
    with uow:
        conn = uow.conn
        found = records.plan(conn, plan_id)
        if found is None:
            raise NotFound(f"plan {plan_id}: no such plan")
        if found["status"] == PlanStatus.CANCELLED:
            return PlanChanged(plan_id, PlanStatus.CANCELLED, changed=False)
        if found["status"] not in LIVE_PLAN_STATUSES:
            request.add(f"plan {plan_id} is {found['status']}: it has ended already")
        elif on < found["accepted_on"]:
            request.add(f"cannot cancel on {on}, before it was accepted ({found['accepted_on']})")
        request.check()
        who = records.owner_by_id(conn, int(found["debtor_id"]))
        records.update_plan(conn, plan_id, status=PlanStatus.CANCELLED, ended_on=on)
        _log(
            conn,
            who,
            rules.PlanCancelled,
            actor=actor.name,
            at=at,
            subject_kind="payment_plan",
            subject_id=plan_id,
            payload={"on": on.isoformat(), "reason": reason.strip()},
            key=f"plan.cancelled:{found['key']}",
        )
    return PlanChanged(plan_id, PlanStatus.CANCELLED, changed=True)


@dataclass(frozen=True, slots=True)
class PlanView:
    """A plan as a collector sees it, with its schedule (``seq``, ``due_on``, ``amount_minor``,
    ``status``, ``paid_on``, ``found_on`` each) as the last cycle run recorded it."""

    plan_id: int
    debtor: str
    currency: str
    status: str
    balance_minor: int
    down_minor: int
    fee_minor: int
    instalments: int
    frequency: str
    accepted_on: date
    expires_on: date
    active_on: date | None
    approved_by: str | None
    ended_on: date | None
    beyond: tuple[str, ...]
    actor: str
    schedule: tuple[dict[str, Any], ...] = ()


def _plan_view(row: dict[str, Any], schedule: list[dict[str, Any]] | None = None) -> PlanView:
    return PlanView(
        plan_id=int(row["id"]),
        debtor=str(row["debtor"]),
        currency=str(row["currency"]),
        status=str(row["status"]),
        balance_minor=int(row["balance_minor"]),
        down_minor=int(row["down_minor"]),
        fee_minor=int(row["fee_minor"]),
        instalments=int(row["instalments"]),
        frequency=str(row["frequency"]),
        accepted_on=row["accepted_on"],
        expires_on=row["expires_on"],
        active_on=row["active_on"],
        approved_by=row["approved_by"],
        ended_on=row["ended_on"],
        beyond=tuple(row["beyond"]),
        actor=str(row["actor"]),
        schedule=tuple(schedule or ()),
    )


def list_plans(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    debtor: str | None = None,
    with_schedule: bool = False,
    status: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[PlanView]:
    """The portfolio's plans (``debtor``'s only: the debtor may read their own), newest
    first; ``status``: of that :class:`PlanStatus` only; ``limit`` at most after the first
    ``offset`` (filtered and paged by the query)."""
    _may_read(actor, debtor, "read the payment plans")
    request = _Request("plans")
    statuses = _statuses(request, status, PlanStatus)
    with uow:
        conn = uow.conn
        pid, debtor_id = _scope(conn, request, portfolio, debtor)
        rows = records.plans(
            conn, pid, debtor_id=debtor_id, statuses=statuses, limit=limit, offset=offset
        )
        ids = [int(r["id"]) for r in rows] if with_schedule else []
        schedules = records.schedule_rows(conn, ids)
        return [_plan_view(r, schedules.get(int(r["id"]))) for r in rows]


def show_plan(uow: SqlUnitOfWork, actor: Actor, plan_id: int, *, portfolio: str) -> PlanView:
    """One plan of the portfolio with its schedule, as the last cycle run found each
    instalment."""
    actor.require(Permission.READ, "read the payment plans")
    with uow:
        conn = uow.conn
        pid = _portfolio_id(conn, f"plan {plan_id}", portfolio)
        rows = records.plans(conn, pid, plan_id=plan_id)
        if not rows:
            raise NotFound(f"plan {plan_id}: no such plan")
        return _plan_view(rows[0], records.schedule_rows(conn, [plan_id]).get(plan_id))


# The cycle's offers ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OfferView:
    """A plan or settlement offer the cycle made (a policy step): open until the debtor takes
    it (a plan accepted closes the open plan offers) or its expiry passes (``expired``, logged
    as ``offer.expired`` by the next run)."""

    offer_id: int
    debtor: str
    currency: str
    kind: str  # payment_plan | settlement
    made_on: date
    expires_on: date | None  # None: the policy's standing, set by the next run
    status: str  # open | accepted | expired
    terms: dict[str, Any]


def list_offers(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    debtor: str | None = None,
    everything: bool = False,
) -> list[OfferView]:
    """The portfolio's open offers made by the cycle (``everything``: expired and accepted
    ones too; ``debtor``'s only), newest first."""
    actor.require(Permission.READ, "read the offers")
    request = _Request("offers")
    with uow:
        conn = uow.conn
        pid, debtor_id = _scope(conn, request, portfolio, debtor)
        rows = records.offers(conn, pid, debtor_id=debtor_id, everything=everything)
    return [
        OfferView(
            int(r["id"]),
            str(r["debtor"]),
            str(r["currency"]),
            str(r["kind"]),
            r["made_on"],
            r["expires_on"],
            str(r["status"]),
            dict(r["terms"]) if isinstance(r["terms"], dict) else {},
        )
        for r in rows
    ]
