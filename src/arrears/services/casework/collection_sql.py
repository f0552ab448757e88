"""The collection port on the store: :class:`SqlCollectionRecords`, what
``SqlUnitOfWork.collection`` hands out (SQLite or PostgreSQL).

Each write is the store's use case of :mod:`arrears.store.cycle.collection` on the unit of
work's connection, so its rows and its activity record (naming the actor) are in the unit's
transaction; the store checks the request again, which the services already did.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import polars as pl
from sqlalchemy import Connection

from arrears.domain.money import Money
from arrears.services.ports import (
    ActivityRecord,
    DebtorRef,
    HoldRef,
    PromiseRef,
    PromiseView,
    TaskRef,
)
from arrears.store.cycle import collection
from arrears.store.portfolios import portfolio_id


class SqlCollectionRecords:
    """:class:`arrears.services.ports.CollectionRecords` on one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def debtor(self, portfolio: str, external_id: str) -> DebtorRef | None:
        portfolio_id(self.conn, portfolio)  # NotFound for an unknown portfolio
        code = collection.debtor_currency(
            self.conn, portfolio=portfolio, debtor_external_id=external_id
        )
        return None if code is None else DebtorRef(portfolio, external_id, code)

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
        return collection.add_promise(
            self.conn,
            portfolio=debtor.portfolio,
            debtor_external_id=debtor.external_id,
            amount=amount,
            due_on=due_on,
            made_on=made_on,
            grace_days=grace_days,
            note=note,
            actor=actor,
            at=at,
            schedule=schedule,
        )

    def promise(self, promise_id: int) -> PromiseRef | None:
        row = collection.find_promise(self.conn, promise_id)
        if row is None:
            return None
        return PromiseRef(promise_id, row["status"] == "cancelled", row["made_on"])

    def cancel_promise(self, promise_id: int, *, on: date, actor: str, at: datetime) -> None:
        collection.cancel_promise(self.conn, promise_id, on=on, actor=actor, at=at)

    def open_balance_minor(self, debtor: DebtorRef, currency: str) -> int:
        return collection.open_balance_minor(
            self.conn,
            portfolio=debtor.portfolio,
            debtor_external_id=debtor.external_id,
            currency=currency,
        )

    def promises(self, portfolio: str, debtor: str | None) -> list[PromiseView]:
        portfolio_id(self.conn, portfolio)  # NotFound for an unknown portfolio
        rows = collection.promises_of(self.conn, portfolio=portfolio, debtor=debtor)
        several = collection.promise_schedules(self.conn, [int(r["id"]) for r in rows])
        return [
            PromiseView(
                int(r["id"]),
                str(r["debtor"]),
                str(r["currency"]),
                int(r["amount_minor"]),
                r["made_on"],
                r["due_on"],
                int(r["grace_days"]),
                str(r["status"]),
                r["outcome"],
                None if r["kept_minor"] is None else int(r["kept_minor"]),
                r["outcome_on"],
                tuple(several.get(int(r["id"]), [(r["due_on"], int(r["amount_minor"]))])),
            )
            for r in rows
        ]

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
        return collection.add_hold(
            self.conn,
            portfolio=debtor.portfolio,
            debtor_external_id=debtor.external_id,
            starts_on=starts_on,
            ends_on=ends_on,
            reason=reason,
            actor=actor,
            at=at,
        )

    def hold(self, hold_id: int) -> HoldRef | None:
        row = collection.find_hold(self.conn, hold_id)
        if row is None:
            return None
        return HoldRef(hold_id, row["released_on"] is not None, row["starts_on"])

    def release_hold(self, hold_id: int, *, on: date, actor: str, at: datetime) -> None:
        collection.release_hold(self.conn, hold_id, on=on, actor=actor, at=at)

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
        return collection.log_contact(
            self.conn,
            portfolio=debtor.portfolio,
            debtor_external_id=debtor.external_id,
            channel=channel,
            outcome=outcome,
            on=on,
            note=note,
            actor=actor,
            at=at,
        )

    def has_open_case(self, debtor: DebtorRef, currency: str) -> bool:
        return collection.has_open_case(
            self.conn,
            portfolio=debtor.portfolio,
            debtor_external_id=debtor.external_id,
            currency=currency,
        )

    def awaiting_approval(self, portfolio: str, stages: Sequence[str]) -> list[tuple[str, str]]:
        return collection.awaiting_approval(self.conn, portfolio=portfolio, stages=stages)

    def approve_stage(
        self, debtor: DebtorRef, *, currency: str, stage: str, on: date, actor: str, at: datetime
    ) -> bool:
        return collection.approve_stage(
            self.conn,
            portfolio=debtor.portfolio,
            debtor_external_id=debtor.external_id,
            currency=currency,
            stage=stage,
            on=on,
            actor=actor,
            at=at,
        )

    def task(self, task_id: int) -> TaskRef | None:
        row = collection.find_task(self.conn, task_id)
        if row is None:
            return None
        return TaskRef(task_id, row["status"] == "open", row["created_on"], row["collector"])

    def close_task(
        self, task_id: int, *, note: str | None, on: date, actor: str, at: datetime
    ) -> None:
        collection.close_task(self.conn, task_id, note=note, on=on, actor=actor, at=at)

    def assign_task(
        self, task_id: int, *, to: str | None, on: date, actor: str, at: datetime
    ) -> None:
        collection.assign_task(self.conn, task_id, to=to, on=on, actor=actor, at=at)

    def open_tasks(self, debtor: DebtorRef, kind: str) -> list[int]:
        return collection.open_tasks(
            self.conn, portfolio=debtor.portfolio, debtor_external_id=debtor.external_id, kind=kind
        )

    def reschedule_task(
        self, task_id: int, *, not_before: datetime, note: str, on: date, actor: str, at: datetime
    ) -> None:
        collection.reschedule_task(
            self.conn, task_id, not_before=not_before, note=note, on=on, actor=actor, at=at
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
        portfolio_id(self.conn, portfolio)  # NotFound for an unknown portfolio
        return collection.worklist_frame(
            self.conn,
            portfolio=portfolio,
            collector=collector,
            limit=limit,
            assignee=assignee,
            queue=queue,
            stage=stage,
        )

    def activity(self, portfolio: str) -> list[ActivityRecord]:
        return [
            ActivityRecord(
                r["kind"],
                r["actor"],
                r["debtor"],
                r["subject_kind"],
                r["subject_id"],
                dict(r["payload"]),
            )
            for r in collection.activity_of(self.conn, portfolio=portfolio)
        ]
