"""Payment plans and settlements on the debtor's own page (docs/web.md), acting as
``debtor:ID`` (:func:`arrears.domain.actor.debtor`) on their own account only.

The same use cases the collectors call (:mod:`arrears.services.arrangements.agreements`,
:mod:`arrears.services.arrangements.settlements`), called with the debtor's own actor: each of them
lets the
debtor act on their own account (self-service) and checks it, so the activity log names
``debtor:ID`` and no stand-in role is ever made up here.

- :func:`own_agreements`: the debtor's plans (with their schedules) and settlements;
- :func:`quote_own_plan`: the calculator on the debtor's balance (writes nothing);
- :func:`accept_own_plan`: the debtor accepts a plan, **within the policy's limits only** (a plan
  beyond them is refused, every limit it passes named: only a collector may agree one for a
  manager to approve), quoted and recorded in one transaction by
  :func:`agreements.accept_plan`;
- :func:`accept_own_settlement`: the debtor accepts a settlement offered to them (not another
  debtor's, not one still awaiting a manager's approval), by
  :func:`settlements.accept_settlement`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from arrears.domain.actor import Actor
from arrears.policy.model import Policy
from arrears.services.arrangements import agreements, settlements
from arrears.services.outreach.selfservice import _own  # the debtor acts on their own account only
from arrears.services.uow import SqlUnitOfWork

__all__ = [
    "OwnAgreements",
    "accept_own_plan",
    "accept_own_settlement",
    "own_agreements",
    "quote_own_plan",
]


@dataclass(frozen=True, slots=True)
class OwnAgreements:
    plans: list[agreements.PlanView]  # newest first, with their schedules
    settlements: list[settlements.SettlementView]  # newest first


def own_agreements(
    uow: SqlUnitOfWork, actor: Actor, *, portfolio: str, debtor: str
) -> OwnAgreements:
    """The debtor's plans and settlements."""
    _own(actor, debtor, "read the agreements")
    return OwnAgreements(
        agreements.list_plans(uow, actor, portfolio=portfolio, debtor=debtor, with_schedule=True),
        settlements.list_settlements(uow, actor, portfolio=portfolio, debtor=debtor),
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
    """:func:`agreements.quote_plan` for the debtor on their own balance, with at least the
    down payment the policy asks (writes nothing)."""
    _own(actor, debtor, "quote a payment plan")
    return agreements.quote_plan(
        uow, actor, portfolio=portfolio, debtor=debtor, policy=policy, on=on, first_on=first_on,
        instalments=instalments, frequency=frequency, down=down, currency=currency,
        least_down=True,
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
    policy's limits (else :class:`ProblemsFound` naming each limit, nothing written): the
    quote and the acceptance in one transaction, recorded as ``debtor:ID``."""
    _own(actor, debtor, "accept a payment plan")
    return agreements.accept_plan(
        uow, actor, portfolio=portfolio, debtor=debtor, policy=policy, on=on, at=at,
        first_on=first_on, instalments=instalments, frequency=frequency, down=down,
        currency=currency, within_limits=True, least_down=True,
    )  # fmt: skip


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
    unknown one: :class:`NotFound`, checked in the acceptance's transaction)."""
    _own(actor, debtor, "accept a settlement")
    del portfolio  # one server, one portfolio: the settlement's debtor is what is checked
    return settlements.accept_settlement(uow, actor, settlement_id, on=on, at=at)
