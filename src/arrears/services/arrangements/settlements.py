"""Settlements as use cases: offer, approve (beyond the policy's limits), accept, list.

A settlement accepts the debtor's open balance in a currency less a discount in full payment,
if paid by its expiry. Each change checks the actor's role (``WORK`` to offer and accept,
``APPROVE`` to approve), checks the request (every problem at once), runs in one transaction
and writes its activity record there, naming the actor, with a key made of business ids. What
the cycle does with an accepted settlement is
:mod:`arrears.services.arrangements.agreement_monitor`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from arrears.domain import agreements as rules
from arrears.domain.actor import Actor, Permission
from arrears.domain.agreements import LIVE_SETTLEMENT_STATUSES, SettlementStatus
from arrears.domain.errors import Conflict, NotFound
from arrears.policy.model import Policy
from arrears.services.arrangements.agreements import (
    _currency,
    _fmt,
    _log,
    _may_read,
    _owner,
    _Request,
    _scope,
    _statuses,
)
from arrears.services.uow import SqlUnitOfWork
from arrears.store.agreements import records

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
        status = SettlementStatus.AWAITING_APPROVAL if beyond else SettlementStatus.OFFERED
        values = {
            "key": key,
            "portfolio_id": who.portfolio_id,
            "debtor_id": who.debtor_id,
            "currency": code,
            "status": status,
            "balance_minor": balance,
            "discount": format(discount.normalize(), "f"),
            "amount_minor": amount,
            "offered_on": on,
            "expires_on": expires_on,
            "beyond": beyond,
            "actor": actor.name,
            "created_at": at,
        }
        settlement_id = records.insert_settlement(conn, values)
        _log(
            conn,
            who,
            rules.SettlementOffered,
            actor=actor.name,
            at=at,
            subject_kind="settlement",
            subject_id=settlement_id,
            payload={
                "currency": code,
                "balance": fmt(balance),
                "discount": format(discount.normalize(), "f"),
                "amount": fmt(amount),
                "on": on.isoformat(),
                "expires_on": expires_on.isoformat(),
                "status": status,
                "beyond": beyond,
            },
            key=f"settlement.offered:{key}",
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
        if actor.may(Permission.SELF_SERVICE) and actor.name != f"debtor:{who.external_id}":
            # a debtor sees no other debtor's settlement, not even that it exists
            raise NotFound(f"settlement {settlement_id}: no such settlement")
        status = str(found["status"])
        done = SettlementStatus.OFFERED if approve else SettlementStatus.ACCEPTED
        if approve and status in LIVE_SETTLEMENT_STATUSES and found["approved_by"]:
            return _settlement_view(found, who.external_id, changed=False)
        if not approve and status == SettlementStatus.ACCEPTED:
            return _settlement_view(found, who.external_id, changed=False)
        wanted = SettlementStatus.AWAITING_APPROVAL if approve else SettlementStatus.OFFERED
        if status != wanted:
            why = {
                str(SettlementStatus.AWAITING_APPROVAL): "it needs a manager's approval first "
                f"(arrears settlement approve {settlement_id})",
                str(SettlementStatus.OFFERED): "it needs no approval",
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
        _log(
            conn,
            who,
            kind,
            actor=actor.name,
            at=at,
            subject_kind="settlement",
            subject_id=settlement_id,
            payload={"on": on.isoformat()},
            key=f"{kind.kind}:{found['key']}",
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
    expiry; paid in full by then, the rest is written off): a collector, or the debtor
    their own (another's: :class:`NotFound`), checked in the same transaction."""
    if not actor.may(Permission.SELF_SERVICE):
        actor.require(Permission.WORK, "accept a settlement")
    return _settlement_change(uow, actor, settlement_id, on=on, at=at, approve=False)


def list_settlements(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    debtor: str | None = None,
    status: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[SettlementView]:
    """The portfolio's settlements (``debtor``'s only: the debtor may read their own), newest
    first; ``status``: of that :class:`SettlementStatus` only; ``limit`` at most after the
    first ``offset`` (filtered and paged by the query)."""
    _may_read(actor, debtor, "read the settlements")
    request = _Request("settlements")
    statuses = _statuses(request, status, SettlementStatus)
    with uow:
        conn = uow.conn
        pid, debtor_id = _scope(conn, request, portfolio, debtor)
        rows = records.settlements(
            conn, pid, debtor_id=debtor_id, statuses=statuses, limit=limit, offset=offset
        )
        return [_settlement_view(r, str(r["debtor"])) for r in rows]
