"""The collection use cases, one suite run on every unit of work: in memory, and on the store
(SQLite and PostgreSQL), so the in-memory fake cannot drift from the real store.

Each test starts from the same small book: debtor D1 (USD) owes 100.00 due before 15 March
2026 and a late fee of 15.00, and has an open case at stage ``reminder`` with one call task;
D2 (EUR) has no case and owes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from arrears.domain.actor import Actor, Role
from arrears.domain.errors import InvalidInput, NotAllowed, NotFound
from arrears.services.casework import collection
from arrears.services.memory import MemoryStore, MemoryUnitOfWork
from arrears.services.ports import ActivityRecord, CollectionUnitOfWork
from arrears.services.uow import SqlUnitOfWork
from arrears.store.database import connect
from test_cycle_store import commit, decisions_day_one
from test_ledger_support import Book

NewUow = Callable[[], CollectionUnitOfWork]

ANA = Actor("user:ana", Role.COLLECTOR)
MAX = Actor("user:max", Role.MANAGER)
AT = datetime(2026, 3, 16, 10, 0, tzinfo=UTC)
DAY = date(2026, 3, 16)


def memory_book() -> NewUow:
    store = MemoryStore()
    store.add_debtor("default", "D1", "USD")
    store.add_debtor("default", "D2", "EUR")
    store.add_balance("default", "D1", "USD", 11500)  # 100.00 and the day's late fee, 15.00
    store.open_case("default", "D1", "USD", "reminder")
    store.add_task(
        "default",
        "D1",
        created_on=date(2026, 3, 15),
        score=7.5,
        task_priority=2,
        queue="early",
        step_id="call1",
        overdue_minor=10000,
    )
    return lambda: MemoryUnitOfWork(store)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def new_uow(request: pytest.FixtureRequest) -> Iterator[NewUow]:
    """A function returning a fresh unit of work on the book (each use case enters its own)."""
    if request.param == "memory":
        yield memory_book()
        return
    url = request.getfixturevalue({"sqlite": "sqlite_url", "postgresql": "pg_url"}[request.param])
    engine = connect(str(url))
    with engine.begin() as conn:
        book = Book(conn)
        book.debtor("D1")
        book.debtor("D2", currency="EUR")
        book.invoice("I1", "D1", ("2026-01-31", "60.00"), ("2026-02-28", "40.00"))
    commit(engine, decisions_day_one(engine))
    yield lambda: SqlUnitOfWork(engine)
    engine.dispose()


def log(new_uow: NewUow) -> list[ActivityRecord]:
    """What the collection use cases wrote to the activity log (not the book's set-up)."""
    with new_uow() as uow:
        records = uow.collection.activity("default")
    manual = {"promise", "hold", "debtor", "case", "task"}
    return [r for r in records if r.subject_kind in manual and r.actor.startswith("user:")]


def promise(new_uow: NewUow, debtor: str = "D1", amount: str = "75.50", **more: object) -> int:
    added = collection.add_promise(
        new_uow(),
        ANA,
        portfolio="default",
        debtor=debtor,
        amount=Decimal(amount),
        due_on=date(2026, 3, 20),
        made_on=DAY,
        at=AT,
        **more,  # type: ignore[arg-type]
    )
    return added.promise_id


def test_a_promise_is_added_once_and_cancelled_once(new_uow: NewUow) -> None:
    first = promise(new_uow, grace_days=2, note="pays Friday")
    assert promise(new_uow, grace_days=2) == first  # the same open promise: nothing new
    other = promise(new_uow, "D1", "10")
    assert other != first
    cancelled = collection.cancel_promise(new_uow(), ANA, first, on=DAY, at=AT)
    assert cancelled.changed
    assert not collection.cancel_promise(new_uow(), ANA, first, on=DAY, at=AT).changed
    made, made_d2, ended = log(new_uow)
    assert (made.kind, made.actor, made.debtor, made.subject_id) == (
        "promise.made",
        "user:ana",
        "D1",
        str(first),
    )
    assert made.payload == {
        "promise_id": first,
        "amount": "75.50",
        "currency": "USD",
        "made_on": "2026-03-16",
        "due_on": "2026-03-20",
        "grace_days": 2,
        "note": "pays Friday",
    }
    assert (made_d2.debtor, made_d2.payload["currency"]) == ("D1", "USD")  # the debtor's own
    assert (ended.kind, ended.debtor, ended.payload) == (
        "promise.cancelled",
        "D1",
        {"on": "2026-03-16"},
    )


def test_a_promise_is_at_most_the_open_balance_in_its_currency(new_uow: NewUow) -> None:
    assert promise(new_uow, amount="115.00")  # D1 owes 100.00 USD and a fee of 15.00: all
    with pytest.raises(InvalidInput) as raised:
        promise(new_uow, amount="115.01", note="too much")
    assert "the promise of 115.01 USD is more than D1's open balance in USD (115.00 USD)" in said(
        raised.value
    )
    with pytest.raises(InvalidInput) as raised:  # D2 owes nothing in EUR
        promise(new_uow, "D2", "10")
    assert "more than D2's open balance in EUR (0.00 EUR)" in said(raised.value)
    with pytest.raises(InvalidInput) as raised:  # nor in USD
        promise(new_uow, amount="1", currency="EUR")
    assert "more than D1's open balance in EUR" in said(raised.value)
    [made] = log(new_uow)  # the refused promises wrote nothing
    assert made.payload["amount"] == "115.00"
    with new_uow() as uow:
        [listed] = uow.collection.promises("default", "D1")
    assert (listed.amount_minor, listed.status, listed.outcome) == (11500, "open", None)


def test_a_hold_is_added_and_released(new_uow: NewUow) -> None:
    def hold() -> int:
        return collection.add_hold(
            new_uow(),
            ANA,
            portfolio="default",
            debtor="D1",
            starts_on=DAY,
            ends_on=date(2026, 4, 15),
            reason=" disputes the delivery ",
            at=AT,
        ).hold_id

    hold_id = hold()
    assert hold() == hold_id
    assert collection.release_hold(new_uow(), ANA, hold_id, on=DAY, at=AT).changed
    assert not collection.release_hold(new_uow(), ANA, hold_id, on=DAY, at=AT).changed
    added, released = log(new_uow)
    assert (added.kind, added.subject_id, added.payload["reason"]) == (
        "hold.added",
        str(hold_id),
        "disputes the delivery",
    )
    assert (released.kind, released.actor, released.debtor) == ("hold.released", "user:ana", "D1")


def test_a_contact_is_logged_once(new_uow: NewUow) -> None:
    def contact() -> bool:
        return collection.log_contact(
            new_uow(),
            ANA,
            portfolio="default",
            debtor="D1",
            channel="call",
            outcome=" no_answer ",
            on=DAY,
            at=AT,
        ).changed

    assert contact() and not contact()
    logged, rescheduled = log(new_uow)  # no answer: D1's call task waits for tomorrow
    assert (rescheduled.kind, rescheduled.actor, rescheduled.subject_kind) == (
        "task.rescheduled",
        "user:ana",
        "task",
    )
    assert rescheduled.payload["not_before"] == "2026-03-17T00:00:00+00:00"
    assert (logged.kind, logged.actor, logged.subject_kind, logged.subject_id) == (
        "contact",
        "user:ana",
        "debtor",
        "D1",
    )
    assert logged.payload == {
        "channel": "call",
        "outcome": "no_answer",
        "on": "2026-03-16",
        "note": None,
    }


def test_a_manager_approves_a_stage_once_and_a_collector_cannot(new_uow: NewUow) -> None:
    def approve(actor: Actor, debtor: str = "D1") -> bool:
        return collection.approve_stage(
            new_uow(), actor, portfolio="default", debtor=debtor, stage="legal", on=DAY, at=AT
        ).changed

    with pytest.raises(NotAllowed, match=r"user:ana \(collector\) may not approve a stage"):
        approve(ANA)
    assert log(new_uow) == []
    assert approve(MAX) and not approve(MAX)
    with pytest.raises(NotFound, match="debtor 'D2' has no open collection case in EUR"):
        approve(MAX, "D2")
    [approved] = log(new_uow)
    assert (approved.kind, approved.actor, approved.subject_kind) == (
        "stage.approved",
        "user:max",
        "case",
    )
    assert approved.payload == {"stage": "legal", "currency": "USD", "on": "2026-03-16"}


def test_the_worklist_and_a_task_done(new_uow: NewUow) -> None:
    [task] = collection.worklist(new_uow(), ANA, portfolio="default").to_dicts()
    assert (task["debtor"], task["stage"], task["overdue"]) == ("D1", "reminder", "100.00 USD")
    assert (task["score"], task["task_priority"], task["queue"]) == (7.5, 2, "early")
    done = collection.close_task(new_uow(), ANA, task["task_id"], note="promised", on=DAY, at=AT)
    assert done.changed
    assert not collection.close_task(new_uow(), ANA, task["task_id"], on=DAY, at=AT).changed
    assert collection.worklist(new_uow(), ANA, portfolio="default").is_empty()
    with pytest.raises(NotFound, match="worklist: no portfolio 'elsewhere'"):
        collection.worklist(new_uow(), ANA, portfolio="elsewhere")
    [closed] = log(new_uow)
    assert (closed.kind, closed.debtor, closed.payload["note"]) == ("task.closed", "D1", "promised")
    with pytest.raises(NotAllowed):
        collection.worklist(new_uow(), Actor("debtor:D1", Role.DEBTOR), portfolio="default")


def test_a_task_is_assigned_and_a_call_outcome_closes_it(new_uow: NewUow) -> None:
    with new_uow() as uow:
        [task] = uow.collection.worklist("default", collector=None, limit=5).to_dicts()
    task_id = int(task["task_id"])
    given = collection.assign_task(new_uow(), ANA, task_id, to="ana", on=DAY, at=AT)
    assert given.changed and given.collector == "ana"
    assert not collection.assign_task(new_uow(), ANA, task_id, to="ana", on=DAY, at=AT).changed
    mine = collection.worklist(new_uow(), ANA, portfolio="default", assignee="ana")
    assert mine["task_id"].to_list() == [task_id] and mine["collector"].to_list() == ["ana"]
    assert collection.worklist(new_uow(), ANA, portfolio="default", assignee="bob").is_empty()
    assert collection.collector_name(ANA) == "ana"
    with pytest.raises(InvalidInput) as raised:
        collection.assign_task(new_uow(), ANA, task_id, to="a:b", on=DAY, at=AT)
    assert "a collector's name is 1 to 200 characters without ':'" in said(raised.value)
    with pytest.raises(NotFound, match="no task 99"):
        collection.assign_task(new_uow(), ANA, 99, to="ana", on=DAY, at=AT)
    logged = collection.log_contact(
        new_uow(),
        ANA,
        portfolio="default",
        debtor="D1",
        channel="call",
        outcome="refused",
        note="says the goods never came",
        on=DAY,
        at=AT,
    )
    assert logged.closed == (task_id,) and logged.rescheduled == ()
    assert collection.worklist(new_uow(), ANA, portfolio="default").is_empty()
    assigned, contact, closed = log(new_uow)
    assert (assigned.kind, assigned.payload) == (
        "task.assigned",
        {"from": None, "to": "ana", "on": "2026-03-16"},
    )
    assert (contact.kind, closed.kind) == ("contact", "task.closed")
    assert closed.payload["note"] == "the debtor refused to pay: says the goods never came"
    with pytest.raises(InvalidInput) as raised:
        collection.assign_task(new_uow(), ANA, task_id, to="bob", on=DAY, at=AT)
    assert "only an open task is assigned" in said(raised.value)


def test_unknown_debtor_promise_hold_and_task_are_not_found(new_uow: NewUow) -> None:
    with pytest.raises(NotFound, match="promise of NOPE: unknown debtor 'NOPE'"):
        promise(new_uow, "NOPE")
    with pytest.raises(NotFound, match="hold of NOPE: unknown debtor 'NOPE'"):
        collection.add_hold(
            new_uow(),
            ANA,
            portfolio="default",
            debtor="NOPE",
            starts_on=DAY,
            ends_on=date(2026, 4, 1),
            reason="r",
            at=AT,
        )
    with pytest.raises(NotFound, match="contact with NOPE: unknown debtor 'NOPE'"):
        collection.log_contact(
            new_uow(),
            ANA,
            portfolio="default",
            debtor="NOPE",
            channel="call",
            outcome="reached",
            on=DAY,
            at=AT,
        )
    with pytest.raises(NotFound, match="no promise 99"):
        collection.cancel_promise(new_uow(), ANA, 99, on=DAY, at=AT)
    with pytest.raises(NotFound, match="no hold 99"):
        collection.release_hold(new_uow(), ANA, 99, on=DAY, at=AT)
    with pytest.raises(NotFound, match="no task 99"):
        collection.close_task(new_uow(), ANA, 99, on=DAY, at=AT)
    with pytest.raises(NotFound, match="no portfolio 'elsewhere'"):
        collection.add_hold(
            new_uow(),
            ANA,
            portfolio="elsewhere",
            debtor="D1",
            starts_on=DAY,
            ends_on=date(2026, 4, 1),
            reason="r",
            at=AT,
        )
    assert log(new_uow) == []


def test_an_invalid_request_is_refused_with_every_problem(new_uow: NewUow) -> None:
    with pytest.raises(InvalidInput) as raised:
        collection.add_promise(
            new_uow(),
            ANA,
            portfolio="default",
            debtor="NOPE",
            amount=Decimal("0"),
            currency="USD",
            due_on=date(2026, 3, 1),
            made_on=DAY,
            grace_days=-1,
            at=AT,
        )
    text = said(raised.value)
    for part in (
        "amount must be positive",
        "before the day the promise was made",
        "grace days must be between 0 and 365",
        "unknown debtor 'NOPE'",
    ):
        assert part in text
    with pytest.raises(InvalidInput) as raised:
        promise(new_uow, amount="5.001")
    assert "5.001" in said(raised.value)
    with pytest.raises(InvalidInput):
        collection.log_contact(
            new_uow(),
            ANA,
            portfolio="default",
            debtor="D1",
            channel="pigeon",
            outcome=" ",
            on=DAY,
            at=AT,
        )
    first = promise(new_uow)
    with pytest.raises(InvalidInput) as raised:
        collection.cancel_promise(new_uow(), ANA, first, on=date(2026, 3, 1), at=AT)
    assert "cannot cancel on 2026-03-01, before the promise was made" in said(raised.value)
    assert [r.kind for r in log(new_uow)] == ["promise.made"]


def said(error: InvalidInput) -> str:
    """Every problem of an invalid request, one a line."""
    return "\n".join(str(p) for p in getattr(error, "problems", [error]))


class Boom(Exception):
    pass


def test_a_failure_inside_the_transaction_leaves_nothing_behind(new_uow: NewUow) -> None:
    with pytest.raises(Boom), new_uow() as uow:
        owner = uow.collection.debtor("default", "D1")
        assert owner is not None
        uow.collection.log_contact(
            owner, channel="call", outcome="reached", on=DAY, note=None, actor="user:ana", at=AT
        )
        assert len(uow.collection.activity("default")) >= 1
        raise Boom
    assert log(new_uow) == []
    # the same contact afterwards is new: nothing of the failed one stayed
    assert collection.log_contact(
        new_uow(),
        ANA,
        portfolio="default",
        debtor="D1",
        channel="call",
        outcome="reached",
        on=DAY,
        at=AT,
    ).changed


def test_approving_the_waiting_cases(new_uow: NewUow) -> None:
    stages = ("clear", "reminder", "agency", "legal")
    given = collection.approve_waiting(
        new_uow(),
        MAX,
        portfolio="default",
        stage="agency",
        stages=stages,
        policy="b2b",
        on=DAY,
        at=AT,
    )
    assert given.given == 0  # nothing waits in this book
    with pytest.raises(InvalidInput, match="policy b2b has no stage 'court'; its stages: reminder"):
        collection.approve_waiting(
            new_uow(),
            MAX,
            portfolio="default",
            stage="court",
            stages=stages,
            policy="b2b",
            on=DAY,
            at=AT,
        )
    with pytest.raises(NotAllowed):
        collection.approve_waiting(
            new_uow(),
            ANA,
            portfolio="default",
            stage="agency",
            stages=stages,
            policy="b2b",
            on=DAY,
            at=AT,
        )


def test_the_worklist_filtered_by_queue_and_stage(new_uow: NewUow) -> None:
    """The filters of the API's worklist, applied by the store (a page of a 1M portfolio's
    tasks is read without reading every task): the same answer on both stores."""
    [task] = collection.worklist(new_uow(), ANA, portfolio="default").to_dicts()
    for queue, stage, found in (
        ("early", None, 1), (None, "reminder", 1), ("early", "reminder", 1),
        ("late", None, 0), (None, "legal", 0), ("early", "legal", 0),
    ):  # fmt: skip
        frame = collection.worklist(new_uow(), ANA, portfolio="default", queue=queue, stage=stage)
        assert frame["task_id"].to_list() == [task["task_id"]] * found, (queue, stage)
