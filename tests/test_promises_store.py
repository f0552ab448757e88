"""Promise outcomes and the worklist's upkeep on both stores (SQLite and PostgreSQL): the day's
run through ``services.cycle.run_cycle`` records each outcome once and closes a paused case's
call task once, whatever the backend."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Engine, select

from arrears.cycle.compiled import compile_policy
from arrears.domain.actor import system
from arrears.domain.money import Money
from arrears.policy.loading import parse_policy
from arrears.services.cycle import run_cycle
from arrears.services.uow import SqlUnitOfWork
from arrears.store import schema
from arrears.store.ledger import cases as ledger
from test_cycle_cli import reachable
from test_ledger_support import ACTOR, AT, Book

POLICY = """
policy: promises
stages:
  - {name: clear}
  - {name: early, when: days_past_due >= 1}
segments:
  - {name: all}
cadences:
  - stage: early
    steps:
      - {id: call, offset: 1, action: call_task}
on_broken_promise:
  - {id: call-broken, offset: 1, action: call_task, priority: 1}
contact_rules:
  default: {hours: {sun: {start: "08:00", end: "20:00"}}, caps: [], holidays_closed: false}
"""


def day(engine: Engine, on: date) -> dict[str, int]:
    policy, _, problems = parse_policy(POLICY, "promises.yaml")
    assert policy is not None and problems == []
    _, summary = run_cycle(
        SqlUnitOfWork(engine),
        system("cycle"),
        portfolio="default",
        as_of=on,
        policy=compile_policy(policy),
        at=datetime.combine(on, datetime.min.time(), tzinfo=UTC),
    )
    return summary.as_dict()


def test_outcomes_and_task_closings_are_written_once_on_both_stores(engine: Engine) -> None:
    with engine.begin() as conn:
        book = Book(conn)
        for n, name in enumerate(("PART", "BROKE")):
            ledger.add_debtor(conn, reachable(name, f"+1212555030{n}"), actor=ACTOR, at=AT)
            book.invoice(f"I-{name}", name, ("2026-01-31", "1000.00"))
    assert day(engine, date(2026, 2, 2))["tasks"] == 2  # the call: a task each
    with engine.begin() as conn:
        for name in ("PART", "BROKE"):
            ledger.add_promise(
                conn,
                portfolio="default",
                debtor_external_id=name,
                amount=Money.of("1000.00", "USD"),
                made_on=date(2026, 2, 3),
                due_on=date(2026, 2, 5),
                actor=ACTOR,
                at=AT,
            )
        Book(conn).pay("P1", "PART", "2026-02-04", "100.00")
    paused = day(engine, date(2026, 2, 3))  # the promises pause the cases: the tasks close
    assert (paused["tasks_closed"], paused["cases_updated"]) == (2, 2)
    assert day(engine, date(2026, 2, 3)) == dict.fromkeys(paused, 0)  # again: nothing
    found = day(engine, date(2026, 2, 9))  # 5 Feb + 3 days of grace: found on 9 Feb
    assert found["promises"] == 2
    assert day(engine, date(2026, 2, 9))["promises"] == 0
    followed = day(engine, date(2026, 2, 10))
    assert followed["tasks"] == 2  # the broken promises' calls, priority 1
    with engine.connect() as conn:
        promises = conn.execute(
            select(schema.promise.c.outcome, schema.promise.c.kept_minor).order_by(
                schema.promise.c.id
            )
        ).all()
        logged = conn.execute(
            select(schema.activity.c.kind, schema.activity.c.actor, schema.activity.c.payload)
            .where(schema.activity.c.kind.in_(["promise.partial", "promise.broken", "task.closed"]))
            .order_by(schema.activity.c.id)
        ).all()
        open_tasks = conn.execute(
            select(schema.task.c.step_id, schema.task.c.task_priority).where(
                schema.task.c.status == "open"
            )
        ).all()
    assert [tuple(p) for p in promises] == [("partial", 10000), ("broken", 0)]
    kinds = [(k, a) for k, a, _ in logged]
    assert kinds == [("task.closed", "system:cycle")] * 2 + [
        ("promise.partial", "system:cycle"),
        ("promise.broken", "system:cycle"),
    ]
    assert logged[0][2]["note"] == "closed by the cycle: the case is paused by promise"
    assert logged[2][2]["kept_percent"] == "10.00"
    assert sorted(tuple(t) for t in open_tasks) == [("call-broken", 1)] * 2
