"""What a collector records by hand between cycle runs: promises, holds, contacts, approvals,
tasks; and the collectors' worklist.

Each use case checks the actor's role, checks the request (every problem at once, as
:class:`~arrears.domain.problems.ProblemsFound`; an unknown debtor, promise, hold or task alone
is :class:`~arrears.domain.errors.NotFound`), runs in one transaction of its unit of work, and
writes through the unit's collection records (:class:`arrears.services.ports.CollectionRecords`),
which write the activity record naming the actor. Repeating a use case changes nothing: the
result says whether anything changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import polars as pl

from arrears.domain.actor import Actor, Permission, Role
from arrears.domain.errors import InvalidInput, NotAllowed, NotFound
from arrears.domain.ledger import Channel
from arrears.domain.money import Money, MoneyError, is_currency
from arrears.domain.problems import Problem, ProblemsFound, printable
from arrears.services.ports import (
    CollectionRecords,
    CollectionUnitOfWork,
    DebtorRef,
    PromiseView,
)

CHANNELS = tuple(c.value for c in Channel)
MAX_GRACE_DAYS = 365


class _Request:
    """The problems of one request, collected and raised together: a request whose only
    problem is what it names (an unknown debtor or portfolio) is :class:`NotFound`."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []
        self.missing: str | None = None

    def add(self, message: str) -> None:
        self.problems.append(Problem(self.source, None, None, message))

    def not_found(self, message: str) -> NotFound:
        return NotFound(printable(f"{self.source}: {message}"))

    def find(
        self, records: CollectionRecords, portfolio: str, external_id: str
    ) -> DebtorRef | None:
        """The debtor, or ``None`` (:meth:`checked` then raises)."""
        try:
            found = records.debtor(portfolio, external_id)
        except NotFound as exc:  # an unknown portfolio
            self.missing, found = str(exc), None
        if found is None:
            self.missing = self.missing or f"unknown debtor {external_id!r}"
        return found

    def checked(self, found: DebtorRef | None) -> DebtorRef:
        """The debtor :meth:`find` found, once the request has no problem."""
        self.check()
        assert found is not None
        return found

    def check(self) -> None:
        if self.missing is not None and not self.problems:
            raise self.not_found(self.missing)
        if self.missing is not None:
            self.add(self.missing)
        if self.problems:
            raise ProblemsFound(self.problems)


# Promises to pay -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PromiseAdded:
    promise_id: int
    debtor: str
    amount: Money  # the total
    due_on: date  # the last date
    schedule: tuple[tuple[date, Money], ...] = ()  # each dated amount, in date order


@dataclass(frozen=True, slots=True)
class PromiseCancelled:
    promise_id: int
    changed: bool  # False: it was cancelled before


#: The most dated amounts one promise may have.
MAX_PROMISE_AMOUNTS = 24


def add_promise(
    uow: CollectionUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    debtor: str,
    made_on: date,
    at: datetime,
    amount: Decimal | None = None,
    due_on: date | None = None,
    amounts: Sequence[tuple[date, Decimal]] = (),
    grace_days: int = 0,
    currency: str | None = None,
    note: str | None = None,
) -> PromiseAdded:
    """Record ``debtor``'s promise to pay ``amount`` (in ``currency``, default the debtor's) by
    ``due_on``, or several dated ``amounts`` (``(due_on, amount)``; with ``amount`` and
    ``due_on`` too, that is one of them); an identical open promise is returned, not
    duplicated. The total is at most the debtor's open balance in the currency; the cycle
    pauses the case until the last date plus grace and then judges the promise on its total
    (kept, partial with the share kept, broken). A debtor (``debtor:ID``, through their own
    page) promises on their own account only."""
    if actor.role is Role.DEBTOR:
        actor.require(Permission.SELF_SERVICE, "promise to pay")
        if actor.name != f"debtor:{debtor}":
            raise NotAllowed(f"{actor.name} may not promise for another debtor")
    else:
        actor.require(Permission.WORK, "record a promise")
    request = _Request(f"promise of {debtor}")
    dated = list(amounts)
    if amount is not None or due_on is not None:
        if amount is None or due_on is None:
            request.add("an amount needs its date, and a date its amount")
        else:
            dated.append((due_on, amount))
    dated.sort(key=lambda part: part[0])
    if not dated and not request.problems:
        request.add("promise an amount by a date, or several dated amounts")
    if len(dated) > MAX_PROMISE_AMOUNTS:
        request.add(f"at most {MAX_PROMISE_AMOUNTS} dated amounts, not {len(dated)}")
    days = [d for d, _ in dated]
    for day in sorted({d for d in days if days.count(d) > 1}):
        request.add(f"two amounts on {day}: promise one amount a day")
    for day in days:
        if day < made_on:
            request.add(f"due date {day} is before the day the promise was made ({made_on})")
    if not 0 <= grace_days <= MAX_GRACE_DAYS:
        request.add(f"grace days must be between 0 and {MAX_GRACE_DAYS}, not {grace_days}")
    with uow:
        records = uow.collection
        found = request.find(records, portfolio, debtor)
        code = currency or (found.currency if found else None)
        parts: list[tuple[date, Money]] = []
        if code is not None and is_currency(code.upper()):
            for day, value in dated:
                money = _promised(request, value, code.upper(), day if len(dated) > 1 else None)
                if money is not None:
                    parts.append((day, money))
        elif code is not None:
            request.add(f"unknown currency {code!r}")
        total = None
        if parts and len(parts) == len(dated) and all(m.minor > 0 for _, m in parts):
            total = Money.from_minor(sum(m.minor for _, m in parts), parts[0][1].currency)
        if found is not None and total is not None:
            owed = Money.from_minor(
                records.open_balance_minor(found, total.currency), total.currency
            )
            if total.minor > owed.minor:
                request.add(
                    f"the promise of {total} is more than {debtor}'s open balance in "
                    f"{total.currency} ({owed}): a debtor promises at most what is owed"
                )
        owner = request.checked(found)
        assert total is not None
        last = parts[-1][0]
        promise_id = records.add_promise(
            owner,
            amount=total,
            due_on=last,
            made_on=made_on,
            grace_days=grace_days,
            note=note,
            actor=actor.name,
            at=at,
            schedule=[(d, m.minor) for d, m in parts] if len(parts) > 1 else (),
        )
    return PromiseAdded(promise_id, debtor, total, last, tuple(parts))


def _promised(
    request: _Request, amount: Decimal, code: str, day: date | None = None
) -> Money | None:
    """The promised amount (``day``: of that date, among several), or ``None`` with its
    problem added."""
    where = "" if day is None else f" (on {day})"
    money = Money(amount, code)
    try:
        minor = money.minor
    except MoneyError as exc:
        request.add(f"{exc}{where}")
        return None
    if minor <= 0:
        request.add(f"the amount must be positive, not {money.amount}{where}")
    return money


def list_promises(
    uow: CollectionUnitOfWork, actor: Actor, *, portfolio: str, debtor: str | None = None
) -> list[PromiseView]:
    """The portfolio's promises (``debtor``'s only), newest first, with their outcome once the
    cycle has found it (kept, partial with the share kept, broken)."""
    actor.require(Permission.READ, "read the promises")
    with uow:
        try:
            return uow.collection.promises(portfolio, debtor)
        except NotFound as exc:
            raise NotFound(f"promises: {exc}") from exc


def kept_share(view: PromiseView) -> Decimal | None:
    """The share of a promise kept, 0 to 1 (two decimals, rounded down), once found."""
    if view.kept_minor is None:
        return None
    return (Decimal(view.kept_minor * 100 // view.amount_minor) / 100).quantize(Decimal("0.01"))


def cancel_promise(
    uow: CollectionUnitOfWork, actor: Actor, promise_id: int, *, on: date, at: datetime
) -> PromiseCancelled:
    """Cancel a promise as of ``on`` (it no longer pauses the collection)."""
    actor.require(Permission.WORK, "cancel a promise")
    request = _Request(f"promise {promise_id}")
    with uow:
        records = uow.collection
        found = records.promise(promise_id)
        if found is None:
            raise request.not_found(f"no promise {promise_id}")
        if found.cancelled:
            return PromiseCancelled(promise_id, changed=False)
        if on < found.made_on:
            request.add(f"cannot cancel on {on}, before the promise was made ({found.made_on})")
        request.check()
        records.cancel_promise(promise_id, on=on, actor=actor.name, at=at)
    return PromiseCancelled(promise_id, changed=True)


# Holds -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HoldAdded:
    hold_id: int
    debtor: str
    starts_on: date
    ends_on: date


@dataclass(frozen=True, slots=True)
class HoldReleased:
    hold_id: int
    changed: bool  # False: it was released before


def add_hold(
    uow: CollectionUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    debtor: str,
    starts_on: date,
    ends_on: date,
    reason: str,
    at: datetime,
) -> HoldAdded:
    """Hold ``debtor``'s collection from ``starts_on`` until (not including) ``ends_on``; an
    identical hold not released is returned, not duplicated."""
    actor.require(Permission.WORK, "hold a debtor's collection")
    request = _Request(f"hold of {debtor}")
    if ends_on <= starts_on:
        request.add(f"the hold must end after it starts ({starts_on}), not on {ends_on}")
    if not reason.strip():
        request.add("a hold needs a reason")
    with uow:
        records = uow.collection
        owner = request.checked(request.find(records, portfolio, debtor))
        hold_id = records.add_hold(
            owner,
            starts_on=starts_on,
            ends_on=ends_on,
            reason=reason.strip(),
            actor=actor.name,
            at=at,
        )
    return HoldAdded(hold_id, debtor, starts_on, ends_on)


def release_hold(
    uow: CollectionUnitOfWork, actor: Actor, hold_id: int, *, on: date, at: datetime
) -> HoldReleased:
    """End a hold early, as of ``on``."""
    actor.require(Permission.WORK, "release a hold")
    request = _Request(f"hold {hold_id}")
    with uow:
        records = uow.collection
        found = records.hold(hold_id)
        if found is None:
            raise request.not_found(f"no hold {hold_id}")
        if found.released:
            return HoldReleased(hold_id, changed=False)
        if on < found.starts_on:
            request.add(f"cannot release on {on}, before the hold starts ({found.starts_on})")
        request.check()
        records.release_hold(hold_id, on=on, actor=actor.name, at=at)
    return HoldReleased(hold_id, changed=True)


# Contacts --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContactLogged:
    debtor: str
    channel: str
    outcome: str
    on: date
    changed: bool  # False: this very contact was logged before
    closed: tuple[int, ...] = ()  # call tasks the call's outcome closed
    rescheduled: tuple[int, ...] = ()  # call tasks it left open for the next day


#: What a call's outcome does to the debtor's open call task: closes it (with this note) or,
#: for no answer, leaves it open for the next day.
CALL_OUTCOMES: dict[str, str | None] = {
    "right_party": "reached the debtor (right party contact)",
    "no_answer": None,
    "wrong_number": "wrong number: no one to call on it",
    "refused": "the debtor refused to pay",
    "promise": "the debtor promised to pay",
}


def log_contact(
    uow: CollectionUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    debtor: str,
    channel: str,
    outcome: str,
    on: date,
    at: datetime,
    note: str | None = None,
) -> ContactLogged:
    """Log a contact attempt made by hand (the cycle and the compliance report count it)."""
    actor.require(Permission.WORK, "log a contact")
    request = _Request(f"contact with {debtor}")
    if channel not in CHANNELS:
        request.add(f"unknown channel {channel!r}: one of {', '.join(CHANNELS)}")
    if not outcome.strip():
        request.add("a contact needs an outcome (no_answer, reached, promise...)")
    with uow:
        records = uow.collection
        owner = request.checked(request.find(records, portfolio, debtor))
        changed = records.log_contact(
            owner,
            channel=channel,
            outcome=outcome.strip(),
            on=on,
            note=note,
            actor=actor.name,
            at=at,
        )
        closed: list[int] = []
        rescheduled: list[int] = []
        said = outcome.strip()
        if changed and channel == "call" and said in CALL_OUTCOMES:
            for task_id in records.open_tasks(owner, "call"):
                found = records.task(task_id)
                if found is None or on < found.created_on:
                    continue  # a call before the task existed does not answer it
                why = CALL_OUTCOMES[said]
                if why is None:
                    later = datetime.combine(on + timedelta(days=1), time(0), tzinfo=UTC)
                    records.reschedule_task(
                        task_id,
                        not_before=later,
                        note=f"no answer on {on}: call again from {later.date()}",
                        on=on,
                        actor=actor.name,
                        at=at,
                    )
                    rescheduled.append(task_id)
                else:
                    text = why if not note else f"{why}: {note}"
                    records.close_task(task_id, note=text, on=on, actor=actor.name, at=at)
                    closed.append(task_id)
    return ContactLogged(debtor, channel, said, on, changed, tuple(closed), tuple(rescheduled))


# Approvals -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StageApproved:
    debtor: str
    stage: str
    currency: str
    changed: bool  # False: approved before


@dataclass(frozen=True, slots=True)
class WaitingApproved:
    stage: str
    given: int  # how many cases were approved now


def approve_stage(
    uow: CollectionUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    debtor: str,
    stage: str,
    on: date,
    at: datetime,
    currency: str | None = None,
) -> StageApproved:
    """Approve ``debtor``'s open case (in ``currency``, default the debtor's) entering
    ``stage``, a stage that needs a person's approval."""
    actor.require(Permission.APPROVE, "approve a stage")
    request = _Request(f"approval for {debtor}")
    if not stage.strip():
        request.add("name the stage to approve")
    with uow:
        records = uow.collection
        owner = request.checked(request.find(records, portfolio, debtor))
        code = (currency or owner.currency).upper()
        if not records.has_open_case(owner, code):
            raise request.not_found(f"debtor {debtor!r} has no open collection case in {code}")
        changed = records.approve_stage(
            owner, currency=code, stage=stage, on=on, actor=actor.name, at=at
        )
    return StageApproved(debtor, stage, code, changed)


def approve_waiting(
    uow: CollectionUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    stage: str,
    stages: Sequence[str],
    policy: str,
    on: date,
    at: datetime,
) -> WaitingApproved:
    """Approve entering ``stage`` for every open case waiting for it or for a more severe stage.

    ``stages``: the policy's stages from the least to the most severe (``policy`` names it);
    ``stage`` must be one of them after the first.
    """
    actor.require(Permission.APPROVE, "approve stages")
    if stage not in stages[1:]:
        raise InvalidInput(
            f"policy {policy} has no stage {stage!r}; its stages: " + ", ".join(stages[1:])
        )
    awaiting = list(stages[stages.index(stage) :])
    given = 0
    with uow:
        records = uow.collection
        for external_id, currency in records.awaiting_approval(portfolio, awaiting):
            owner = records.debtor(portfolio, external_id)
            assert owner is not None
            given += records.approve_stage(
                owner, currency=currency, stage=stage, on=on, actor=actor.name, at=at
            )
    return WaitingApproved(stage, given)


# Tasks and the worklist ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaskClosed:
    task_id: int
    changed: bool  # False: it was closed before


def close_task(
    uow: CollectionUnitOfWork,
    actor: Actor,
    task_id: int,
    *,
    on: date,
    at: datetime,
    note: str | None = None,
) -> TaskClosed:
    """Mark an open task done as of ``on``, with its outcome in ``note``."""
    actor.require(Permission.WORK, "close a task")
    request = _Request(f"task {task_id}")
    with uow:
        records = uow.collection
        found = records.task(task_id)
        if found is None:
            raise request.not_found(f"no task {task_id}")
        if not found.open:
            return TaskClosed(task_id, changed=False)
        if on < found.created_on:
            request.add(f"cannot close on {on}, before the task was created ({found.created_on})")
        request.check()
        records.close_task(task_id, note=note, on=on, actor=actor.name, at=at)
    return TaskClosed(task_id, changed=True)


@dataclass(frozen=True, slots=True)
class TaskAssigned:
    task_id: int
    collector: str | None
    changed: bool  # False: it was assigned to them already


def collector_name(actor: Actor) -> str:
    """The name a person's tasks are assigned under: the actor's name without its front end
    (``cli:ana`` and ``user:ana`` are both ``ana``)."""
    return actor.name.split(":", 1)[-1]


def assign_task(
    uow: CollectionUnitOfWork,
    actor: Actor,
    task_id: int,
    *,
    to: str | None,
    on: date,
    at: datetime,
) -> TaskAssigned:
    """Assign an open task to collector ``to`` (``None``: to nobody again)."""
    actor.require(Permission.WORK, "assign a task")
    request = _Request(f"task {task_id}")
    name = None if to is None else to.strip()
    if name is not None and (not name or len(name) > MAX_COLLECTOR or ":" in name):
        request.add(
            f"a collector's name is 1 to {MAX_COLLECTOR} characters without ':', not {to!r}"
        )
    with uow:
        records = uow.collection
        found = records.task(task_id)
        if found is None:
            raise request.not_found(f"no task {task_id}")
        if not found.open:
            request.add(f"task {task_id} is closed: only an open task is assigned")
        request.check()
        if found.collector == name:
            return TaskAssigned(task_id, name, changed=False)
        records.assign_task(task_id, to=name, on=on, actor=actor.name, at=at)
    return TaskAssigned(task_id, name, changed=True)


MAX_COLLECTOR = 200


def worklist(
    uow: CollectionUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    collector: str | None = None,
    top: int = 50,
    assignee: str | None = None,
    queue: str | None = None,
    stage: str | None = None,
) -> pl.DataFrame:
    """The open call tasks, best first (score, then task priority, then the oldest), all, or
    ``collector``'s and the unassigned ones, or ``assignee``'s only (``queue``, ``stage``: of
    that queue, of a case in that stage, only): the
    columns of :data:`arrears.store.cycle.collection.WORKLIST_SCHEMA` and ``overdue``, the
    overdue amount with its currency (``"100.00 USD"``; empty without a case)."""
    actor.require(Permission.READ, "read the worklist")
    with uow:
        try:
            frame = uow.collection.worklist(
                portfolio,
                collector=collector,
                limit=top,
                assignee=assignee,
                queue=queue,
                stage=stage,
            )
        except NotFound as exc:
            raise NotFound(f"worklist: {exc}") from exc
    overdue = [
        "" if m is None or c is None else str(Money.from_minor(int(m), c))
        for m, c in zip(frame["overdue_minor"], frame["currency"], strict=True)
    ]
    return frame.with_columns(pl.Series("overdue", overdue, dtype=pl.String()))
