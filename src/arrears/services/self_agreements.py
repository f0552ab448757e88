"""Payment plans and settlements on the debtor's own page (docs/web.md), acting as
``debtor:ID`` (:func:`arrears.domain.actor.debtor`) on their own account only.

The same use cases the collectors call (:mod:`arrears.services.agreements`,
:mod:`arrears.services.settlements`), scoped to the debtor:

- :func:`own_agreements`: the debtor's plans (with their schedules) and settlements;
- :func:`quote_own_plan`: the calculator on the debtor's balance (writes nothing);
- :func:`accept_own_plan`: the debtor accepts a plan, **within the policy's limits only** (a plan
  beyond them is refused, every limit it passes named: only a collector may agree one for a
  manager to approve); recorded by :func:`agreements.accept_plan` as ``debtor:ID``;
- :func:`accept_own_settlement`: the debtor accepts a settlement offered to them (not another
  debtor's, not one still awaiting a manager's approval), recorded by
  :func:`settlements.accept_settlement` as ``debtor:ID``.

``agreements.quote_plan`` and ``settlements.accept_settlement`` require the work permission,
which a debtor does not have: once the debtor is known to act on their own account (and, for a
settlement, on their own offer) they are called with an actor of the same name and a role that
may (the activity log still names ``debtor:ID``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from arrears.domain.actor import Actor, Role
from arrears.domain.errors import NotFound
from arrears.domain.problems import ProblemsFound
from arrears.policy.model import Policy
from arrears.services import agreements, settlements
from arrears.services.selfservice import _own  # the debtor acts on their own account only
from arrears.services.uow import SqlUnitOfWork

__all__ = [
    "OwnAgreements",
    "accept_own_plan",
    "accept_own_settlement",
    "own_agreements",
    "quote_own_plan",
]


def _as(actor: Actor, role: Role) -> Actor:
    """The same name with ``role``: what the collectors' use cases check."""
    return Actor(actor.name, role)


@dataclass(frozen=True, slots=True)
class OwnAgreements:
    plans: list[agreements.PlanView]  # newest first, with their schedules
    settlements: list[settlements.SettlementView]  # newest first


def own_agreements(
    uow: SqlUnitOfWork, actor: Actor, *, portfolio: str, debtor: str
) -> OwnAgreements:
    """The debtor's plans and settlements."""
    _own(actor, debtor, "read the agreements")
    reader = _as(actor, Role.AUDITOR)
    where = {"portfolio": portfolio, "debtor": debtor}
    return OwnAgreements(
        agreements.list_plans(uow, reader, **where, with_schedule=True),
        settlements.list_settlements(uow, reader, **where),
    )


def quote_own_plan(
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
) -> agreements.PlanQuote:
    """:func:`agreements.quote_plan` for the debtor on their own balance (writes nothing)."""
    _own(actor, debtor, "quote a payment plan")
    return agreements.quote_plan(
        uow, _as(actor, Role.COLLECTOR), portfolio=portfolio, debtor=debtor, policy=policy,
        on=on, first_on=first_on, instalments=instalments, frequency=frequency, down=down,
        currency=currency,
    )  # fmt: skip


def accept_own_plan(
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
) -> agreements.PlanRecorded:
    """The debtor accepts the plan :func:`quote_own_plan` computes, if it is within the
    policy's limits (else :class:`ProblemsFound` naming each limit, nothing written)."""
    terms = {
        "portfolio": portfolio, "debtor": debtor, "policy": policy, "on": on,
        "first_on": first_on, "instalments": instalments, "frequency": frequency, "down": down,
        "currency": currency,
    }  # fmt: skip
    quote = quote_own_plan(uow, actor, **terms)  # type: ignore[arg-type]
    if quote.needs_approval:
        raise ProblemsFound.of(
            f"plan for {debtor}",
            *(f"beyond what can be agreed here: {why}" for why in quote.terms.beyond),
        )
    return agreements.accept_plan(uow, actor, at=at, **terms)  # type: ignore[arg-type]


def accept_own_settlement(
    uow: SqlUnitOfWork,
    actor: Actor,
    settlement_id: int,
    *,
    portfolio: str,
    debtor: str,
    on: date,
    at: datetime,
) -> settlements.SettlementView:
    """The debtor accepts settlement ``settlement_id`` offered to them (another debtor's, or an
    unknown one: :class:`NotFound`)."""
    _own(actor, debtor, "accept a settlement")
    mine = settlements.list_settlements(
        uow, _as(actor, Role.AUDITOR), portfolio=portfolio, debtor=debtor
    )
    if settlement_id not in {s.settlement_id for s in mine}:
        raise NotFound(f"settlement {settlement_id}: no such settlement of {debtor}")
    return settlements.accept_settlement(
        uow, _as(actor, Role.COLLECTOR), settlement_id, on=on, at=at
    )
