"""Collection use cases a person performs between cycle runs, and the collectors' worklist.

Like every ledger use case (``arrears.store.ledger.cases``) each takes the caller's connection, an
``actor`` and the time ``at``; validates the whole request first (every problem at once, as
``ProblemsFound``); writes its rows and its activity record in the caller's transaction; and
changes nothing when repeated (an identical open promise or hold, a cancelled promise, a released
hold, an approval given, a task closed: the call returns ``False`` or the existing id).

What the cycle reads from them (``arrears.store.cycle.read``): promises (``made_on``,
``cancelled_on``), holds (``starts_on``, ``ends_on``, ``released_on``), contacts (activity kind
``contact``, payload ``{"channel", "outcome", "on", "note"}``) and approvals.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import polars as pl
from sqlalchemy import (
    Connection,
    RowMapping,
    bindparam,
    insert,
    select,
    text,
    update,
)

from arrears.domain.activity import (
    Activity,
    ContactLogged,
    HoldAdded,
    HoldReleased,
    PromiseCancelled,
    PromiseMade,
    StageApproved,
    TaskAssigned,
    TaskClosed,
    TaskRescheduled,
)
from arrears.domain.ledger import Channel
from arrears.domain.money import Money, MoneyError, is_currency
from arrears.domain.problems import Problem, ProblemsFound
from arrears.store import bulk
from arrears.store.activity_log import Entry, record
from arrears.store.ledger.balances import find_debtor, portfolio_of
from arrears.store.schema import (
    activity,
    approval,
    collection_case,
    hold,
    portfolio,
    promise,
    promise_amount,
    task,
    user_queue,
)
from arrears.store.schema import debtor as debtor_table
from arrears.store.schema import portfolio as portfolio_table
from arrears.store.schema import user as user_table

CHANNELS = tuple(c.value for c in Channel)
MAX_GRACE_DAYS = 365


class _Problems:
    """Problems of one request, collected and raised together."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.found: list[Problem] = []

    def add(self, message: str) -> None:
        self.found.append(Problem(self.source, None, None, message))

    def raise_any(self) -> None:
        if self.found:
            raise ProblemsFound(self.found)

    def debtor(self, conn: Connection, code: str, external_id: str) -> tuple[int, RowMapping]:
        """The portfolio's id and the debtor's (locked) row; raises with every problem so far."""
        try:
            pid = portfolio_of(conn, code, self.source)
            row = find_debtor(conn, pid, external_id, self.source)
        except ProblemsFound as exc:
            self.found.extend(exc.problems)
            self.raise_any()
            raise
        self.raise_any()
        return pid, row


def _log(conn: Connection, activity: Activity, pid: int, debtor_id: int) -> None:
    record(conn, [Entry(activity, pid, debtor_id)])


def _portfolio_code(conn: Connection, pid: int) -> str:
    return str(conn.execute(select(portfolio.c.code).where(portfolio.c.id == pid)).scalar_one())


def debtor_currency(conn: Connection, *, portfolio: str, debtor_external_id: str) -> str | None:
    """The debtor's own currency (``None`` when the portfolio or debtor is unknown)."""
    found = conn.execute(
        text(
            "SELECT d.currency FROM debtor d JOIN portfolio p ON p.id = d.portfolio_id "
            "WHERE p.code = :p AND d.external_id = :d"
        ),
        {"p": portfolio, "d": debtor_external_id},
    ).scalar()
    return None if found is None else str(found)


# Promises to pay -------------------------------------------------------------------------------


def add_promise(
    conn: Connection,
    *,
    portfolio: str,
    debtor_external_id: str,
    amount: Money,
    due_on: date,
    made_on: date,
    grace_days: int = 0,
    note: str | None = None,
    actor: str,
    at: datetime,
    schedule: Sequence[tuple[date, int]] = (),
) -> int:
    """Record a debtor's promise to pay ``amount`` by ``due_on``; returns the promise's id (the
    existing one for an identical open promise).

    ``schedule``: a promise of several dated amounts, ``(due_on, amount_minor)`` in date order;
    ``amount`` is then their total and ``due_on`` the last date (what the cycle reads), and the
    amounts are kept in ``promise_amount``."""
    problems = _Problems(f"promise of {debtor_external_id}")
    parts = [(d, int(m)) for d, m in schedule] if len(schedule) > 1 else []
    if parts and (
        sum(m for _, m in parts) != amount.minor
        or parts[-1][0] != due_on
        or any(m <= 0 for _, m in parts)
        or any(b[0] <= a[0] for a, b in itertools.pairwise(parts))
    ):
        problems.add("the dated amounts must be positive, in date order, total the amount and "
                     "end on the due date")  # fmt: skip
    amount_minor = 0
    if not is_currency(amount.currency):
        problems.add(f"unknown currency {amount.currency!r}")
    else:
        try:
            amount_minor = amount.minor
        except MoneyError as exc:
            problems.add(str(exc))
        if amount_minor <= 0 and not problems.found:
            problems.add(f"the amount must be positive, not {amount.amount}")
    if due_on < made_on:
        problems.add(f"due date {due_on} is before the day the promise was made ({made_on})")
    if not 0 <= grace_days <= MAX_GRACE_DAYS:
        problems.add(f"grace days must be between 0 and {MAX_GRACE_DAYS}, not {grace_days}")
    pid, owner = problems.debtor(conn, portfolio, debtor_external_id)
    values: dict[str, Any] = {
        "portfolio_id": pid,
        "debtor_id": owner["id"],
        "currency": amount.currency,
        "amount_minor": amount_minor,
        "made_on": made_on,
        "due_on": due_on,
        "grace_days": grace_days,
    }
    same = (
        conn.execute(
            select(promise.c.id).where(
                *(promise.c[k] == v for k, v in values.items()), promise.c.status == "open"
            )
        )
        .scalars()
        .all()
    )
    for existing in same:
        if promise_schedule(conn, int(existing)) == (parts or [(due_on, amount_minor)]):
            return int(existing)
        problems.add(
            f"promise {existing} of the same total and last date, made the same day, is open: "
            "cancel it first"
        )
        problems.raise_any()
    new = conn.execute(
        insert(promise).values(**values, status="open", note=note, actor=actor, created_at=at)
    ).inserted_primary_key
    assert new is not None
    promise_id = int(new[0])
    if parts:
        conn.execute(
            insert(promise_amount),
            [
                {"promise_id": promise_id, "seq": n, "due_on": d, "amount_minor": m}
                for n, (d, m) in enumerate(parts, start=1)
            ],
        )
    payload = {
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
            {"due_on": d.isoformat(), "amount": str(Money.from_minor(m, amount.currency).amount)}
            for d, m in parts
        ]
    _log(
        conn,
        PromiseMade(
            occurred_at=at,
            actor=actor,
            portfolio=portfolio,
            debtor=debtor_external_id,
            subject_kind="promise",
            subject_id=str(promise_id),
            payload=payload,
            idempotency_key=f"promise.made:{promise_id}",
        ),
        pid,
        int(owner["id"]),
    )
    return promise_id


def promise_schedule(conn: Connection, promise_id: int) -> list[tuple[date, int]]:
    """A promise's dated amounts ``(due_on, amount_minor)`` in date order: its own date and
    amount for a promise of one."""
    rows = conn.execute(
        select(promise_amount.c.due_on, promise_amount.c.amount_minor)
        .where(promise_amount.c.promise_id == promise_id)
        .order_by(promise_amount.c.seq)
    ).all()
    if rows:
        return [(d, int(m)) for d, m in rows]
    one = conn.execute(
        select(promise.c.due_on, promise.c.amount_minor).where(promise.c.id == promise_id)
    ).first()
    return [] if one is None else [(one[0], int(one[1]))]


def promise_schedules(
    conn: Connection, promise_ids: Sequence[int]
) -> dict[int, list[tuple[date, int]]]:
    """The dated amounts of the promises of several among ``promise_ids`` (one query)."""
    found: dict[int, list[tuple[date, int]]] = {}
    if not promise_ids:
        return found
    rows = conn.execute(
        select(promise_amount.c.promise_id, promise_amount.c.due_on, promise_amount.c.amount_minor)
        .where(promise_amount.c.promise_id.in_(list(promise_ids)))
        .order_by(promise_amount.c.promise_id, promise_amount.c.seq)
    ).all()
    for pid_, d, m in rows:
        found.setdefault(int(pid_), []).append((d, int(m)))
    return found


def cancel_promise(
    conn: Connection, promise_id: int, *, on: date, actor: str, at: datetime
) -> bool:
    """Cancel a promise as of ``on``; ``False`` when it was already cancelled."""
    problems = _Problems(f"promise {promise_id}")
    row = conn.execute(select(promise).where(promise.c.id == promise_id)).mappings().first()
    if row is None:
        problems.add(f"no promise {promise_id}")
        problems.raise_any()
    assert row is not None
    if row["status"] == "cancelled":
        return False
    if on < row["made_on"]:
        problems.add(f"cannot cancel on {on}, before the promise was made ({row['made_on']})")
    problems.raise_any()
    conn.execute(
        update(promise)
        .where(promise.c.id == promise_id)
        .values(status="cancelled", cancelled_on=on)
    )
    _log_ended(conn, PromiseCancelled, row, "promise", promise_id, on, actor, at)
    return True


def open_balance_minor(
    conn: Connection, *, portfolio: str, debtor_external_id: str, currency: str
) -> int:
    """What the debtor owes in ``currency``: every open instalment, due or not (minor units)."""
    found = conn.execute(
        text(
            "SELECT COALESCE(SUM(i.open_minor), 0) FROM instalment i "
            "JOIN debtor d ON d.id = i.debtor_id JOIN portfolio p ON p.id = d.portfolio_id "
            "WHERE p.code = :p AND d.external_id = :d AND i.currency = :c"
        ),
        {"p": portfolio, "d": debtor_external_id, "c": currency},
    ).scalar()
    return int(found or 0)


def promises_of(conn: Connection, *, portfolio: str, debtor: str | None) -> list[RowMapping]:
    """The portfolio's promises (one debtor's), newest first, with the debtor's external id."""
    query = (
        select(promise, debtor_table.c.external_id.label("debtor"))
        .select_from(
            promise.join(debtor_table, debtor_table.c.id == promise.c.debtor_id).join(
                portfolio_table, portfolio_table.c.id == promise.c.portfolio_id
            )
        )
        .where(portfolio_table.c.code == portfolio)
        .order_by(promise.c.made_on.desc(), promise.c.id.desc())
    )
    if debtor is not None:
        query = query.where(debtor_table.c.external_id == debtor)
    return list(conn.execute(query).mappings())


# Holds -----------------------------------------------------------------------------------------


def add_hold(
    conn: Connection,
    *,
    portfolio: str,
    debtor_external_id: str,
    starts_on: date,
    ends_on: date,
    reason: str,
    actor: str,
    at: datetime,
) -> int:
    """Hold a debtor's collection from ``starts_on`` until (not including) ``ends_on``; returns
    the hold's id (the existing one for an identical hold not released)."""
    problems = _Problems(f"hold of {debtor_external_id}")
    if ends_on <= starts_on:
        problems.add(f"the hold must end after it starts ({starts_on}), not on {ends_on}")
    if not reason.strip():
        problems.add("a hold needs a reason")
    pid, owner = problems.debtor(conn, portfolio, debtor_external_id)
    values: dict[str, Any] = {
        "portfolio_id": pid,
        "debtor_id": owner["id"],
        "starts_on": starts_on,
        "ends_on": ends_on,
        "reason": reason.strip(),
    }
    existing = conn.execute(
        select(hold.c.id).where(
            *(hold.c[k] == v for k, v in values.items()), hold.c.released_on.is_(None)
        )
    ).scalar()
    if existing is not None:
        return int(existing)
    new = conn.execute(
        insert(hold).values(**values, actor=actor, created_at=at)
    ).inserted_primary_key
    assert new is not None
    hold_id = int(new[0])
    _log(
        conn,
        HoldAdded(
            occurred_at=at,
            actor=actor,
            portfolio=portfolio,
            debtor=debtor_external_id,
            subject_kind="hold",
            subject_id=str(hold_id),
            payload={
                "starts_on": starts_on.isoformat(),
                "ends_on": ends_on.isoformat(),
                "reason": reason.strip(),
            },
            idempotency_key=f"hold.added:{hold_id}",
        ),
        pid,
        int(owner["id"]),
    )
    return hold_id


def release_hold(conn: Connection, hold_id: int, *, on: date, actor: str, at: datetime) -> bool:
    """Release a hold as of ``on``; ``False`` when it was already released."""
    problems = _Problems(f"hold {hold_id}")
    row = conn.execute(select(hold).where(hold.c.id == hold_id)).mappings().first()
    if row is None:
        problems.add(f"no hold {hold_id}")
        problems.raise_any()
    assert row is not None
    if row["released_on"] is not None:
        return False
    if on < row["starts_on"]:
        problems.add(f"cannot release on {on}, before the hold starts ({row['starts_on']})")
    problems.raise_any()
    conn.execute(update(hold).where(hold.c.id == hold_id).values(released_on=on))
    _log_ended(conn, HoldReleased, row, "hold", hold_id, on, actor, at)
    return True


def _log_ended(
    conn: Connection,
    kind: type[PromiseCancelled] | type[HoldReleased],
    row: Any,
    subject: str,
    subject_id: int,
    on: date,
    actor: str,
    at: datetime,
) -> None:
    """The activity of a promise cancelled or a hold released (key: ``<kind>:<id>``)."""
    _log(
        conn,
        kind(
            occurred_at=at,
            actor=actor,
            portfolio=_portfolio_code(conn, row["portfolio_id"]),
            debtor=None,
            subject_kind=subject,
            subject_id=str(subject_id),
            payload={"on": on.isoformat()},
            idempotency_key=f"{kind.kind}:{subject_id}",
        ),
        int(row["portfolio_id"]),
        int(row["debtor_id"]),
    )


# Contacts, approvals, tasks ---------------------------------------------------------------------


def log_contact(
    conn: Connection,
    *,
    portfolio: str,
    debtor_external_id: str,
    channel: str,
    outcome: str,
    on: date,
    note: str | None = None,
    actor: str,
    at: datetime,
) -> bool:
    """Log a contact attempt made by hand (activity kind ``contact``); ``False`` when this very
    record (same debtor, channel, outcome, day and time ``at``) is already logged."""
    problems = _Problems(f"contact with {debtor_external_id}")
    if channel not in CHANNELS:
        problems.add(f"unknown channel {channel!r}: one of {', '.join(CHANNELS)}")
    if not outcome.strip():
        problems.add("a contact needs an outcome (no_answer, reached, promise...)")
    pid, owner = problems.debtor(conn, portfolio, debtor_external_id)
    key = (
        f"contact:{pid}:{owner['id']}:{channel}:{on.isoformat()}:{outcome.strip()}:{at.isoformat()}"
    )[:200]
    if conn.execute(text("SELECT 1 FROM activity WHERE idempotency_key = :k"), {"k": key}).first():
        return False
    _log(
        conn,
        ContactLogged(
            occurred_at=at,
            actor=actor,
            portfolio=portfolio,
            debtor=debtor_external_id,
            subject_kind="debtor",
            subject_id=debtor_external_id,
            payload={
                "channel": channel,
                "outcome": outcome.strip(),
                "on": on.isoformat(),
                "note": note,
            },
            idempotency_key=key,
        ),
        pid,
        int(owner["id"]),
    )
    return True


def approve_stage(
    conn: Connection,
    *,
    portfolio: str,
    debtor_external_id: str,
    currency: str,
    stage: str,
    on: date,
    actor: str,
    at: datetime,
) -> bool:
    """Approve the debtor's open case in ``currency`` entering ``stage``; ``False`` when it was
    approved before."""
    problems = _Problems(f"approval for {debtor_external_id}")
    if not stage.strip():
        problems.add("name the stage to approve")
    pid, owner = problems.debtor(conn, portfolio, debtor_external_id)
    case_id = conn.execute(
        select(collection_case.c.id)
        .where(
            collection_case.c.debtor_id == owner["id"],
            collection_case.c.currency == currency,
            collection_case.c.closed_on.is_(None),
        )
        .order_by(collection_case.c.opened_on.desc())
    ).scalar()
    if case_id is None:
        problems.add(f"debtor {debtor_external_id!r} has no open collection case in {currency}")
        problems.raise_any()
    found = conn.execute(
        select(approval.c.id).where(approval.c.case_id == case_id, approval.c.stage == stage)
    ).first()
    if found is not None:
        return False
    conn.execute(
        insert(approval).values(
            case_id=case_id, stage=stage, approved_on=on, actor=actor, created_at=at
        )
    )
    _log(
        conn,
        StageApproved(
            occurred_at=at,
            actor=actor,
            portfolio=portfolio,
            debtor=debtor_external_id,
            subject_kind="case",
            subject_id=str(case_id),
            payload={"stage": stage, "currency": currency, "on": on.isoformat()},
            idempotency_key=f"stage.approved:{case_id}:{stage}",
        ),
        pid,
        int(owner["id"]),
    )
    return True


def approve_waiting(
    conn: Connection,
    *,
    portfolio: str,
    stage: str,
    awaiting: list[str],
    on: date,
    actor: str,
    at: datetime,
) -> int:
    """Approve entering ``stage`` for every open case of the portfolio that awaits approval for
    one of ``awaiting`` (``stage`` and the more severe stages, which the caller knows from the
    policy), one :func:`approve_stage` each; the number of approvals given."""
    given = 0
    for external_id, currency in awaiting_approval(conn, portfolio=portfolio, stages=awaiting):
        given += approve_stage(
            conn,
            portfolio=portfolio,
            debtor_external_id=external_id,
            currency=currency,
            stage=stage,
            on=on,
            actor=actor,
            at=at,
        )
    return given


def awaiting_approval(
    conn: Connection, *, portfolio: str, stages: Sequence[str]
) -> list[tuple[str, str]]:
    """``(debtor external id, currency)`` of the portfolio's open cases awaiting approval to
    enter one of ``stages``, by debtor and currency."""
    rows = conn.execute(
        text(
            "SELECT d.external_id, c.currency FROM collection_case c "
            "JOIN debtor d ON d.id = c.debtor_id JOIN portfolio p ON p.id = d.portfolio_id "
            "WHERE p.code = :p AND c.closed_on IS NULL AND c.awaiting_approval IN :awaiting "
            "ORDER BY d.external_id, c.currency"
        ).bindparams(bindparam("awaiting", expanding=True)),
        {"p": portfolio, "awaiting": list(stages)},
    ).all()
    return [(str(d), str(c)) for d, c in rows]


def close_task(
    conn: Connection,
    task_id: int,
    *,
    note: str | None = None,
    on: date,
    actor: str,
    at: datetime,
) -> bool:
    """Mark an open task done as of ``on``; ``False`` when it was already closed."""
    problems = _Problems(f"task {task_id}")
    row = conn.execute(select(task).where(task.c.id == task_id)).mappings().first()
    if row is None:
        problems.add(f"no task {task_id}")
        problems.raise_any()
    assert row is not None
    if row["status"] != "open":
        return False
    if on < row["created_on"]:
        problems.add(f"cannot close on {on}, before the task was created ({row['created_on']})")
    problems.raise_any()
    conn.execute(
        update(task)
        .where(task.c.id == task_id, task.c.status == "open")
        .values(status="done", closed_on=on, note=note if note is not None else row["note"])
    )
    _log(
        conn,
        TaskClosed(
            occurred_at=at,
            actor=actor,
            portfolio=_portfolio_code(conn, row["portfolio_id"]),
            debtor=None,
            subject_kind="task",
            subject_id=str(task_id),
            payload={"kind": row["kind"], "on": on.isoformat(), "note": note},
            idempotency_key=f"task.closed:{task_id}",
        ),
        int(row["portfolio_id"]),
        int(row["debtor_id"]),
    )
    return True


def assign_task(
    conn: Connection, task_id: int, *, to: str | None, on: date, actor: str, at: datetime
) -> None:
    """Assign an open task to collector ``to`` (None: to nobody): ``task.assigned``. Assigned
    by hand (``assigned_by`` is ``actor``), the daily run's queue assignment leaves it alone."""
    row = conn.execute(select(task).where(task.c.id == task_id)).mappings().one()
    conn.execute(update(task).where(task.c.id == task_id).values(collector=to, assigned_by=actor))
    _log(
        conn,
        TaskAssigned(
            occurred_at=at,
            actor=actor,
            portfolio=_portfolio_code(conn, row["portfolio_id"]),
            debtor=None,
            subject_kind="task",
            subject_id=str(task_id),
            payload={"from": row["collector"], "to": to, "on": on.isoformat()},
            idempotency_key=f"task.assigned:{task_id}:{to}:{at.isoformat()}"[:200],
        ),
        int(row["portfolio_id"]),
        int(row["debtor_id"]),
    )


#: ``task.assigned_by`` of a task the daily run gave by its queue (a person's assignment holds
#: their actor name: the run may act as the same ``cli:USER``, and never undoes theirs).
QUEUE_ASSIGNER = "queue"


def queue_members(conn: Connection) -> dict[str, list[str]]:
    """Each queue's collectors (users with the queue), by name."""
    rows = conn.execute(
        select(user_queue.c.queue, user_table.c.username)
        .select_from(user_queue.join(user_table, user_table.c.id == user_queue.c.user_id))
        .order_by(user_queue.c.queue, user_table.c.username)
    ).all()
    members: dict[str, list[str]] = {}
    for queue, name in rows:
        members.setdefault(str(queue), []).append(str(name))
    return members


def assign_queues(conn: Connection, *, portfolio: str, on: date, actor: str, at: datetime) -> int:
    """Give each queue's open tasks that nobody assigned to the queue's collectors: the best
    task first (score, then task priority, then the oldest) to the least loaded collector (open
    tasks assigned in the portfolio, then name), one ``task.assigned`` each. A task assigned,
    or unassigned, by a person is never touched; one the run gave to someone who has left the
    queue goes back to it. The number of tasks assigned."""
    pid = portfolio_of(conn, portfolio, "queues")
    members = queue_members(conn)
    if not members:
        return 0
    open_ = conn.execute(
        select(
            task.c.id, task.c.debtor_id, task.c.queue, task.c.collector, task.c.assigned_by,
            task.c.kind,
        )
        .where(task.c.portfolio_id == pid, task.c.status == "open")
        .order_by(
            task.c.score.desc(), task.c.task_priority, task.c.created_on, task.c.id
        )
    ).all()  # fmt: skip
    load: dict[str, int] = {}
    waiting: list[Any] = []
    for row in open_:
        members_of = members.get(row.queue)
        if row.collector is None:  # waiting, unless a person unassigned it
            if members_of and row.assigned_by in (None, QUEUE_ASSIGNER):
                waiting.append(row)
        elif row.assigned_by == QUEUE_ASSIGNER and members_of and row.collector not in members_of:
            waiting.append(row)  # the run gave it to someone who has left the queue
        else:
            load[row.collector] = load.get(row.collector, 0) + 1
    given: list[tuple[Any, str]] = []
    for row in waiting:
        name = min(members[row.queue], key=lambda n: (load.get(n, 0), n))
        load[name] = load.get(name, 0) + 1
        given.append((row, name))
    if not given:
        return 0
    conn.execute(
        update(task)
        .where(task.c.id == bindparam("task_id"), task.c.status == "open")
        .values(collector=bindparam("to"), assigned_by=QUEUE_ASSIGNER),
        [{"task_id": row.id, "to": name} for row, name in given],
    )
    record(
        conn,
        [
            Entry(
                TaskAssigned(
                    occurred_at=at,
                    actor=actor,
                    portfolio=portfolio,
                    debtor=None,
                    subject_kind="task",
                    subject_id=str(row.id),
                    payload={
                        "from": row.collector,
                        "to": name,
                        "on": on.isoformat(),
                        "queue": row.queue,
                        "kind": row.kind,
                    },
                    idempotency_key=f"task.assigned:{row.id}:{name}:queue:{on.isoformat()}"[:200],
                ),
                pid,
                int(row.debtor_id),
            )
            for row, name in given
        ],
    )
    return len(given)


def open_tasks(
    conn: Connection, *, portfolio: str, debtor_external_id: str, kind: str
) -> list[int]:
    """The debtor's open tasks of ``kind``, oldest first."""
    found = conn.execute(
        text(
            "SELECT t.id FROM task t JOIN debtor d ON d.id = t.debtor_id "
            "JOIN portfolio p ON p.id = t.portfolio_id WHERE p.code = :p AND d.external_id = :d "
            "AND t.kind = :k AND t.status = 'open' ORDER BY t.id"
        ),
        {"p": portfolio, "d": debtor_external_id, "k": kind},
    ).scalars()
    return [int(i) for i in found]


def reschedule_task(
    conn: Connection,
    task_id: int,
    *,
    not_before: datetime,
    note: str,
    on: date,
    actor: str,
    at: datetime,
) -> None:
    """Leave an open task open, not to be worked before ``not_before``: ``task.rescheduled``."""
    row = conn.execute(select(task).where(task.c.id == task_id)).mappings().one()
    conn.execute(update(task).where(task.c.id == task_id).values(not_before=not_before, note=note))
    _log(
        conn,
        TaskRescheduled(
            occurred_at=at,
            actor=actor,
            portfolio=_portfolio_code(conn, row["portfolio_id"]),
            debtor=None,
            subject_kind="task",
            subject_id=str(task_id),
            payload={"not_before": not_before.isoformat(), "note": note, "on": on.isoformat()},
            idempotency_key=f"task.rescheduled:{task_id}:{at.isoformat()}"[:200],
        ),
        int(row["portfolio_id"]),
        int(row["debtor_id"]),
    )


# Reads by id, for the services' port (``arrears.services.casework.collection_sql``)
# -----------------------


def find_promise(conn: Connection, promise_id: int) -> RowMapping | None:
    return conn.execute(select(promise).where(promise.c.id == promise_id)).mappings().first()


def find_hold(conn: Connection, hold_id: int) -> RowMapping | None:
    return conn.execute(select(hold).where(hold.c.id == hold_id)).mappings().first()


def find_task(conn: Connection, task_id: int) -> RowMapping | None:
    return conn.execute(select(task).where(task.c.id == task_id)).mappings().first()


def has_open_case(
    conn: Connection, *, portfolio: str, debtor_external_id: str, currency: str
) -> bool:
    """Whether the debtor has an open collection case in ``currency``."""
    found = conn.execute(
        text(
            "SELECT 1 FROM collection_case c JOIN debtor d ON d.id = c.debtor_id "
            "JOIN portfolio p ON p.id = d.portfolio_id WHERE p.code = :p AND d.external_id = :d "
            "AND c.currency = :c AND c.closed_on IS NULL"
        ),
        {"p": portfolio, "d": debtor_external_id, "c": currency},
    ).first()
    return found is not None


def activity_of(conn: Connection, *, portfolio: str) -> list[RowMapping]:
    """The portfolio's activity records, oldest first, with the debtor's external id."""
    query = (
        select(
            activity.c.kind,
            activity.c.actor,
            debtor_table.c.external_id.label("debtor"),
            activity.c.subject_kind,
            activity.c.subject_id,
            activity.c.payload,
        )
        .select_from(
            activity.join(
                portfolio_table, portfolio_table.c.id == activity.c.portfolio_id
            ).outerjoin(debtor_table, debtor_table.c.id == activity.c.debtor_id)
        )
        .where(portfolio_table.c.code == portfolio)
        .order_by(activity.c.id)
    )
    return list(conn.execute(query).mappings())


# The worklist ----------------------------------------------------------------------------------

WORKLIST_SCHEMA: dict[str, pl.DataType] = {
    "task_id": pl.Int64(),
    "score": pl.Float64(),
    "task_priority": pl.Int64(),
    "created_on": pl.Date(),
    "debtor": pl.String(),
    "name": pl.String(),
    "currency": pl.String(),
    "stage": pl.String(),
    "overdue_minor": pl.Int64(),
    "queue": pl.String(),
    "collector": pl.String(),
    "step_id": pl.String(),
    "flags": pl.String(),  # forbearance / breathing space / vulnerable, for the collector
    "not_before": pl.String(),  # the contact rules' earliest time for the call (UTC)
}

#: Debtor tags a collector must see before calling (UK FCA forbearance and breathing space).
WORKLIST_FLAGS = ("forbearance", "breathing_space", "vulnerable")


def worklist_frame(
    conn: Connection,
    *,
    portfolio: str,
    collector: str | None,
    limit: int,
    assignee: str | None = None,
    queue: str | None = None,
    stage: str | None = None,
) -> pl.DataFrame:
    """Open call tasks, best first (score desc, task priority asc, oldest first).

    ``collector``: only the tasks assigned to that collector or to nobody; ``assignee``: only
    the tasks assigned to that collector; ``queue``: only that queue's; ``stage``: only the
    tasks of a case in that stage. ``overdue_minor``:
    what the debtor owes in the case's currency on instalments due before the task was created.
    """
    pid = portfolio_of(conn, portfolio, "worklist")
    where = "t.portfolio_id = :pid AND t.kind = 'call' AND t.status = 'open'"
    params: dict[str, Any] = {"pid": pid, "limit": int(limit)}
    if collector is not None:
        where += " AND (t.collector = :collector OR t.collector IS NULL)"
        params["collector"] = collector
    if assignee is not None:
        where += " AND t.collector = :assignee"
        params["assignee"] = assignee
    if queue is not None:
        where += " AND t.queue = :queue"
        params["queue"] = queue
    if stage is not None:
        where += " AND c.stage = :stage"
        params["stage"] = stage
    tags = "CAST(d.tags AS TEXT)"
    flags = " || ".join(  # the patterns are parameters: a literal % breaks PostgreSQL's COPY
        f"CASE WHEN {tags} LIKE :flag_{flag} THEN '{flag} ' ELSE '' END" for flag in WORKLIST_FLAGS
    )
    params |= {f"flag_{flag}": f'%"{flag}"%' for flag in WORKLIST_FLAGS}
    sql = f"""
        SELECT t.id, t.score, t.task_priority, t.created_on, d.external_id, d.name,
               c.currency, c.stage,
               CAST(COALESCE((SELECT SUM(i.open_minor) FROM instalment i
                              WHERE i.debtor_id = t.debtor_id AND i.currency = c.currency
                                AND i.due_date < t.created_on), 0) AS BIGINT),
               t.queue, t.collector, t.step_id, {flags} AS flags,
               CAST(t.not_before AS TEXT) AS not_before
        FROM task t JOIN debtor d ON d.id = t.debtor_id
             LEFT JOIN collection_case c ON c.id = t.case_id
        WHERE {where}
        ORDER BY t.score DESC, t.task_priority ASC, t.created_on ASC, t.id ASC
        LIMIT :limit"""
    return bulk.read_frame(conn, sql, WORKLIST_SCHEMA, params)


__all__ = [
    "CHANNELS",
    "QUEUE_ASSIGNER",
    "WORKLIST_SCHEMA",
    "activity_of",
    "add_hold",
    "add_promise",
    "approve_stage",
    "approve_waiting",
    "assign_queues",
    "assign_task",
    "awaiting_approval",
    "cancel_promise",
    "close_task",
    "debtor_currency",
    "find_hold",
    "find_promise",
    "find_task",
    "has_open_case",
    "log_contact",
    "open_balance_minor",
    "open_tasks",
    "promise_schedule",
    "promise_schedules",
    "promises_of",
    "queue_members",
    "release_hold",
    "reschedule_task",
    "worklist_frame",
]
