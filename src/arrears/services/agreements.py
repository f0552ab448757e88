"""Payment plans and settlements as use cases: quote, accept, approve, cancel, list; offer,
approve, accept, list; and what the daily cycle does with them (:func:`monitor`,
:func:`cycle_frame`).

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
from decimal import Decimal, InvalidOperation
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine

from arrears.cycle.frames import AGREEMENT_SCHEMA
from arrears.domain import agreements as rules
from arrears.domain.activity import Activity
from arrears.domain.actor import Actor, Permission
from arrears.domain.agreements import Frequency, Limits, PlanTerms
from arrears.domain.errors import Conflict, NotFound
from arrears.domain.money import Money, MoneyError, is_currency, to_minor
from arrears.domain.problems import Problem, ProblemsFound, printable
from arrears.policy.model import Policy
from arrears.services.uow import SqlUnitOfWork
from arrears.store.agreements import records
from arrears.store.agreements.records import Owner
from arrears.store.ledger.write_offs import write_off
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
    terms = rules.plan_terms(
        balance_minor=records.open_balance_minor(conn, who, code),
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
) -> PlanQuote:
    """The schedule of a plan on ``debtor``'s open balance in ``currency`` (default: the
    debtor's), within ``policy``'s limits or saying which it goes beyond; writes nothing.
    ``instalments`` ``None``: as many as the limits allow (each at least the minimum)."""
    actor.require(Permission.WORK, "quote a payment plan")
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
) -> PlanRecorded:
    """Record the debtor's acceptance on ``on`` of the plan :func:`quote_plan` computes: active
    at once (it pauses the case) within the policy's limits, else awaiting a manager's approval
    until ``payment_plans.offer_expires_days`` later. The same plan accepted again on the same
    day changes nothing."""
    _may_agree(actor, debtor, "accept a payment plan")
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
        status = "awaiting_approval" if terms.beyond else "active"
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
                "active_on": on if status == "active" else None,
                "beyond": list(terms.beyond),
                "grace_days": policy.payment_plans.grace_days,
                "missed_to_break": policy.payment_plans.missed_to_break,
                "actor": actor.name,
                "created_at": at,
            },
            terms.schedule,
        )
        kind = rules.PlanAwaitingApproval if terms.beyond else rules.PlanAccepted
        records.log(
            conn,
            who,
            kind(
                occurred_at=at,
                actor=actor.name,
                portfolio=portfolio,
                debtor=debtor,
                subject_kind="payment_plan",
                subject_id=str(plan_id),
                payload=_plan_payload(quote, on) | {"beyond": list(terms.beyond)},
                idempotency_key=f"{kind.kind}:{key}",
            ),
        )
        if status == "active":
            _activate(conn, who, plan_id, key, quote.currency, terms, on, actor, at)
    return PlanRecorded(plan_id, status, quote, changed=True)


def _may_agree(actor: Actor, debtor: str, doing: str) -> None:
    """A collector, or the debtor on their own account (self-service)."""
    if actor.may(Permission.SELF_SERVICE) and actor.name == f"debtor:{debtor}":
        return
    actor.require(Permission.WORK, doing)


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
        if found["status"] == "active" and found["approved_by"] is not None:
            return PlanChanged(plan_id, "active", changed=False)
        if found["status"] != "awaiting_approval":
            request.add(f"plan {plan_id} is {found['status']}: only a plan awaiting approval is")
        elif on > found["expires_on"]:
            request.add(f"the offer expired on {found['expires_on']}: quote and accept a new plan")
        elif on < found["accepted_on"]:
            request.add(f"cannot approve on {on}, before it was accepted ({found['accepted_on']})")
        request.check()
        who = records.owner_by_id(conn, int(found["debtor_id"]))
        records.update_plan(conn, plan_id, status="active", active_on=on, approved_by=actor.name)
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
        records.log(
            conn,
            who,
            rules.PlanApproved(
                occurred_at=at,
                actor=actor.name,
                portfolio=who.portfolio,
                debtor=who.external_id,
                subject_kind="payment_plan",
                subject_id=str(plan_id),
                payload={"on": on.isoformat(), "beyond": list(found["beyond"])},
                idempotency_key=f"plan.approved:{found['key']}",
            ),
        )
        _activate(
            conn, who, plan_id, str(found["key"]), str(found["currency"]), terms, on, actor, at
        )
    return PlanChanged(plan_id, "active", changed=True)


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
        if found["status"] == "cancelled":
            return PlanChanged(plan_id, "cancelled", changed=False)
        if found["status"] not in ("active", "awaiting_approval"):
            request.add(f"plan {plan_id} is {found['status']}: it has ended already")
        elif on < found["accepted_on"]:
            request.add(f"cannot cancel on {on}, before it was accepted ({found['accepted_on']})")
        request.check()
        who = records.owner_by_id(conn, int(found["debtor_id"]))
        records.update_plan(conn, plan_id, status="cancelled", ended_on=on)
        records.log(
            conn,
            who,
            rules.PlanCancelled(
                occurred_at=at,
                actor=actor.name,
                portfolio=who.portfolio,
                debtor=who.external_id,
                subject_kind="payment_plan",
                subject_id=str(plan_id),
                payload={"on": on.isoformat(), "reason": reason.strip()},
                idempotency_key=f"plan.cancelled:{found['key']}",
            ),
        )
    return PlanChanged(plan_id, "cancelled", changed=True)


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
) -> list[PlanView]:
    """The portfolio's plans (``debtor``'s only), newest first."""
    actor.require(Permission.READ, "read the payment plans")
    request = _Request("plans")
    with uow:
        conn = uow.conn
        try:
            pid = portfolio_id(conn, portfolio)
        except UnknownPortfolio as exc:
            raise NotFound(f"plans: {exc}") from exc
        debtor_id = None if debtor is None else _owner(conn, request, portfolio, debtor).debtor_id
        rows = records.plans(conn, pid, debtor_id=debtor_id)
        return [
            _plan_view(r, records.schedule(conn, int(r["id"])) if with_schedule else None)
            for r in rows
        ]


# Settlements -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SettlementView:
    settlement_id: int
    debtor: str
    currency: str
    status: str
    balance_minor: int
    discount: Decimal
    amount_minor: int
    offered_on: date
    expires_on: date
    accepted_on: date | None
    approved_by: str | None
    ended_on: date | None
    written_off_minor: int | None
    beyond: tuple[str, ...]
    changed: bool = True


def _settlement_view(row: dict[str, Any], debtor: str, changed: bool = True) -> SettlementView:
    return SettlementView(
        settlement_id=int(row["id"]),
        debtor=debtor,
        currency=str(row["currency"]),
        status=str(row["status"]),
        balance_minor=int(row["balance_minor"]),
        discount=Decimal(str(row["discount"])),
        amount_minor=int(row["amount_minor"]),
        offered_on=row["offered_on"],
        expires_on=row["expires_on"],
        accepted_on=row["accepted_on"],
        approved_by=row["approved_by"],
        ended_on=row["ended_on"],
        written_off_minor=row["written_off_minor"],
        beyond=tuple(row["beyond"]),
        changed=changed,
    )


def offer_settlement(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    debtor: str,
    policy: Policy,
    discount: Decimal,
    expires_on: date,
    on: date,
    at: datetime,
    currency: str | None = None,
) -> SettlementView:
    """Offer ``debtor`` to settle its open balance in ``currency`` for ``discount`` percent
    less, if paid by ``expires_on``: offered at once within the policy's ``settlements``
    limits, else awaiting a manager's approval. The same offer on the same day changes
    nothing."""
    actor.require(Permission.WORK, "offer a settlement")
    request = _Request(f"settlement for {debtor}")
    try:
        if not discount.is_finite():
            raise InvalidOperation
        if not Decimal(0) < discount < Decimal(100):
            request.add(f"the discount must be more than 0 and less than 100 %, not {discount}")
    except InvalidOperation:
        request.add(f"the discount must be a percentage, not {discount}")
    if expires_on < on:
        request.add(f"it expires on {expires_on}, before it is offered ({on})")
    with uow:
        conn = uow.conn
        who = _owner(conn, request, portfolio, debtor)
        code = _currency(request, currency, who)
        request.check()
        assert code is not None
        balance = records.open_balance_minor(conn, who, code)
        fmt = _fmt(code)
        if balance <= 0:
            request.add(f"{debtor} owes nothing in {code}: there is nothing to settle")
        request.check()
        key = f"settlement:{portfolio}:{debtor}:{code}:{on.isoformat()}"
        before = records.settlement_by_key(conn, key)
        if before is not None:
            return _settlement_view(before, debtor, changed=False)
        live = records.live_settlement(conn, who, code)
        if live is not None:
            raise Conflict(
                f"settlement for {debtor}: settlement {live['id']} in {code} is "
                f"{str(live['status']).replace('_', ' ')} until {live['expires_on']}"
            )
        limits_ = policy.settlements
        beyond: list[str] = []
        if discount > limits_.max_discount:
            beyond.append(
                f"a discount of {discount} %: the policy allows at most {limits_.max_discount} %"
            )
        if (expires_on - on).days > limits_.max_days:
            beyond.append(
                f"expiry in {(expires_on - on).days} days: the policy allows at most "
                f"{limits_.max_days}"
            )
        amount = rules.settlement_amount(balance, discount)
        status = "awaiting_approval" if beyond else "offered"
        values = {
            "key": key,
            "portfolio_id": who.portfolio_id,
            "debtor_id": who.debtor_id,
            "currency": code,
            "status": status,
            "balance_minor": balance,
            "discount": str(discount.normalize()),
            "amount_minor": amount,
            "offered_on": on,
            "expires_on": expires_on,
            "beyond": beyond,
            "actor": actor.name,
            "created_at": at,
        }
        settlement_id = records.insert_settlement(conn, values)
        records.log(
            conn,
            who,
            rules.SettlementOffered(
                occurred_at=at,
                actor=actor.name,
                portfolio=portfolio,
                debtor=debtor,
                subject_kind="settlement",
                subject_id=str(settlement_id),
                payload={
                    "currency": code,
                    "balance": fmt(balance),
                    "discount": str(discount.normalize()),
                    "amount": fmt(amount),
                    "on": on.isoformat(),
                    "expires_on": expires_on.isoformat(),
                    "status": status,
                    "beyond": beyond,
                },
                idempotency_key=f"settlement.offered:{key}",
            ),
        )
        return _settlement_view(
            values
            | {
                "id": settlement_id,
                "accepted_on": None,
                "approved_by": None,
                "ended_on": None,
                "written_off_minor": None,
            },
            debtor,
        )


def _settlement_change(
    uow: SqlUnitOfWork,
    actor: Actor,
    settlement_id: int,
    *,
    on: date,
    at: datetime,
    approve: bool,
) -> SettlementView:
    request = _Request(f"settlement {settlement_id}")
    with uow:
        conn = uow.conn
        found = records.settlement_row(conn, settlement_id)
        if found is None:
            raise NotFound(f"settlement {settlement_id}: no such settlement")
        who = records.owner_by_id(conn, int(found["debtor_id"]))
        status = str(found["status"])
        done = "offered" if approve else "accepted"
        if approve and status in ("offered", "accepted") and found["approved_by"]:
            return _settlement_view(found, who.external_id, changed=False)
        if not approve and status == "accepted":
            return _settlement_view(found, who.external_id, changed=False)
        wanted = "awaiting_approval" if approve else "offered"
        if status != wanted:
            why = {
                "awaiting_approval": "it needs a manager's approval first "
                f"(arrears settlement approve {settlement_id})",
                "offered": "it needs no approval",
            }.get(status, f"it is {status}")
            request.add(f"cannot {'approve' if approve else 'accept'} it: {why}")
        elif on > found["expires_on"]:
            request.add(f"the offer expired on {found['expires_on']}")
        elif on < found["offered_on"]:
            request.add(f"{on} is before the offer ({found['offered_on']})")
        request.check()
        changes: dict[str, Any] = {"status": done}
        if approve:
            changes["approved_by"] = actor.name
        else:
            changes["accepted_on"] = on
        records.update_settlement(conn, settlement_id, **changes)
        kind = rules.SettlementApproved if approve else rules.SettlementAccepted
        records.log(
            conn,
            who,
            kind(
                occurred_at=at,
                actor=actor.name,
                portfolio=who.portfolio,
                debtor=who.external_id,
                subject_kind="settlement",
                subject_id=str(settlement_id),
                payload={"on": on.isoformat()},
                idempotency_key=f"{kind.kind}:{found['key']}",
            ),
        )
        if not approve:
            records.close_offers(conn, who, "settlement", "accepted", made_by=on)
        return _settlement_view(found | changes, who.external_id)


def approve_settlement(
    uow: SqlUnitOfWork, actor: Actor, settlement_id: int, *, on: date, at: datetime
) -> SettlementView:
    """A manager approves a settlement beyond the policy's limits: it stands as offered."""
    actor.require(Permission.APPROVE, "approve a settlement")
    return _settlement_change(uow, actor, settlement_id, on=on, at=at, approve=True)


def accept_settlement(
    uow: SqlUnitOfWork, actor: Actor, settlement_id: int, *, on: date, at: datetime
) -> SettlementView:
    """Record the debtor's acceptance of an offered settlement (its case pauses until the
    expiry; paid in full by then, the rest is written off)."""
    actor.require(Permission.WORK, "accept a settlement")
    return _settlement_change(uow, actor, settlement_id, on=on, at=at, approve=False)


def list_settlements(
    uow: SqlUnitOfWork, actor: Actor, *, portfolio: str, debtor: str | None = None
) -> list[SettlementView]:
    """The portfolio's settlements (``debtor``'s only), newest first."""
    actor.require(Permission.READ, "read the settlements")
    request = _Request("settlements")
    with uow:
        conn = uow.conn
        try:
            pid = portfolio_id(conn, portfolio)
        except UnknownPortfolio as exc:
            raise NotFound(f"settlements: {exc}") from exc
        debtor_id = None if debtor is None else _owner(conn, request, portfolio, debtor).debtor_id
        rows = records.settlements(conn, pid, debtor_id=debtor_id)
        return [_settlement_view(r, str(r["debtor"])) for r in rows]


# What the daily cycle does with them -------------------------------------------------------------


@dataclass
class Monitored:
    """What :func:`monitor` recorded on a day."""

    instalments_paid: int = 0
    instalments_missed: int = 0
    plans_broken: int = 0
    plans_completed: int = 0
    plans_expired: int = 0
    settlements_paid: int = 0
    settlements_lapsed: int = 0
    settlements_expired: int = 0
    offers_expired: int = 0


def _plan_judgements(
    conn: Connection, rows: list[dict[str, Any]], as_of: date
) -> dict[int, rules.PlanJudgement]:
    """Each active plan of ``rows`` judged on ``as_of`` from its debtor's payments."""
    if not rows:
        return {}
    schedules = records.schedules(conn, [int(r["id"]) for r in rows])
    since = min(r["accepted_on"] for r in rows)
    paid = records.payments(
        conn, [(int(r["debtor_id"]), str(r["currency"])) for r in rows], since, as_of
    )
    judged = {}
    for r in rows:
        mine = [
            p
            for p in paid.get((int(r["debtor_id"]), str(r["currency"])), [])
            if p[0] >= r["accepted_on"]
        ]
        judged[int(r["id"])] = rules.judge_plan(
            schedules[int(r["id"])],
            mine,
            as_of=as_of,
            grace_days=int(r["grace_days"]),
            missed_to_break=int(r["missed_to_break"]),
        )
    return judged


def _settlement_judgements(
    conn: Connection, rows: list[dict[str, Any]], as_of: date
) -> dict[int, rules.SettlementJudgement]:
    if not rows:
        return {}
    since = min(r["offered_on"] for r in rows)
    paid = records.payments(
        conn, [(int(r["debtor_id"]), str(r["currency"])) for r in rows], since, as_of
    )
    return {
        int(r["id"]): rules.judge_settlement(
            int(r["amount_minor"]),
            paid.get((int(r["debtor_id"]), str(r["currency"])), []),
            offered_on=r["offered_on"],
            expires_on=r["expires_on"],
            as_of=as_of,
        )
        for r in rows
    }


def monitor(
    uow: SqlUnitOfWork, actor: Actor, *, portfolio: str, as_of: date, at: datetime
) -> Monitored:
    """Follow every plan and settlement on ``as_of`` (the daily cycle runs it before it
    decides): each plan instalment paid or missed, a plan broken or completed, a plan awaiting
    approval past its offer's expiry expired; a settlement paid in full by its expiry (the rest
    written off, "settlement discount"), lapsed, or expired unaccepted; the cycle's offers past
    their expiry expired. Each change is recorded once (business keys), naming ``actor``."""
    actor.require(Permission.WORK, "follow the payment plans and settlements")
    done = Monitored()
    with uow:
        conn = uow.conn
        try:
            pid = portfolio_id(conn, portfolio)
        except UnknownPortfolio as exc:
            raise NotFound(str(exc)) from exc
        owners: dict[int, Owner] = {}

        def who(debtor_id: int) -> Owner:
            if debtor_id not in owners:
                owners[debtor_id] = records.owner_by_id(conn, debtor_id)
            return owners[debtor_id]

        def note(
            kind: type[Activity],
            row: dict[str, Any],
            subject: str,
            payload: dict[str, Any],
            key: str,
        ) -> None:
            owner = who(int(row["debtor_id"]))
            records.log(
                conn,
                owner,
                kind(
                    occurred_at=at,
                    actor=actor.name,
                    portfolio=portfolio,
                    debtor=owner.external_id,
                    subject_kind=subject,
                    subject_id=str(row["id"]),
                    payload=payload,
                    idempotency_key=key,
                ),
            )

        for row in records.plans(conn, pid, statuses=("awaiting_approval",)):
            if as_of > row["expires_on"]:
                ended = row["expires_on"] + timedelta(days=1)
                records.update_plan(conn, int(row["id"]), status="expired", ended_on=ended)
                note(
                    rules.PlanExpired,
                    row,
                    "payment_plan",
                    {"on": ended.isoformat()},
                    f"plan.expired:{row['key']}",
                )
                done.plans_expired += 1
        active = [
            r for r in records.plans(conn, pid, statuses=("active",)) if r["active_on"] <= as_of
        ]
        judged = _plan_judgements(conn, active, as_of)
        stored = {int(r["id"]): records.schedule(conn, int(r["id"])) for r in active}
        for row in active:
            plan_id, verdict = int(row["id"]), judged[int(row["id"])]
            before = {int(s["seq"]): s for s in stored[plan_id]}
            for item in verdict.instalments:
                was = before[item.seq]
                now = {
                    "status": item.state.value,
                    "paid_on": item.paid_on,
                    "found_on": item.found_on,
                }
                if all(was[k] == v for k, v in now.items()):
                    continue
                records.update_instalment(conn, plan_id, item.seq, **now)
                payload = {
                    "seq": item.seq,
                    "due_on": item.due_on.isoformat(),
                    "amount_minor": item.amount_minor,
                    "paid_on": None if item.paid_on is None else item.paid_on.isoformat(),
                    "found_on": None if item.found_on is None else item.found_on.isoformat(),
                }
                if item.state is rules.InstalmentState.PAID and was["status"] != "paid":
                    note(
                        rules.PlanInstalmentPaid,
                        row,
                        "payment_plan",
                        payload,
                        f"plan.instalment_paid:{row['key']}:{item.seq}",
                    )
                    done.instalments_paid += 1
                elif item.state is rules.InstalmentState.MISSED and was["status"] != "missed":
                    note(
                        rules.PlanInstalmentMissed,
                        row,
                        "payment_plan",
                        payload,
                        f"plan.instalment_missed:{row['key']}:{item.seq}",
                    )
                    done.instalments_missed += 1
            summary = {"paid_minor": verdict.paid_minor, "currency": row["currency"]}
            if verdict.broken_on is not None:
                records.update_plan(conn, plan_id, status="broken", ended_on=verdict.broken_on)
                missed = sum(i.state is rules.InstalmentState.MISSED for i in verdict.instalments)
                note(
                    rules.PlanBroken,
                    row,
                    "payment_plan",
                    summary | {"on": verdict.broken_on.isoformat(), "missed": missed},
                    f"plan.broken:{row['key']}",
                )
                done.plans_broken += 1
            elif verdict.completed_on is not None:
                records.update_plan(
                    conn, plan_id, status="completed", ended_on=verdict.completed_on
                )
                note(
                    rules.PlanCompleted,
                    row,
                    "payment_plan",
                    summary | {"on": verdict.completed_on.isoformat()},
                    f"plan.completed:{row['key']}",
                )
                done.plans_completed += 1
        _monitor_settlements(conn, pid, as_of, actor, at, note, who, done)
        done.offers_expired = records.expire_offers(conn, pid, as_of)
    return done


def _monitor_settlements(
    conn: Connection,
    pid: int,
    as_of: date,
    actor: Actor,
    at: datetime,
    note: Callable[..., None],
    who: Callable[[int], Owner],
    done: Monitored,
) -> None:
    live = records.settlements(conn, pid, statuses=("awaiting_approval", "offered", "accepted"))
    for row in live:
        if row["status"] != "accepted" and as_of > row["expires_on"]:
            ended = row["expires_on"] + timedelta(days=1)
            records.update_settlement(conn, int(row["id"]), status="expired", ended_on=ended)
            note(
                rules.SettlementExpired,
                row,
                "settlement",
                {"on": ended.isoformat()},
                f"settlement.expired:{row['key']}",
            )
            done.settlements_expired += 1
    accepted = [r for r in live if r["status"] == "accepted" and r["accepted_on"] <= as_of]
    judged = _settlement_judgements(conn, accepted, as_of)
    for row in accepted:
        verdict = judged[int(row["id"])]
        code = str(row["currency"])
        if verdict.paid_on is not None:
            ended = max(verdict.paid_on, row["accepted_on"])
            owner = who(int(row["debtor_id"]))
            left = int(row["balance_minor"]) - int(row["amount_minor"])
            written = 0
            for number, open_minor in records.open_invoices(conn, owner, code, row["offered_on"]):
                if left - written <= 0:
                    break
                part = min(open_minor, left - written)
                write_off(
                    conn,
                    number,
                    portfolio=owner.portfolio,
                    amount=Money.from_minor(part, code),
                    on=ended,
                    reason=rules.SETTLEMENT_WRITE_OFF_REASON,
                    actor=actor.name,
                    at=at,
                )
                written += part
            records.update_settlement(
                conn, int(row["id"]), status="paid", ended_on=ended, written_off_minor=written
            )
            note(
                rules.SettlementPaid,
                row,
                "settlement",
                {
                    "on": ended.isoformat(),
                    "paid_minor": verdict.paid_minor,
                    "written_off_minor": written,
                    "currency": code,
                    "reason": rules.SETTLEMENT_WRITE_OFF_REASON,
                },
                f"settlement.paid:{row['key']}",
            )
            done.settlements_paid += 1
        elif as_of > row["expires_on"]:
            ended = row["expires_on"] + timedelta(days=1)
            records.update_settlement(conn, int(row["id"]), status="lapsed", ended_on=ended)
            note(
                rules.SettlementLapsed,
                row,
                "settlement",
                {"on": ended.isoformat(), "paid_minor": verdict.paid_minor, "currency": code},
                f"settlement.lapsed:{row['key']}",
            )
            done.settlements_lapsed += 1


def cycle_frame(engine: Engine, portfolio: str, as_of: date) -> pl.DataFrame:
    """The agreements that pause a case, for the engine
    (:data:`arrears.cycle.frames.AGREEMENT_SCHEMA`): each plan and settlement that started by
    ``as_of``, the first day it no longer pauses (judged on ``as_of`` while it runs, so that
    ``arrears plan`` shows what ``run`` does), and a broken plan's day."""
    rows: list[tuple[int, str, date, date | None, date | None]] = []
    since = as_of - timedelta(days=BROKEN_LOOKBACK_DAYS)
    with engine.connect() as conn:
        try:
            pid = portfolio_id(conn, portfolio)
        except UnknownPortfolio:
            return pl.DataFrame(schema=AGREEMENT_SCHEMA)
        plans = [
            r
            for r in records.plans(
                conn,
                pid,
                statuses=("active", "broken", "completed", "cancelled"),
                ended_since=since,
            )
            if r["active_on"] is not None and r["active_on"] <= as_of
        ]
        running = [r for r in plans if r["ended_on"] is None or r["ended_on"] > as_of]
        judged = _plan_judgements(conn, running, as_of)
        for r in plans:
            ends, broken = r["ended_on"], r["ended_on"] if r["status"] == "broken" else None
            verdict = judged.get(int(r["id"]))
            if verdict is not None and (verdict.broken_on or verdict.completed_on):
                ends = verdict.broken_on or verdict.completed_on
                broken = verdict.broken_on
            rows.append((int(r["debtor_id"]), str(r["currency"]), r["active_on"], ends, broken))
        settled = [
            r
            for r in records.settlements(
                conn, pid, statuses=("accepted", "paid", "lapsed"), ended_since=since
            )
            if r["accepted_on"] is not None and r["accepted_on"] <= as_of
        ]
        open_ = [r for r in settled if r["ended_on"] is None or r["ended_on"] > as_of]
        verdicts = _settlement_judgements(conn, open_, as_of)
        for r in settled:
            ends = r["ended_on"]
            verdict_s = verdicts.get(int(r["id"]))
            if verdict_s is not None:
                ends = (
                    max(verdict_s.paid_on, r["accepted_on"])
                    if verdict_s.paid_on is not None
                    else r["expires_on"] + timedelta(days=1)
                )
            rows.append((int(r["debtor_id"]), str(r["currency"]), r["accepted_on"], ends, None))
    return pl.DataFrame(rows, schema=AGREEMENT_SCHEMA, orient="row")
