"""The ports of the collection use cases: what the services read and write, store-neutral.

:class:`CollectionRecords` is the collectors' records of one portfolio: debtors, promises,
holds, contacts, stage approvals, tasks and the activity log. A unit of work hands it out as
``uow.collection`` while it is entered; every write goes into that unit's transaction and
writes its activity record there, naming the actor. Two implementations keep the same contract
(``tests/test_services_contract.py`` runs one suite on both):

- :class:`arrears.store.cycle.records.SqlCollectionRecords`, on the store's connection
  (SQLite or PostgreSQL);
- :class:`arrears.services.memory.MemoryCollectionRecords`, in memory, for fast unit tests.

The port stores; it does not judge. The services check the request (amounts, days, reasons)
and the state (unknown promise, already cancelled) before they write, so both implementations
behave the same by construction. Writes are idempotent like the store's: an identical open
promise or hold, or a contact or approval recorded before, is not written again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

import polars as pl

from arrears.domain.money import Money
from arrears.services.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class DebtorRef:
    """A debtor of a portfolio, by its external id, with its own currency."""

    portfolio: str
    external_id: str
    currency: str


@dataclass(frozen=True, slots=True)
class PromiseRef:
    promise_id: int
    cancelled: bool
    made_on: date


@dataclass(frozen=True, slots=True)
class PromiseView:
    """A promise as a collector lists it: what was promised, and once its date plus grace has
    passed, its ``outcome`` (kept, partial, broken: the cycle records it), what was paid towards
    it (``kept_minor``) and the day that was found (``outcome_on``). A promise of several dated
    amounts is judged as a whole, on its total, after its last date plus grace."""

    promise_id: int
    debtor: str
    currency: str
    amount_minor: int
    made_on: date
    due_on: date
    grace_days: int
    status: str  # open | cancelled
    outcome: str | None
    kept_minor: int | None
    outcome_on: date | None
    #: its dated amounts ``(due_on, amount_minor)`` in date order (one for a single amount);
    #: ``due_on`` is the last date and ``amount_minor`` the total
    schedule: tuple[tuple[date, int], ...] = ()


@dataclass(frozen=True, slots=True)
class HoldRef:
    hold_id: int
    released: bool
    starts_on: date


@dataclass(frozen=True, slots=True)
class TaskRef:
    task_id: int
    open: bool
    created_on: date
    collector: str | None = None  # who it is assigned to (None: nobody)


@dataclass(frozen=True, slots=True)
class ActivityRecord:
    """One record of the activity log, as the collection use cases write it."""

    kind: str
    actor: str
    debtor: str | None
    subject_kind: str
    subject_id: str
    payload: dict[str, Any]


class CollectionRecords(Protocol):
    """A portfolio's collection records inside one unit of work."""

    def debtor(self, portfolio: str, external_id: str) -> DebtorRef | None:
        """The debtor, or ``None``; raises :class:`~arrears.domain.errors.NotFound` for an
        unknown portfolio."""
        ...

    def add_promise(
        self,
        debtor: DebtorRef,
        *,
        amount: Money,
        due_on: date,
        made_on: date,
        grace_days: int,
        note: str | None,
        actor: str,
        at: datetime,
        schedule: Sequence[tuple[date, int]] = (),
    ) -> int:
        """The new promise's id, or the id of an identical open one (nothing written).
        ``schedule``: several dated amounts ``(due_on, amount_minor)`` in date order, totalling
        ``amount`` and ending on ``due_on`` (the caller checked); empty for one amount."""
        ...

    def promise(self, promise_id: int) -> PromiseRef | None: ...

    def open_balance_minor(self, debtor: DebtorRef, currency: str) -> int:
        """What the debtor owes in ``currency`` (every open instalment, due or not), in minor
        units."""
        ...

    def promises(self, portfolio: str, debtor: str | None) -> list[PromiseView]:
        """The portfolio's promises (one debtor's with ``debtor``), newest first."""
        ...

    def cancel_promise(self, promise_id: int, *, on: date, actor: str, at: datetime) -> None:
        """Cancel an open promise (the caller checked it is one)."""
        ...

    def add_hold(
        self,
        debtor: DebtorRef,
        *,
        starts_on: date,
        ends_on: date,
        reason: str,
        actor: str,
        at: datetime,
    ) -> int:
        """The new hold's id, or the id of an identical hold not released (nothing written)."""
        ...

    def hold(self, hold_id: int) -> HoldRef | None: ...

    def release_hold(self, hold_id: int, *, on: date, actor: str, at: datetime) -> None:
        """Release a hold not yet released (the caller checked)."""
        ...

    def log_contact(
        self,
        debtor: DebtorRef,
        *,
        channel: str,
        outcome: str,
        on: date,
        note: str | None,
        actor: str,
        at: datetime,
    ) -> bool:
        """``False`` when this very contact (debtor, channel, outcome, day, time) is logged."""
        ...

    def has_open_case(self, debtor: DebtorRef, currency: str) -> bool: ...

    def awaiting_approval(self, portfolio: str, stages: Sequence[str]) -> list[tuple[str, str]]:
        """``(debtor, currency)`` of the open cases awaiting approval to enter one of
        ``stages``, by debtor and currency."""
        ...

    def approve_stage(
        self, debtor: DebtorRef, *, currency: str, stage: str, on: date, actor: str, at: datetime
    ) -> bool:
        """Approve the debtor's open case (the caller checked there is one) entering ``stage``;
        ``False`` when it was approved before."""
        ...

    def task(self, task_id: int) -> TaskRef | None: ...

    def close_task(
        self, task_id: int, *, note: str | None, on: date, actor: str, at: datetime
    ) -> None:
        """Mark an open task done (the caller checked it is open)."""
        ...

    def assign_task(
        self, task_id: int, *, to: str | None, on: date, actor: str, at: datetime
    ) -> None:
        """Assign an open task to collector ``to`` (None: to nobody); the caller checked."""
        ...

    def open_tasks(self, debtor: DebtorRef, kind: str) -> list[int]:
        """The debtor's open tasks of ``kind``, oldest first."""
        ...

    def reschedule_task(
        self, task_id: int, *, not_before: datetime, note: str, on: date, actor: str, at: datetime
    ) -> None:
        """Leave an open task open, not to be worked before ``not_before``."""
        ...

    def worklist(
        self,
        portfolio: str,
        *,
        collector: str | None,
        limit: int,
        assignee: str | None = None,
        queue: str | None = None,
        stage: str | None = None,
    ) -> pl.DataFrame:
        """Open call tasks, best first, in the columns of
        :data:`arrears.store.cycle.collection.WORKLIST_SCHEMA`; ``collector``: that
        collector's and the unassigned ones; ``assignee``: that collector's only; ``queue``,
        ``stage``: only the tasks of that queue, of a case in that stage."""
        ...

    def activity(self, portfolio: str) -> list[ActivityRecord]:
        """The portfolio's activity log, oldest first."""
        ...


class CollectionUnitOfWork(UnitOfWork, Protocol):
    """A unit of work that reaches the collection records (while entered)."""

    @property
    def collection(self) -> CollectionRecords: ...
