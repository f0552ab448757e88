"""Write-offs as a workflow: proposed (by hand, or from the policy's ``propose_write_off``
step), posted at once within the proposer's limit or approved or refused by a manager, and the
money that comes in afterwards recorded as a recovery.

The rules (who may post how much at once) are :mod:`arrears.domain.write_offs`'; the posting is
the ledger's own (:func:`arrears.store.ledger.write_offs.write_off`, one ``write_off.posted``
per invoice). :func:`arrears.services.books.ledger.write_off` still posts a write-off directly, for
a
caller whose role may approve (a settlement's discount).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import RowMapping

from arrears.domain.actor import Actor, Permission, Role
from arrears.domain.allocation import AllocationRule
from arrears.domain.errors import NotAllowed, NotFound
from arrears.domain.ledger import Payment
from arrears.domain.money import Money, MoneyError, is_currency
from arrears.domain.problems import ProblemsFound
from arrears.domain.write_offs import (
    Limits,
    WriteOffApproved,
    WriteOffProposed,
    WriteOffRefused,
    limit_of,
    posts_at_once,
)
from arrears.policy.model import Policy
from arrears.services.cycle import load_compiled
from arrears.services.uow import SqlUnitOfWork
from arrears.store.activity_log import Entry, record
from arrears.store.ledger import cases
from arrears.store.ledger import write_offs as store
from arrears.store.ledger.balances import find_debtor, find_invoice, portfolio_of

__all__ = [
    "Proposal",
    "Recovery",
    "approve",
    "limit_for",
    "limits_from",
    "list_proposals",
    "policy_limits",
    "policy_recall_after_days",
    "propose",
    "propose_from_cycle",
    "propose_invoice",
    "record_recovery",
    "refuse",
]


@dataclass(frozen=True, slots=True)
class Proposal:
    """A write-off proposal: ``status`` pending, posted or refused; ``posted`` what it wrote off;
    ``changed`` false when the request had been made before."""

    id: int
    debtor: str
    invoice: str | None
    amount: Money
    posted: Money
    reason: str
    status: str
    proposed_by: str
    proposed_on: date
    decided_by: str | None
    decided_on: date | None
    decision_note: str | None
    changed: bool = True


@dataclass(frozen=True, slots=True)
class Recovery:
    """A payment on a written-off debt: ``recovered`` the part counted as a recovery."""

    payment: str
    amount: Money
    recovered: Money
    changed: bool


def _proposal(row: RowMapping, *, changed: bool = True) -> Proposal:
    currency = str(row["currency"])
    return Proposal(
        int(row["id"]),
        str(row["debtor"]),
        None if row["invoice"] is None else str(row["invoice"]),
        Money.from_minor(int(row["amount_minor"]), currency),
        Money.from_minor(int(row["posted_minor"]), currency),
        str(row["reason"]),
        str(row["status"]),
        str(row["proposed_by"]),
        row["proposed_on"],
        row["decided_by"],
        row["decided_on"],
        row["decision_note"],
        changed,
    )


def _key(portfolio: str, debtor: str, currency: str, what: str, on: date, reason: str) -> str:
    why = hashlib.sha256(reason.encode("utf-8")).hexdigest()[:12]
    return f"write_off.proposal:{portfolio}:{debtor}:{currency}:{what}:{on.isoformat()}:{why}"


def propose(
    uow: SqlUnitOfWork,
    actor: Actor,
    debtor: str,
    *,
    portfolio: str,
    on: date,
    reason: str,
    limits: Limits,
    at: datetime,
    currency: str | None = None,
    invoice: str | None = None,
    amount: Decimal | None = None,
) -> Proposal:
    """Propose writing off ``amount`` (all that is open when ``None``) of the debtor's balance in
    ``currency`` (its own by default), or of one ``invoice``; it posts at once within the
    actor's limit, otherwise it waits for approval. The same request again changes nothing."""
    actor.require(Permission.WORK, "propose a write-off")
    source = f"write-off of {debtor}"
    with uow:
        return _propose(
            uow,
            actor,
            source,
            debtor,
            portfolio=portfolio,
            on=on,
            reason=reason,
            limits=limits,
            at=at,
            currency=currency,
            invoice=invoice,
            amount=amount,
            key=None,
        )


def propose_invoice(
    uow: SqlUnitOfWork,
    actor: Actor,
    invoice: str,
    *,
    portfolio: str,
    on: date,
    reason: str,
    limits: Limits,
    at: datetime,
    amount: Decimal | None = None,
) -> Proposal:
    """:func:`propose` for one invoice, named by its number alone (its debtor's and currency)."""
    actor.require(Permission.WORK, "propose a write-off")
    source = f"write-off of invoice {invoice}"
    with uow:
        pid = portfolio_of(uow.conn, portfolio, source)
        row = find_invoice(uow.conn, pid, invoice, source)
        owner = store.debtor_external_id(uow.conn, int(row["debtor_id"]))
        return _propose(
            uow,
            actor,
            source,
            owner,
            portfolio=portfolio,
            on=on,
            reason=reason,
            limits=limits,
            at=at,
            currency=str(row["currency"]),
            invoice=invoice,
            amount=amount,
            key=None,
        )


def _propose(
    uow: SqlUnitOfWork,
    actor: Actor,
    source: str,
    debtor: str,
    *,
    portfolio: str,
    on: date,
    reason: str,
    limits: Limits,
    at: datetime,
    currency: str | None,
    invoice: str | None,
    amount: Decimal | None,
    key: str | None,
) -> Proposal:
    conn = uow.conn
    pid = portfolio_of(conn, portfolio, source)
    owner = find_debtor(conn, pid, debtor, source)
    problems: list[str] = []
    invoice_row = None
    if invoice is not None:
        try:
            invoice_row = find_invoice(conn, pid, invoice, source)
        except ProblemsFound as exc:
            problems += [p.message for p in exc.problems]
    code = (currency or "").upper() or (
        str(invoice_row["currency"]) if invoice_row is not None else str(owner["currency"])
    )
    if not is_currency(code):
        problems.append(f"{code!r} is not an ISO 4217 currency")
    if invoice_row is not None and invoice_row["debtor_id"] != owner["id"]:
        problems.append(f"invoice {invoice} is not {debtor}'s")
    if invoice_row is not None and str(invoice_row["currency"]) != code:
        problems.append(f"invoice {invoice} is in {invoice_row['currency']}, not {code}")
    if not reason.strip():
        problems.append("a write-off needs a reason (--reason)")
    wanted: int | None = None
    if amount is not None and is_currency(code):
        try:
            wanted = Money(amount, code).minor
            if wanted <= 0:
                problems.append(f"amount must be positive, not {amount}")
        except MoneyError as exc:
            problems.append(str(exc))
    if problems:
        raise ProblemsFound.of(source, *problems)
    invoice_id = None if invoice_row is None else int(invoice_row["id"])
    what = f"{invoice or '*'}:{'all' if wanted is None else wanted}"
    key = key or _key(portfolio, debtor, code, what, on, reason)
    existing = store.proposal_by_key(conn, key)
    if existing is not None:
        found = store.find_proposal(conn, existing)
        assert found is not None
        return _proposal(found, changed=False)
    open_minor = store.open_minor_of(conn, int(owner["id"]), code, invoice_id)
    where = f"invoice {invoice}" if invoice else f"{debtor} in {code}"
    if open_minor == 0:
        raise ProblemsFound.of(source, f"{where} has nothing open to write off")
    if wanted is not None and wanted > open_minor:
        raise ProblemsFound.of(
            source,
            f"{Money.from_minor(wanted, code)} exceeds the open balance "
            f"{Money.from_minor(open_minor, code)} of {where}",
        )
    size = Money.from_minor(open_minor if wanted is None else wanted, code)
    at_once = posts_at_once(actor.role, size, limits)
    proposal_id = store.insert_proposal(
        conn,
        {
            "key": key,
            "portfolio_id": pid,
            "debtor_id": owner["id"],
            "currency": code,
            "invoice_id": invoice_id,
            "amount_minor": size.minor,
            "reason": reason,
            "status": "pending",
            "proposed_by": actor.name,
            "proposed_on": on,
            "created_at": at,
        },
    )
    row = store.find_proposal(conn, proposal_id)
    assert row is not None
    if at_once:
        _post(uow, row, actor, on=on, note="within the proposer's limit", at=at)
    else:
        limit = limit_of(actor.role, code, limits)
        entry = WriteOffProposed(
            occurred_at=at,
            actor=actor.name,
            portfolio=portfolio,
            debtor=debtor,
            subject_kind="write_off_proposal",
            subject_id=str(proposal_id),
            payload={
                "proposal": proposal_id,
                "amount": str(size.amount),
                "currency": code,
                "invoice": invoice,
                "reason": reason,
                "limit": None if limit is None else str(limit),
                "on": on.isoformat(),
            },
            idempotency_key=f"write_off.proposed:{proposal_id}",
        )
        record(conn, [Entry(entry, pid, int(owner["id"]))])
    found = store.find_proposal(conn, proposal_id)
    assert found is not None
    return _proposal(found)


def _post(
    uow: SqlUnitOfWork, row: RowMapping, actor: Actor, *, on: date, note: str, at: datetime
) -> int:
    conn = uow.conn
    posted = store.post_proposal(conn, row, on=on, actor=actor.name, at=at)
    store.decide(
        conn,
        int(row["id"]),
        {
            "status": "posted",
            "decided_by": actor.name,
            "decided_on": on,
            "decision_note": note,
            "posted_minor": posted,
        },
    )
    currency = str(row["currency"])
    entry = WriteOffApproved(
        occurred_at=at,
        actor=actor.name,
        portfolio=str(row["portfolio"]),
        debtor=str(row["debtor"]),
        subject_kind="write_off_proposal",
        subject_id=str(row["id"]),
        payload={
            "proposal": int(row["id"]),
            "amount": str(Money.from_minor(int(row["amount_minor"]), currency).amount),
            "posted": str(Money.from_minor(posted, currency).amount),
            "currency": currency,
            "proposed_by": str(row["proposed_by"]),
            "note": note,
            "on": on.isoformat(),
        },
        idempotency_key=f"write_off.approved:{row['id']}",
    )
    record(conn, [Entry(entry, int(row["portfolio_id"]), int(row["debtor_id"]))])
    return posted


def _pending(uow: SqlUnitOfWork, proposal_id: int) -> RowMapping:
    row = store.find_proposal(uow.conn, proposal_id)
    if row is None:
        raise NotFound(f"write-off proposal {proposal_id}: there is no such proposal")
    return row


def _before_proposed(row: RowMapping, on: date) -> list[str]:
    if on < row["proposed_on"]:
        return [f"--on {on} is before the day it was proposed ({row['proposed_on']})"]
    return []


def approve(
    uow: SqlUnitOfWork, actor: Actor, proposal_id: int, *, on: date, at: datetime
) -> Proposal:
    """Approve a pending proposal: it posts (up to what is still open). Whoever proposed it
    may not approve it; approving it again changes nothing."""
    actor.require(Permission.APPROVE, "approve a write-off")
    with uow:
        row = _pending(uow, proposal_id)
        if row["status"] == "posted":
            return _proposal(row, changed=False)
        source = f"write-off proposal {proposal_id}"
        problems = []
        if row["status"] == "refused":
            problems.append(f"it was refused by {row['decided_by']} on {row['decided_on']}")
        if row["proposed_by"] == actor.name and actor.role is not Role.SYSTEM:
            raise NotAllowed(f"{source}: {actor.name} proposed it; another person approves it")
        problems += _before_proposed(row, on)
        if problems:
            raise ProblemsFound.of(source, *problems)
        posted = _post(uow, row, actor, on=on, note="approved", at=at)
        if posted == 0:
            raise ProblemsFound.of(source, "nothing is open any more: refuse it instead")
        found = store.find_proposal(uow.conn, proposal_id)
        assert found is not None
        return _proposal(found)


def refuse(
    uow: SqlUnitOfWork, actor: Actor, proposal_id: int, *, on: date, reason: str, at: datetime
) -> Proposal:
    """Refuse a pending proposal: nothing posts. Refusing it again changes nothing."""
    actor.require(Permission.APPROVE, "refuse a write-off")
    with uow:
        row = _pending(uow, proposal_id)
        if row["status"] == "refused":
            return _proposal(row, changed=False)
        source = f"write-off proposal {proposal_id}"
        problems = []
        if row["status"] == "posted":
            problems.append(f"it was posted by {row['decided_by']} on {row['decided_on']}")
        if not reason.strip():
            problems.append("say why it is refused (--reason)")
        problems += _before_proposed(row, on)
        if problems:
            raise ProblemsFound.of(source, *problems)
        values = {"status": "refused", "decided_by": actor.name, "decided_on": on}
        store.decide(uow.conn, proposal_id, {**values, "decision_note": reason})
        currency = str(row["currency"])
        entry = WriteOffRefused(
            occurred_at=at,
            actor=actor.name,
            portfolio=str(row["portfolio"]),
            debtor=str(row["debtor"]),
            subject_kind="write_off_proposal",
            subject_id=str(proposal_id),
            payload={
                "proposal": proposal_id,
                "amount": str(Money.from_minor(int(row["amount_minor"]), currency).amount),
                "currency": currency,
                "reason": reason,
                "on": on.isoformat(),
            },
            idempotency_key=f"write_off.refused:{proposal_id}",
        )
        record(uow.conn, [Entry(entry, int(row["portfolio_id"]), int(row["debtor_id"]))])
        found = store.find_proposal(uow.conn, proposal_id)
        assert found is not None
        return _proposal(found)


def propose_from_cycle(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    on: date,
    limits: Limits,
    at: datetime,
) -> list[Proposal]:
    """Turn each open ``write_off`` task the policy's ``propose_write_off`` step created into a
    proposal of the case's whole open balance, proposed by ``system:cycle`` (which has no
    limit: it waits for approval). Run again, it proposes nothing new."""
    actor.require(Permission.WORK, "propose the policy's write-offs")
    cycle = Actor("system:cycle", Role.SYSTEM)
    made: list[Proposal] = []
    with uow:
        for task in store.cycle_write_off_tasks(uow.conn, portfolio):
            key = f"write_off.proposal:task:{task['key']}"
            if store.proposal_by_key(uow.conn, key) is not None:
                continue
            if store.open_minor_of(uow.conn, int(task["debtor_id"]), task["currency"], None) == 0:
                continue
            made.append(
                _propose(
                    uow,
                    cycle,
                    f"write-off of {task['debtor']}",
                    str(task["debtor"]),
                    portfolio=portfolio,
                    on=max(on, task["created_on"]),
                    reason=f"proposed by the policy (step {task['step_id']})",
                    limits=limits,
                    at=at,
                    currency=str(task["currency"]),
                    invoice=None,
                    amount=None,
                    key=key,
                )
            )
    return made


def policy_limits(path: Path) -> Limits:
    """The ``write_off_limits`` of the policy file at ``path`` (none when there is no file: the
    defaults of :mod:`arrears.domain.write_offs` apply); a policy with problems is refused."""
    if not path.exists():
        return {}
    return limits_from(load_compiled(path).policy)


def limits_from(policy: Policy) -> Limits:
    """A loaded policy's ``write_off_limits``, as :func:`propose` takes them."""
    limits = policy.write_off_limits
    return {str(role): dict(by_currency) for role, by_currency in limits.items()}


def limit_for(actor: Actor, currency: str, limits: Limits) -> Decimal | None:
    """What ``actor`` may write off at once in ``currency`` (``None``: without limit; above it a
    proposal waits for a manager's approval)."""
    return limit_of(actor.role, currency.upper(), limits)


def policy_recall_after_days(path: Path) -> int | None:
    """The ``agency_recall_after_days`` of the policy file at ``path`` (``None``: no file)."""
    return load_compiled(path).policy.agency_recall_after_days if path.exists() else None


def list_proposals(
    uow: SqlUnitOfWork, actor: Actor, *, portfolio: str, status: str | None = None
) -> list[Proposal]:
    """The portfolio's write-off proposals, newest first (``pending``: those waiting)."""
    actor.require(Permission.READ, "see write-off proposals")
    with uow:
        portfolio_of(uow.conn, portfolio, "write-off proposals")
        return [_proposal(row) for row in store.proposals(uow.conn, portfolio, status=status)]


def record_recovery(
    uow: SqlUnitOfWork,
    actor: Actor,
    payment: Payment,
    *,
    rule: AllocationRule = AllocationRule.OLDEST_DUE_FIRST,
    at: datetime,
) -> Recovery:
    """Post a payment on a written-off debt: it pays what is open first (as any payment), and
    what finds nothing open is recorded as a recovery of what was written off
    (``write_off.recovered``)."""
    actor.require(Permission.WORK, "record a recovery")
    source = f"payment {payment.external_id}"
    currency = payment.amount.currency
    with uow:
        pid = portfolio_of(uow.conn, payment.portfolio, source)
        owner = find_debtor(uow.conn, pid, payment.debtor, source)
        if store.written_off_minor(uow.conn, int(owner["id"]), currency) == 0:
            raise ProblemsFound.of(
                source,
                f"nothing of {payment.debtor} in {currency} was written off: "
                "record it with arrears payment add",
            )
        posting = cases.post_payment(uow.conn, payment, rule=rule, actor=actor.name, at=at)
        recovered = store.note_recovery(
            uow.conn,
            portfolio=payment.portfolio,
            debtor_id=int(owner["id"]),
            debtor_external_id=payment.debtor,
            payment=payment.external_id,
            unallocated_minor=posting.unallocated.minor,
            currency=currency,
            on=payment.received_on,
            actor=actor.name,
            at=at,
        )
    return Recovery(
        payment.external_id,
        Money.from_minor(payment.amount.minor, currency),
        Money.from_minor(recovered, currency),
        posting.changed,
    )
