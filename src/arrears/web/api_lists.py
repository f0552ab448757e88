"""The REST API's lists and agreements (docs/web.md, "The REST API"): invoices, payments and
collection cases of the portfolio (a cursor page at a time), promises, payment plans and
settlements (numbered pages), and the agreements' use cases: accept, approve and cancel a plan,
offer, approve and accept a settlement, cancel a promise, reverse a payment.

Each route is one call of a use case of :mod:`arrears.services` with the token's actor, on the
router of :mod:`arrears.web.api` (its Bearer actor, its error answers)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Annotated, TypeVar

from fastapi import Body, Query, Response
from fastapi import Path as PathParam

from arrears.domain import agreements as rules
from arrears.domain.errors import Unavailable
from arrears.domain.money import from_minor
from arrears.policy.model import Policy
from arrears.services.arrangements import agreements, settlements
from arrears.services.books import ledger
from arrears.services.casework import collection, listings
from arrears.services.cycle import load_compiled
from arrears.services.ports import PromiseView
from arrears.web import api_models as m
from arrears.web.api import (
    READ,
    WRITE,
    ActorOf,
    SiteOf,
    _amount,
    _shaped,
    _status,
    _today,
    router,
)
from arrears.web.app import Site

T = TypeVar("T")

Debtor = Annotated[str | None, Query(max_length=100, description="One debtor's only.")]
Currency = Annotated[str | None, Query(min_length=3, max_length=3, description="Only this one.")]
Limit = Annotated[int, Query(ge=1, le=1000, description="Rows per page.")]
Cursor = Annotated[
    int | None, Query(ge=1, description="The next_cursor of the previous page: older rows.")
]
Top = Annotated[int, Query(ge=1, le=1000, description="Page size.")]
PageNo = Annotated[int, Query(ge=1, le=100_000, description="The page (from 1).")]
Id = Annotated[int, PathParam(ge=1, le=2**62)]
Change = Annotated[m.ChangeIn | None, Body()]


def _on(s: Site, body: m.ChangeIn | None) -> date:
    return (body.on if body is not None else None) or _today(s)


def _upper(code: str | None) -> str | None:
    return code.upper() if code else None


def _numbered(items: Sequence[T], page: int, top: int) -> tuple[list[T], int | None]:
    start = (page - 1) * top
    return list(items[start : start + top]), page + 1 if len(items) > start + top else None


def _matching(items: Iterable[T], **wanted: object) -> list[T]:
    """The items whose attributes named in ``wanted`` equal its values (``None``: any)."""
    return [i for i in items if all(v is None or getattr(i, k) == v for k, v in wanted.items())]


def _policy(s: Site) -> Policy:
    path = s.workspace.policy_for(s.portfolio) if s.workspace is not None else None
    if path is None or not path.is_file():
        raise Unavailable(f"the workspace has no policy file for portfolio {s.portfolio}")
    return load_compiled(path).policy


def _money(minor: int | None, currency: str) -> str | None:
    return None if minor is None else str(from_minor(int(minor), currency))


# Lists -----------------------------------------------------------------------------------------


@router.get("/invoices", response_model=m.InvoiceList, responses=READ)
def get_invoices(
    s: SiteOf,
    actor: ActorOf,
    debtor: Debtor = None,
    status: Annotated[str | None, Query(pattern="^(open|paid|written_off)$")] = None,
    currency: Currency = None,
    disputed: Annotated[bool | None, Query()] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> m.InvoiceList:
    """The portfolio's invoices, newest first, with what is open of each."""
    found = listings.invoices(
        s.uow(), actor, portfolio=s.portfolio, debtor=debtor, status=status,
        currency=_upper(currency), disputed=disputed, before=cursor, limit=limit,
    )  # fmt: skip
    return m.InvoiceList(
        invoices=[
            _shaped(m.Invoice, i, amount=str(i.amount), open=str(i.open)) for i in found.items
        ],
        next_cursor=found.next_cursor,
    )


@router.get("/payments", response_model=m.PaymentList, responses=READ)
def get_payments(
    s: SiteOf,
    actor: ActorOf,
    debtor: Debtor = None,
    status: Annotated[str | None, Query(pattern="^(posted|reversed)$")] = None,
    currency: Currency = None,
    received_from: Annotated[date | None, Query(alias="from", description="From this day.")] = None,
    received_to: Annotated[date | None, Query(alias="to", description="To this day.")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> m.PaymentList:
    """The portfolio's payments, newest first (``from`` and ``to`` both included)."""
    found = listings.payments(
        s.uow(), actor, portfolio=s.portfolio, debtor=debtor, status=status,
        currency=_upper(currency), received_from=received_from, received_to=received_to,
        before=cursor, limit=limit,
    )  # fmt: skip
    return m.PaymentList(
        payments=[
            _shaped(m.PaymentItem, p, amount=str(p.amount), unallocated=str(p.unallocated))
            for p in found.items
        ],
        next_cursor=found.next_cursor,
    )


@router.get("/cases", response_model=m.CaseList, responses=READ)
def get_cases(
    s: SiteOf,
    actor: ActorOf,
    debtor: Debtor = None,
    stage: Annotated[str | None, Query(max_length=100)] = None,
    currency: Currency = None,
    is_open: Annotated[
        bool | None, Query(alias="open", description="true: open cases; false: closed ones.")
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> m.CaseList:
    """The portfolio's collection cases, newest first, as the last cycle run left them."""
    found = listings.cases(
        s.uow(), actor, portfolio=s.portfolio, debtor=debtor, stage=stage,
        currency=_upper(currency), is_open=is_open, before=cursor, limit=limit,
    )  # fmt: skip
    return m.CaseList(
        cases=[_shaped(m.Case, c) for c in found.items],
        next_cursor=found.next_cursor,
    )


# Agreements ------------------------------------------------------------------------------------


def _promise(p: PromiseView) -> m.Promise:
    return m.Promise(
        id=p.promise_id, debtor=p.debtor, currency=p.currency,
        amount=str(from_minor(p.amount_minor, p.currency)), made_on=p.made_on, due_on=p.due_on,
        grace_days=p.grace_days, status=p.status, outcome=p.outcome,
        kept=_money(p.kept_minor, p.currency), outcome_on=p.outcome_on,
    )  # fmt: skip


def _plan(p: agreements.PlanView) -> m.Plan:
    c = p.currency
    return m.Plan(
        id=p.plan_id, debtor=p.debtor, currency=c, status=p.status,
        balance=str(from_minor(p.balance_minor, c)), down=str(from_minor(p.down_minor, c)),
        fee=str(from_minor(p.fee_minor, c)), instalments=p.instalments, frequency=p.frequency,
        accepted_on=p.accepted_on, expires_on=p.expires_on, active_on=p.active_on,
        approved_by=p.approved_by, ended_on=p.ended_on, beyond=list(p.beyond),
    )  # fmt: skip


def _settlement(v: settlements.SettlementView) -> m.Settlement:
    c = v.currency
    return m.Settlement(
        id=v.settlement_id, debtor=v.debtor, currency=c, status=v.status,
        balance=str(from_minor(v.balance_minor, c)), discount=str(v.discount),
        amount=str(from_minor(v.amount_minor, c)), offered_on=v.offered_on,
        expires_on=v.expires_on, accepted_on=v.accepted_on, approved_by=v.approved_by,
        ended_on=v.ended_on, written_off=_money(v.written_off_minor, c), beyond=list(v.beyond),
    )  # fmt: skip


@router.get("/promises", response_model=m.PromiseList, responses=READ)
def get_promises(
    s: SiteOf,
    actor: ActorOf,
    debtor: Debtor = None,
    status: Annotated[str | None, Query(pattern="^(open|cancelled)$")] = None,
    outcome: Annotated[str | None, Query(pattern="^(kept|partial|broken)$")] = None,
    top: Top = 50,
    page: PageNo = 1,
) -> m.PromiseList:
    """Promises to pay, newest first, with their outcome once the cycle found it."""
    found = _matching(
        collection.list_promises(s.uow(), actor, portfolio=s.portfolio, debtor=debtor),
        status=status, outcome=outcome,
    )  # fmt: skip
    items, more = _numbered(found, page, top)
    return m.PromiseList(promises=[_promise(p) for p in items], page=page, next_page=more)


PlanStatus = f"^({'|'.join(rules.PlanStatus)})$"


@router.get("/plans", response_model=m.PlanList, responses=READ)
def get_plans(
    s: SiteOf,
    actor: ActorOf,
    debtor: Debtor = None,
    status: Annotated[str | None, Query(pattern=PlanStatus)] = None,
    top: Top = 50,
    page: PageNo = 1,
) -> m.PlanList:
    """Payment plans, newest first."""
    found = agreements.list_plans(
        s.uow(), actor, portfolio=s.portfolio, debtor=debtor, status=status,
        limit=top + 1, offset=(page - 1) * top,
    )  # fmt: skip
    items, more = found[:top], page + 1 if len(found) > top else None
    return m.PlanList(plans=[_plan(p) for p in items], page=page, next_page=more)


SettlementStatus = f"^({'|'.join(rules.SettlementStatus)})$"


@router.get("/settlements", response_model=m.SettlementList, responses=READ)
def get_settlements(
    s: SiteOf,
    actor: ActorOf,
    debtor: Debtor = None,
    status: Annotated[str | None, Query(pattern=SettlementStatus)] = None,
    top: Top = 50,
    page: PageNo = 1,
) -> m.SettlementList:
    """Settlement offers, newest first."""
    found = settlements.list_settlements(
        s.uow(), actor, portfolio=s.portfolio, debtor=debtor, status=status,
        limit=top + 1, offset=(page - 1) * top,
    )  # fmt: skip
    items, more = found[:top], page + 1 if len(found) > top else None
    return m.SettlementList(settlements=[_settlement(v) for v in items], page=page, next_page=more)


CHANGED = {200: {"description": "Done before: nothing changed."}, **WRITE}


@router.post("/plans", response_model=m.PlanOut, status_code=201, responses=CHANGED)
def post_plan(body: m.PlanIn, response: Response, s: SiteOf, actor: ActorOf) -> m.PlanOut:
    """Record the debtor's acceptance of a payment plan on the open balance: active at once
    within the policy's limits, else awaiting a manager's approval."""
    done = agreements.accept_plan(
        s.uow(), actor, portfolio=s.portfolio, debtor=body.debtor, policy=_policy(s),
        on=body.on or _today(s), at=s.clock(), first_on=body.first_on,
        instalments=body.instalments, frequency=body.frequency, down=body.down,
        currency=_upper(body.currency),
    )  # fmt: skip
    _status(response, done.changed)
    shown = agreements.show_plan(s.uow(), actor, done.plan_id, portfolio=s.portfolio)
    return m.PlanOut(plan=_plan(shown), changed=done.changed)


@router.post("/plans/{plan}/approve", response_model=m.PlanChange, responses=WRITE)
def approve_plan(plan: Id, s: SiteOf, actor: ActorOf, body: Change = None) -> m.PlanChange:
    """A manager approves a plan beyond the policy's limits: it becomes active."""
    done = agreements.approve_plan(s.uow(), actor, plan, on=_on(s, body), at=s.clock())
    return m.PlanChange(id=done.plan_id, status=done.status, changed=done.changed)


@router.post("/plans/{plan}/cancel", response_model=m.PlanChange, responses=WRITE)
def cancel_plan(plan: Id, body: m.CancelIn, s: SiteOf, actor: ActorOf) -> m.PlanChange:
    """End a plan (the case resumes)."""
    done = agreements.cancel_plan(
        s.uow(), actor, plan, on=body.on or _today(s), at=s.clock(), reason=body.reason
    )
    return m.PlanChange(id=done.plan_id, status=done.status, changed=done.changed)


@router.post("/settlements", response_model=m.SettlementOut, status_code=201, responses=CHANGED)
def post_settlement(
    body: m.SettlementIn, response: Response, s: SiteOf, actor: ActorOf
) -> m.SettlementOut:
    """Offer to settle the open balance for ``discount`` percent less if paid by
    ``expires_on``: offered at once within the policy's limits, else awaiting approval."""
    done = settlements.offer_settlement(
        s.uow(), actor, portfolio=s.portfolio, debtor=body.debtor, policy=_policy(s),
        discount=body.discount, expires_on=body.expires_on, on=body.on or _today(s),
        at=s.clock(), currency=_upper(body.currency),
    )  # fmt: skip
    _status(response, done.changed)
    return m.SettlementOut(settlement=_settlement(done), changed=done.changed)


@router.post("/settlements/{settlement}/approve", response_model=m.SettlementOut, responses=WRITE)
def approve_settlement(
    settlement: Id, s: SiteOf, actor: ActorOf, body: Change = None
) -> m.SettlementOut:
    """A manager approves a settlement beyond the policy's limits: it stands as offered."""
    done = settlements.approve_settlement(s.uow(), actor, settlement, on=_on(s, body), at=s.clock())
    return m.SettlementOut(settlement=_settlement(done), changed=done.changed)


@router.post("/settlements/{settlement}/accept", response_model=m.SettlementOut, responses=WRITE)
def accept_settlement(
    settlement: Id, s: SiteOf, actor: ActorOf, body: Change = None
) -> m.SettlementOut:
    """Record the debtor's acceptance of an offered settlement."""
    done = settlements.accept_settlement(s.uow(), actor, settlement, on=_on(s, body), at=s.clock())
    return m.SettlementOut(settlement=_settlement(done), changed=done.changed)


@router.post("/promises/{promise}/cancel", response_model=m.PromiseCancelled, responses=WRITE)
def cancel_promise(
    promise: Id, s: SiteOf, actor: ActorOf, body: Change = None
) -> m.PromiseCancelled:
    """Cancel a promise (it no longer pauses the collection)."""
    done = collection.cancel_promise(s.uow(), actor, promise, on=_on(s, body), at=s.clock())
    return m.PromiseCancelled(id=done.promise_id, changed=done.changed)


@router.post("/payments/{payment}/reverse", response_model=m.PaymentOut, responses=WRITE)
def reverse_payment(
    payment: Annotated[str, PathParam(min_length=1, max_length=100, pattern=m.ID)],
    body: m.ReversalIn,
    s: SiteOf,
    actor: ActorOf,
) -> m.PaymentOut:
    """Reverse a bounced or charged-back payment: its allocations are undone, the invoices
    reopen; reversing it again changes nothing."""
    done = ledger.reverse_payment(
        s.uow(), actor, payment, portfolio=s.portfolio, on=body.on or _today(s),
        reason=body.reason, at=s.clock(),
    )  # fmt: skip
    code = done.unallocated.currency
    return m.PaymentOut(
        payment=done.document, changed=done.changed,
        applied=[
            m.Applied(invoice=a.invoice, seq=a.seq, amount=str(from_minor(a.amount_minor, code)))
            for a in done.applied
        ],
        unallocated=_amount(done.unallocated), currency=code,
    )  # fmt: skip
