"""The services' ports in memory, for fast unit tests: :class:`MemoryStore` (what is committed),
:class:`MemoryUnitOfWork` (one transaction on it) and :class:`MemoryCollectionRecords`.

A unit of work works on a copy of the store's state: leaving its ``with`` block normally
commits the copy, an exception discards it, so nothing of a failed use case stays behind, as
on the database. ``tests/test_services_contract.py`` runs the same scenarios on this and on
the SQL store, so the two cannot drift apart. A test seeds what the cycle would have made
(portfolios, debtors, cases, tasks) with the store's ``add_*`` methods.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from types import TracebackType
from typing import Any, Self

import polars as pl

from arrears.domain.errors import NotFound
from arrears.domain.money import Money
from arrears.domain.problems import ProblemsFound
from arrears.services.ports import (
    ActivityRecord,
    DebtorRef,
    HoldRef,
    PromiseRef,
    PromiseView,
    TaskRef,
)
from arrears.store.cycle.collection import WORKLIST_SCHEMA


@dataclass
class _Case:
    case_id: int
    portfolio: str
    debtor: str
    currency: str
    stage: str
    awaiting_approval: str | None = None
    approved: set[str] = field(default_factory=set)


@dataclass
class _State:
    """Everything a :class:`MemoryStore` holds; a unit of work changes a copy of it."""

    debtors: dict[tuple[str, str], DebtorRef] = field(default_factory=dict)
    portfolios: set[str] = field(default_factory=set)
    promises: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: (portfolio, debtor, currency) -> open balance in minor units (what the ledger would say)
    balances: dict[tuple[str, str, str], int] = field(default_factory=dict)
    holds: dict[int, dict[str, Any]] = field(default_factory=dict)
    cases: list[_Case] = field(default_factory=list)
    tasks: dict[int, dict[str, Any]] = field(default_factory=dict)
    activity: list[tuple[str, ActivityRecord]] = field(default_factory=list)  # (portfolio, it)
    keys: set[str] = field(default_factory=set)
    last_id: int = 0

    def next_id(self) -> int:
        self.last_id += 1
        return self.last_id


class MemoryStore:
    """The committed state, and what a test seeds before it runs a use case."""

    def __init__(self) -> None:
        self.state = _State()

    def add_debtor(self, portfolio: str, external_id: str, currency: str = "USD") -> None:
        self.state.portfolios.add(portfolio)
        self.state.debtors[portfolio, external_id] = DebtorRef(portfolio, external_id, currency)

    def add_balance(self, portfolio: str, debtor: str, currency: str, minor: int) -> None:
        """The debtor owes ``minor`` more in ``currency`` (an open invoice)."""
        key = (portfolio, debtor, currency)
        self.state.balances[key] = self.state.balances.get(key, 0) + minor

    def settle_promise(
        self, promise_id: int, *, outcome: str, kept_minor: int, outcome_on: date
    ) -> None:
        """What the cycle records once a promise's date plus grace has passed."""
        self.state.promises[promise_id].update(
            outcome=outcome, kept_minor=kept_minor, outcome_on=outcome_on
        )

    def open_case(
        self,
        portfolio: str,
        debtor: str,
        currency: str,
        stage: str,
        *,
        awaiting_approval: str | None = None,
    ) -> int:
        case_id = self.state.next_id()
        self.state.cases.append(
            _Case(case_id, portfolio, debtor, currency, stage, awaiting_approval)
        )
        return case_id

    def add_task(
        self,
        portfolio: str,
        debtor: str,
        *,
        created_on: date,
        score: float = 0.0,
        task_priority: int = 0,
        queue: str | None = None,
        collector: str | None = None,
        step_id: str | None = None,
        overdue_minor: int = 0,
    ) -> int:
        """An open call task on the debtor's (first) open case."""
        task_id = self.state.next_id()
        case = next(c for c in self.state.cases if (c.portfolio, c.debtor) == (portfolio, debtor))
        self.state.tasks[task_id] = {
            "task_id": task_id,
            "portfolio": portfolio,
            "debtor": debtor,
            "kind": "call",
            "status": "open",
            "score": score,
            "task_priority": task_priority,
            "created_on": created_on,
            "name": f"Debtor {debtor}",
            "currency": case.currency,
            "stage": case.stage,
            "overdue_minor": overdue_minor,
            "queue": queue,
            "collector": collector,
            "step_id": step_id,
            "flags": "",
            "not_before": None,
            "note": None,
        }
        return task_id


class MemoryUnitOfWork:
    """One transaction on a :class:`MemoryStore`."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self._work: _State | None = None

    @property
    def collection(self) -> MemoryCollectionRecords:
        if self._work is None:
            raise RuntimeError("the unit of work is used outside its `with` block")
        return MemoryCollectionRecords(self._work)

    def __enter__(self) -> Self:
        if self._work is not None:
            raise RuntimeError("a unit of work is entered once at a time")
        self._work = copy.deepcopy(self.store.state)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        work, self._work = self._work, None
        if kind is None and work is not None:
            self.store.state = work


class MemoryCollectionRecords:
    """:class:`arrears.services.ports.CollectionRecords` on a state in memory."""

    def __init__(self, state: _State) -> None:
        self.state = state

    def _log(
        self,
        portfolio: str,
        kind: str,
        actor: str,
        debtor: str,
        subject: tuple[str, str],
        payload: dict[str, Any],
    ) -> None:
        record = ActivityRecord(kind, actor, debtor, *subject, payload)
        self.state.activity.append((portfolio, record))

    def _known(self, portfolio: str) -> None:
        if portfolio not in self.state.portfolios:
            raise NotFound(
                f"no portfolio {portfolio!r}: create it with `arrears portfolio add {portfolio}`"
            )

    def debtor(self, portfolio: str, external_id: str) -> DebtorRef | None:
        self._known(portfolio)
        return self.state.debtors.get((portfolio, external_id))

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
        parts = tuple((d, int(m)) for d, m in schedule) if len(schedule) > 1 else ()
        same = {
            "portfolio": debtor.portfolio,
            "debtor": debtor.external_id,
            "currency": amount.currency,
            "amount_minor": amount.minor,
            "made_on": made_on,
            "due_on": due_on,
            "grace_days": grace_days,
        }
        for promise_id, row in self.state.promises.items():
            if row["status"] == "open" and all(row[k] == v for k, v in same.items()):
                if row["schedule"] == parts:
                    return promise_id
                raise ProblemsFound.of(
                    f"promise of {debtor.external_id}",
                    f"promise {promise_id} of the same total and last date, made the same day, "
                    "is open: cancel it first",
                )
        promise_id = self.state.next_id()
        self.state.promises[promise_id] = {
            **same,
            "status": "open",
            "note": note,
            "schedule": parts,
        }
        payload: dict[str, Any] = {
            "promise_id": promise_id,
            "amount": str(amount.amount),
            "currency": amount.currency,
            "made_on": made_on.isoformat(),
            "due_on": due_on.isoformat(),
            "grace_days": grace_days,
            "note": note,
        }
        if parts:
            payload["amounts"] = [
                {
                    "due_on": d.isoformat(),
                    "amount": str(Money.from_minor(m, amount.currency).amount),
                }
                for d, m in parts
            ]
        self._log(
            debtor.portfolio,
            "promise.made",
            actor,
            debtor.external_id,
            ("promise", str(promise_id)),
            payload,
        )
        return promise_id

    def promise(self, promise_id: int) -> PromiseRef | None:
        row = self.state.promises.get(promise_id)
        return None if row is None else PromiseRef(promise_id, row["status"] == "cancelled",
                                                    row["made_on"])  # fmt: skip

    def open_balance_minor(self, debtor: DebtorRef, currency: str) -> int:
        return self.state.balances.get((debtor.portfolio, debtor.external_id, currency), 0)

    def promises(self, portfolio: str, debtor: str | None) -> list[PromiseView]:
        self._known(portfolio)
        rows = [
            (promise_id, row)
            for promise_id, row in self.state.promises.items()
            if row["portfolio"] == portfolio and debtor in (None, row["debtor"])
        ]
        rows.sort(key=lambda r: (r[1]["made_on"], r[0]), reverse=True)
        return [
            PromiseView(
                promise_id,
                row["debtor"],
                row["currency"],
                row["amount_minor"],
                row["made_on"],
                row["due_on"],
                row["grace_days"],
                row["status"],
                row.get("outcome"),
                row.get("kept_minor"),
                row.get("outcome_on"),
                row["schedule"] or ((row["due_on"], row["amount_minor"]),),
            )
            for promise_id, row in rows
        ]

    def cancel_promise(self, promise_id: int, *, on: date, actor: str, at: datetime) -> None:
        row = self.state.promises[promise_id]
        row.update(status="cancelled", cancelled_on=on)
        subject = ("promise", str(promise_id))
        self._log(
            row["portfolio"],
            "promise.cancelled",
            actor,
            row["debtor"],
            subject,
            {"on": on.isoformat()},
        )

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
        same = {
            "portfolio": debtor.portfolio,
            "debtor": debtor.external_id,
            "starts_on": starts_on,
            "ends_on": ends_on,
            "reason": reason,
        }
        for hold_id, row in self.state.holds.items():
            if row["released_on"] is None and all(row[k] == v for k, v in same.items()):
                return hold_id
        hold_id = self.state.next_id()
        self.state.holds[hold_id] = {**same, "released_on": None}
        payload = {"starts_on": starts_on.isoformat(), "ends_on": ends_on.isoformat(),
                   "reason": reason}  # fmt: skip
        self._log(
            debtor.portfolio,
            "hold.added",
            actor,
            debtor.external_id,
            ("hold", str(hold_id)),
            payload,
        )
        return hold_id

    def hold(self, hold_id: int) -> HoldRef | None:
        row = self.state.holds.get(hold_id)
        if row is None:
            return None
        return HoldRef(hold_id, row["released_on"] is not None, row["starts_on"])

    def release_hold(self, hold_id: int, *, on: date, actor: str, at: datetime) -> None:
        row = self.state.holds[hold_id]
        row["released_on"] = on
        subject = ("hold", str(hold_id))
        self._log(
            row["portfolio"], "hold.released", actor, row["debtor"], subject, {"on": on.isoformat()}
        )

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
        key = f"contact:{debtor.portfolio}:{debtor.external_id}:{channel}:{on}:{outcome}:{at}"
        if key in self.state.keys:
            return False
        self.state.keys.add(key)
        payload = {"channel": channel, "outcome": outcome, "on": on.isoformat(), "note": note}
        subject = ("debtor", debtor.external_id)
        self._log(debtor.portfolio, "contact", actor, debtor.external_id, subject, payload)
        return True

    def _open_case(self, debtor: DebtorRef, currency: str) -> _Case | None:
        return next(
            (
                c
                for c in reversed(self.state.cases)
                if (c.portfolio, c.debtor, c.currency)
                == (debtor.portfolio, debtor.external_id, currency)
            ),
            None,
        )

    def has_open_case(self, debtor: DebtorRef, currency: str) -> bool:
        return self._open_case(debtor, currency) is not None

    def awaiting_approval(self, portfolio: str, stages: Sequence[str]) -> list[tuple[str, str]]:
        return sorted(
            (c.debtor, c.currency)
            for c in self.state.cases
            if c.portfolio == portfolio and c.awaiting_approval in stages
        )

    def approve_stage(
        self, debtor: DebtorRef, *, currency: str, stage: str, on: date, actor: str, at: datetime
    ) -> bool:
        case = self._open_case(debtor, currency)
        assert case is not None, "the service checks there is an open case"
        if stage in case.approved:
            return False
        case.approved.add(stage)
        payload = {"stage": stage, "currency": currency, "on": on.isoformat()}
        subject = ("case", str(case.case_id))
        self._log(debtor.portfolio, "stage.approved", actor, debtor.external_id, subject, payload)
        return True

    def task(self, task_id: int) -> TaskRef | None:
        row = self.state.tasks.get(task_id)
        if row is None:
            return None
        return TaskRef(task_id, row["status"] == "open", row["created_on"], row["collector"])

    def close_task(
        self, task_id: int, *, note: str | None, on: date, actor: str, at: datetime
    ) -> None:
        row = self.state.tasks[task_id]
        row.update(status="done", closed_on=on, note=note if note is not None else row["note"])
        payload = {"kind": row["kind"], "on": on.isoformat(), "note": note}
        self._log(
            row["portfolio"], "task.closed", actor, row["debtor"], ("task", str(task_id)), payload
        )

    def assign_task(
        self, task_id: int, *, to: str | None, on: date, actor: str, at: datetime
    ) -> None:
        row = self.state.tasks[task_id]
        payload = {"from": row["collector"], "to": to, "on": on.isoformat()}
        row["collector"] = to
        self._log(
            row["portfolio"], "task.assigned", actor, row["debtor"], ("task", str(task_id)), payload
        )

    def open_tasks(self, debtor: DebtorRef, kind: str) -> list[int]:
        return sorted(
            t["task_id"]
            for t in self.state.tasks.values()
            if (t["portfolio"], t["debtor"], t["kind"], t["status"])
            == (debtor.portfolio, debtor.external_id, kind, "open")
        )

    def reschedule_task(
        self, task_id: int, *, not_before: datetime, note: str, on: date, actor: str, at: datetime
    ) -> None:
        row = self.state.tasks[task_id]
        row.update(not_before=not_before.isoformat(sep=" "), note=note)
        payload = {"not_before": not_before.isoformat(), "note": note, "on": on.isoformat()}
        self._log(
            row["portfolio"],
            "task.rescheduled",
            actor,
            row["debtor"],
            ("task", str(task_id)),
            payload,
        )

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
        self._known(portfolio)
        rows = [
            t
            for t in self.state.tasks.values()
            if t["portfolio"] == portfolio
            and t["kind"] == "call"
            and t["status"] == "open"
            and (collector is None or t["collector"] in (collector, None))
            and (assignee is None or t["collector"] == assignee)
            and (queue is None or t["queue"] == queue)
            and (stage is None or t["stage"] == stage)
        ]
        rows.sort(key=lambda t: (-t["score"], t["task_priority"], t["created_on"], t["task_id"]))
        columns = {name: [t[name] for t in rows[:limit]] for name in WORKLIST_SCHEMA}
        return pl.DataFrame(columns, schema=WORKLIST_SCHEMA)

    def activity(self, portfolio: str) -> list[ActivityRecord]:
        return [record for code, record in self.state.activity if code == portfolio]
