"""Paying online (docs/web.md, "Paying online"): what a debtor's checkout asks the payment
provider to collect, and the payment a provider reports, recorded by the ledger's one payment
use case (:func:`arrears.services.books.ledger.record_payment`, the one ``arrears payment add``, the
API and the import's payments post through).

A provider's payment is the ledger's payment ``<provider>:<provider's payment id>``: the same
notification twice (a provider retries until it is acknowledged) posts nothing the second time.
The provider adapters (bank transfer, hosted checkout, the local fake provider) and their
signatures are the web's (:mod:`arrears.web.checkout`); this module holds no HTTP."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from arrears.domain.actor import Actor, Permission, Role
from arrears.domain.allocation import AllocationRule
from arrears.domain.errors import Conflict, NotAllowed
from arrears.domain.ledger import Payment
from arrears.domain.money import Money, MoneyError
from arrears.domain.problems import ProblemsFound
from arrears.services.books import ledger
from arrears.services.outreach import selfservice
from arrears.services.uow import SqlUnitOfWork
from arrears.store.ledger.balances import Posting

#: a provider's name and payment id: printable, no separators of ours
PROVIDER = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
PAYMENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,150}")


@dataclass(frozen=True, slots=True)
class Checkout:
    """What a checkout collects: the debtor's overdue amount in ``currency`` (all that is open
    when nothing is overdue yet)."""

    debtor: str
    currency: str
    amount: Money
    language: str


def checkout(
    uow: SqlUnitOfWork, actor: Actor, *, portfolio: str, debtor: str, currency: str, as_of: date
) -> Checkout:
    """The amount a debtor's checkout in ``currency`` collects on ``as_of``; :class:`Conflict`
    when nothing is open in it. Only the debtor, through their own link."""
    account = selfservice.debtor_account(
        uow, actor, portfolio=portfolio, debtor=debtor, as_of=as_of
    )
    language = account.language.lower()[:2]
    for owed in account.owed:
        if owed.currency == currency.upper():
            amount = owed.overdue if owed.overdue > 0 else owed.open
            if amount > 0:
                return Checkout(debtor, owed.currency, Money(amount, owed.currency), language)
    raise Conflict(f"nothing is open in {currency.upper()[:3]}: there is nothing to pay")


def payment_id(provider: str, provider_payment: str) -> str:
    """The ledger's id of a provider's payment."""
    return f"{provider}:{provider_payment}"


def record_provider_payment(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    provider: str,
    provider_payment: str,
    debtor: str,
    amount: Decimal,
    currency: str,
    received_on: date,
    reference: str,
    at: datetime,
    rule: AllocationRule = AllocationRule.OLDEST_DUE_FIRST,
) -> Posting:
    """Record a payment a provider reports (its signature checked by the caller): posted as
    ``<provider>:<provider_payment>``, applied by ``rule``; the same payment reported again
    changes nothing (``changed`` false). Only a system actor (the provider's notification)."""
    if actor.role is not Role.SYSTEM:
        raise NotAllowed(f"{actor.name} ({actor.role}) may not record a provider's payment")
    actor.require(Permission.WORK, "record a provider's payment")
    problems = []
    if not PROVIDER.fullmatch(provider):
        problems.append(f"provider {provider!r}: lowercase letters, digits, _ -")
    if not PAYMENT_ID.fullmatch(provider_payment):
        problems.append(f"payment id {provider_payment[:160]!r}: letters, digits, _ . : -")
    try:
        money = Money(amount, currency.upper())
        if money.minor <= 0:
            problems.append(f"the amount must be positive, not {amount}")
    except MoneyError as exc:
        problems.append(str(exc))
    if problems:
        raise ProblemsFound.of(f"payment from {provider}", *problems)
    payment = Payment(
        payment_id(provider, provider_payment), debtor, received_on, money, "online",
        reference[:200], portfolio,
    )  # fmt: skip
    return ledger.record_payment(uow, actor, payment, rule=rule, at=at)
