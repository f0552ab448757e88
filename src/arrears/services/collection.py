"""What a collector records by hand between cycle runs: promises, holds, contacts, approvals,
tasks; and the collectors' worklist.

Each use case checks the actor's role, runs in one transaction of its unit of work, and writes
its activity record there, naming the actor (the store's functions in
:mod:`arrears.store.cycle.collection` write the rows and the record).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from arrears.domain.actor import Actor, Permission
from arrears.domain.errors import NotFound
from arrears.domain.money import Money
from arrears.services.uow import SqlUnitOfWork
from arrears.store.cycle import collection


@dataclass(frozen=True, slots=True)
class PromiseAdded:
    promise_id: int
    debtor: str
    amount: Money
    due_on: date


def add_promise(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    debtor: str,
    amount: Decimal,
    due_on: date,
    made_on: date,
    at: datetime,
    grace_days: int = 0,
    currency: str | None = None,
    note: str | None = None,
) -> PromiseAdded:
    """Record ``debtor``'s promise to pay ``amount`` (in ``currency``, default the debtor's) by
    ``due_on``; an identical open promise is returned, not duplicated."""
    actor.require(Permission.WORK, "record a promise")
    with uow:
        code = currency or collection.debtor_currency(
            uow.conn, portfolio=portfolio, debtor_external_id=debtor
        )
        if code is None:
            raise NotFound(f"promise of {debtor}: unknown debtor {debtor!r}")
        money = Money(amount, code.upper())
        promise_id = collection.add_promise(
            uow.conn,
            portfolio=portfolio,
            debtor_external_id=debtor,
            amount=money,
            due_on=due_on,
            made_on=made_on,
            grace_days=grace_days,
            note=note,
            actor=actor.name,
            at=at,
        )
    return PromiseAdded(promise_id, debtor, money, due_on)
