"""The daily cycle's store side: reading a CycleInput and committing Decisions (both backends)."""

from __future__ import annotations

import threading
import time
from dataclasses import fields, replace
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Connection, Engine, func, select, text

from arrears.cycle.frames import (
    CASE_DECISION_SCHEMA,
    CASE_SCHEMA,
    STEP_DECISION_SCHEMA,
    CycleInput,
    Decisions,
)
from arrears.domain.money import Money
from arrears.domain.problems import ProblemsFound
from arrears.store import schema
from arrears.store.cycle.read import read_cycle_input
from arrears.store.cycle.write import CycleBusy, RunSummary, StaleDecisions, commit_decisions
from arrears.store.database import connect
from arrears.store.ledger import cases as ledger
from test_ledger_support import ACTOR, AT, Book, d

AS_OF = date(2026, 3, 15)
OPENED = AS_OF


def build_book(engine: Engine) -> dict[str, int]:
    """D1 owes I1 (paid on 02-10) and I2; D2 owes I3 and paid part of it; promises, holds,
    contacts around 2026-03-15."""
    with engine.begin() as conn:
        book = Book(conn)
        ids = {"D1": book.debtor("D1"), "D2": book.debtor("D2")}
        book.invoice("I1", "D1", ("2026-01-31", "100.00"))
        book.invoice("I2", "D1", ("2026-02-28", "50.00"))
        book.invoice("I3", "D2", ("2026-03-01", "80.00"))
        book.pay("P1", "D1", "2026-02-10", "100.00")
        book.pay("P3", "D2", "2026-03-05", "20.00")
        common = {"portfolio": "default", "actor": ACTOR, "at": AT}
        ledger.add_promise(
            conn,
            debtor_external_id="D2",
            amount=Money.of("60.00", "USD"),
            made_on=d("2026-03-01"),
            due_on=d("2026-03-10"),
            grace_days=2,
            **common,
        )
        ledger.add_hold(
            conn,
            debtor_external_id="D2",
            starts_on=d("2026-03-01"),
            ends_on=d("2026-03-31"),
            reason="disputes the delivery",
            **common,
        )
        released = ledger.add_hold(
            conn,
            debtor_external_id="D1",
            starts_on=d("2026-03-01"),
            ends_on=d("2026-04-01"),
            reason="on holiday",
            **common,
        )
        ledger.release_hold(conn, released, on=d("2026-03-10"), actor=ACTOR, at=AT)
        ledger.log_contact(
            conn,
            debtor_external_id="D1",
            channel="call",
            outcome="no_answer",
            on=d("2026-03-14"),
            **common,
        )
        ledger.log_contact(
            conn,
            debtor_external_id="D1",
            channel="sms",
            outcome="delivered",
            on=d("2026-01-02"),  # before the 30-day window: only the last contact may see it
            **common,
        )
    return ids


def frames_of(data: CycleInput) -> dict[str, pl.DataFrame]:
    return {f.name: getattr(data, f.name) for f in fields(data)}


def test_read_cycle_input_as_of_a_day(engine: Engine) -> None:
    ids = build_book(engine)
    data = read_cycle_input(engine, portfolio="default", as_of=AS_OF, reopen_within_days=30)
    d1, d2 = ids["D1"], ids["D2"]
    assert data.settled.select("debtor_id", "due_date", "settled_on").to_dicts() == [
        {"debtor_id": d1, "due_date": d("2026-01-31"), "settled_on": d("2026-02-10")}
    ]
    assert data.last_payments.sort("debtor_id").to_dicts() == [
        {"debtor_id": d1, "currency": "USD", "last_payment_on": d("2026-02-10"),
         "last_payment_minor": 10000},
        {"debtor_id": d2, "currency": "USD", "last_payment_on": d("2026-03-05"),
         "last_payment_minor": 2000},
    ]  # fmt: skip
    promise = data.promises.drop("promise_id").to_dicts()
    assert promise == [
        {"debtor_id": d2, "currency": "USD", "made_on": d("2026-03-01"),
         "due_on": d("2026-03-10"), "amount_minor": 6000, "grace_days": 2, "paid_minor": 2000}
    ]  # fmt: skip
    assert data.holds.select("debtor_id", "reason").to_dicts() == [
        {"debtor_id": d2, "reason": "disputes the delivery"}
    ]
    assert data.contacts.to_dicts() == [
        {"debtor_id": d1, "channel": "call", "occurred_on": d("2026-03-14"), "outcome": "no_answer"}
    ]
    assert data.last_contacts.to_dicts() == [
        {"debtor_id": d1, "last_contact_on": d("2026-03-14"), "last_contact_outcome": "no_answer"}
    ]
    assert data.cases.height == 0 and data.cases.schema == pl.Schema(CASE_SCHEMA)
    from arrears.cycle import frames

    for name, expected in {
        "settled": frames.SETTLED_SCHEMA,
        "last_payments": frames.LAST_PAYMENT_SCHEMA,
        "promises": frames.PROMISE_SCHEMA,
        "holds": frames.HOLD_SCHEMA,
        "contacts": frames.CONTACT_SCHEMA,
        "last_contacts": frames.LAST_CONTACT_SCHEMA,
        "cases": frames.CASE_SCHEMA,
        "steps_done": frames.STEP_DONE_SCHEMA,
        "approvals": frames.APPROVAL_SCHEMA,
    }.items():
        assert frames_of(data)[name].schema == pl.Schema(expected), name


def test_nothing_dated_after_as_of_changes_any_frame(engine: Engine) -> None:
    build_book(engine)
    commit(engine, decisions_day_one(engine))
    before = read_cycle_input(engine, portfolio="default", as_of=AS_OF, reopen_within_days=30)
    assert before.cases.height == 1 and before.steps_done.height == len(STEPS)
    later = date(2026, 3, 20)
    with engine.begin() as conn:
        book = Book(conn)
        book.pay("P2", "D1", "2026-03-20", "50.00")  # settles I2, after as_of
        book.reverse("P3", "2026-03-18")  # D2's payment bounces after as_of
        book.invoice("I4", "D2", ("2026-03-25", "10.00"), issued="2026-03-16")
        common = {"portfolio": "default", "actor": ACTOR, "at": AT}
        ledger.log_contact(
            conn, debtor_external_id="D2", channel="email", outcome="bounced", on=later, **common
        )
        promise = ledger.add_promise(
            conn,
            debtor_external_id="D1",
            amount=Money.of("10.00", "USD"),
            made_on=later,
            due_on=later,
            **common,
        )
        ledger.cancel_promise(conn, promise, on=later, actor=ACTOR, at=AT)
        first = conn.execute(select(schema.promise.c.id).order_by(schema.promise.c.id)).scalar()
        ledger.cancel_promise(conn, int(first or 0), on=later, actor=ACTOR, at=AT)
        ledger.add_hold(
            conn, debtor_external_id="D1", starts_on=later, ends_on=date(2026, 4, 1),
            reason="later", **common,
        )  # fmt: skip
        hold_id = conn.execute(select(func.min(schema.hold.c.id))).scalar_one()
        ledger.release_hold(conn, hold_id, on=later, actor=ACTOR, at=AT)
    commit(engine, decisions_day_one(engine), as_of=later, policy_sha="b" * 64, check=False)
    after = read_cycle_input(engine, portfolio="default", as_of=AS_OF, reopen_within_days=30)
    for name, frame in frames_of(before).items():
        assert frames_of(after)[name].equals(frame), name


# Committing decisions -------------------------------------------------------------------------

STEPS: list[dict[str, Any]] = [
    {"step_id": "email1", "action": "send", "channel": "email", "status": "executed",
     "params": '{"template": "reminder_1"}'},
    {"step_id": "sms1", "action": "send", "channel": "sms", "status": "skipped",
     "reason": "no consent", "params": '{"template": "reminder_sms"}'},
    {"step_id": "call1", "action": "call_task", "status": "executed", "task_priority": 2,
     "priority": 7.5, "params": '{"queue": "early"}'},
    {"step_id": "hold", "action": "credit_hold", "status": "executed"},
    {"step_id": "fee", "action": "late_fee", "status": "executed", "amount_minor": 1500},
    {"step_id": "settle", "action": "settlement_offer", "status": "executed",
     "params": '{"max_discount": "10", "expires_after_days": 7, "template": "settle"}'},
    {"step_id": "floor", "action": "move_stage", "status": "executed", "params": '{"to": "legal"}'},
    {"step_id": "boss", "action": "notify_owner", "status": "executed",
     "params": '{"message": "big debtor"}'},
]  # fmt: skip


def step_rows(debtor_id: int, case_id: int | None, steps: list[dict[str, Any]]) -> pl.DataFrame:
    rows = []
    for step in steps:
        key = f"case:{debtor_id}:USD:{OPENED.isoformat()}:{step['step_id']}:1"
        rows.append(
            {
                "case_id": case_id,
                "debtor_id": debtor_id,
                "currency": "USD",
                "opened_on": OPENED,
                "occurrence": 1,
                "due_on": AS_OF,
                "key": key,
                "reason": "rule",
                **step,
            }
        )
    return pl.DataFrame(rows, schema=STEP_DECISION_SCHEMA)


def case_row(debtor_id: int, case_id: int | None, change: str, **extra: Any) -> dict[str, Any]:
    row = {
        "case_id": case_id,
        "debtor_id": debtor_id,
        "currency": "USD",
        "opened_on": OPENED,
        "change": change,
        "stage_before": None if change == "open" else "reminder",
        "stage": "reminder",
        "stage_entered_on": OPENED,
        "segment": "smb",
        "overdue_minor": 5000,
        "balance_minor": 5000,
        "days_past_due": 15,
        "priority": 7.5,
    }
    return row | extra


def decisions_day_one(engine: Engine) -> Decisions:
    d1 = debtor_id(engine, "D1")
    cases = pl.DataFrame([case_row(d1, None, "open")], schema=CASE_DECISION_SCHEMA)
    return Decisions(features=pl.DataFrame(), cases=cases, steps=step_rows(d1, None, STEPS))


def debtor_id(engine: Engine, external_id: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(schema.debtor.c.id).where(schema.debtor.c.external_id == external_id)
            ).scalar_one()
        )


def commit(
    engine: Engine,
    decisions: Decisions,
    *,
    as_of: date = AS_OF,
    policy_sha: str = "a" * 64,
    check: bool = True,
) -> RunSummary:
    summary = commit_decisions(
        engine,
        portfolio="default",
        as_of=as_of,
        policy_name="b2b",
        policy_sha256=policy_sha,
        decisions=decisions,
        actor="cycle",
        at=datetime(2026, 3, 15, 6, 0, tzinfo=UTC),
    )
    return summary


def count(engine: Engine, table: str, where: str = "1 = 1") -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table} WHERE {where}")).scalar_one())


def table_counts(engine: Engine) -> dict[str, int]:
    return {
        t: count(engine, t)
        for t in (
            "collection_case", "case_step", "outbox", "task", "offer", "invoice", "activity",
            "cycle_run",
        )
    }  # fmt: skip


def test_commit_writes_cases_steps_and_their_actions_once(engine: Engine) -> None:
    build_book(engine)
    decisions = decisions_day_one(engine)
    summary = commit(engine, decisions)
    assert summary.written and summary.run_recorded
    assert (summary.cases_opened, summary.steps_executed, summary.steps_skipped) == (1, 7, 1)
    assert (summary.outbox, summary.tasks, summary.offers, summary.holds, summary.fees) == (
        2,
        2,
        1,
        1,
        1,
    )
    with engine.connect() as conn:
        case = conn.execute(select(schema.collection_case)).mappings().one()
        assert (case["stage"], case["stage_floor"], case["segment"], case["policy"]) == (
            "reminder",
            "legal",
            "smb",
            "b2b",
        )
        steps = conn.execute(
            select(schema.case_step.c.step_id, schema.case_step.c.status, schema.case_step.c.key)
        ).all()
        assert {(s, st) for s, st, _ in steps} == {(s["step_id"], s["status"]) for s in STEPS}
        outbox = conn.execute(
            select(
                schema.outbox.c.channel, schema.outbox.c.template, schema.outbox.c.status
            ).order_by(schema.outbox.c.channel, schema.outbox.c.template)
        ).all()
        assert [tuple(r) for r in outbox] == [
            ("email", "reminder_1", "queued"),
            ("email", "settle", "queued"),
        ]
        tasks = conn.execute(
            select(
                schema.task.c.kind,
                schema.task.c.task_priority,
                schema.task.c.score,
                schema.task.c.queue,
                schema.task.c.note,
            ).order_by(schema.task.c.kind)
        ).all()
        assert [tuple(r) for r in tasks] == [
            ("call", 2, 7.5, "early", None),
            ("notify", 3, 0.0, None, "big debtor"),
        ]
        offer = conn.execute(select(schema.offer)).mappings().one()
        assert (offer["kind"], offer["expires_on"], offer["terms"]["max_discount"]) == (
            "settlement",
            date(2026, 3, 22),
            "10",
        )
        status = conn.execute(
            select(schema.debtor.c.credit_status).where(schema.debtor.c.external_id == "D1")
        ).scalar_one()
        assert status == "on_hold"
        fee = conn.execute(
            select(schema.invoice.c.amount_minor, schema.invoice.c.issue_date).where(
                schema.invoice.c.external_id.like("fee:%")
            )
        ).one()
        assert tuple(fee) == (1500, AS_OF)
        kinds = dict(
            conn.execute(
                select(schema.activity.c.kind, func.count())
                .where(
                    schema.activity.c.kind.like("case.%") | schema.activity.c.kind.like("step.%")
                )
                .group_by(schema.activity.c.kind)
            ).all()
        )
        assert kinds == {"case.opened": 1, "step.executed": 7, "step.skipped": 1}
        payload = conn.execute(
            select(schema.activity.c.payload).where(
                schema.activity.c.idempotency_key == steps[0][2]
            )
        ).scalar_one()
        assert payload["step_id"] == steps[0][0] and payload["occurrence"] == 1
    before = table_counts(engine)
    again = commit(engine, decisions)
    assert not again.written
    assert table_counts(engine) == before


def test_later_days_move_and_close_the_case(engine: Engine) -> None:
    build_book(engine)
    commit(engine, decisions_day_one(engine))
    d1 = debtor_id(engine, "D1")
    case_id = int(read_cycle_input(engine, portfolio="default", as_of=AS_OF,
                                   reopen_within_days=30).cases["case_id"][0])  # fmt: skip
    day2 = date(2026, 3, 16)
    moved = pl.DataFrame(
        [case_row(d1, case_id, "stage", stage="demand", stage_entered_on=day2, stage_floor="legal",
                  paused_by="promise", paused_until=date(2026, 3, 20))],
        schema=CASE_DECISION_SCHEMA,
    )  # fmt: skip
    no_steps = step_rows(d1, case_id, [])
    summary = commit(engine, Decisions(pl.DataFrame(), moved, no_steps), as_of=day2)
    # the promise pauses the case: its open call task closes by itself (task.closed)
    assert (summary.stage_changes, summary.tasks_closed, summary.activities) == (1, 1, 2)
    again = commit(engine, Decisions(pl.DataFrame(), moved, no_steps), as_of=day2)
    assert not again.written
    # it stays in 'demand' but its promise pause is over: written as an update
    resumed = pl.DataFrame(
        [case_row(d1, case_id, "stay", stage_before="demand", stage="demand",
                  stage_entered_on=day2, stage_floor="legal")],
        schema=CASE_DECISION_SCHEMA,
    )  # fmt: skip
    update = commit(engine, Decisions(pl.DataFrame(), resumed, no_steps), as_of=date(2026, 3, 17))
    assert (update.cases_updated, update.activities) == (1, 1)
    assert not commit(
        engine, Decisions(pl.DataFrame(), resumed, no_steps), as_of=date(2026, 3, 17)
    ).written
    # decided from the state before day 2: the case is no longer at 'reminder' -> stale
    stale = pl.DataFrame(
        [case_row(d1, case_id, "stage", stage="legal")], schema=CASE_DECISION_SCHEMA
    )
    with pytest.raises(StaleDecisions):
        commit(engine, Decisions(pl.DataFrame(), stale, no_steps), as_of=date(2026, 3, 17))
    day3 = date(2026, 3, 18)
    closed = pl.DataFrame(
        [case_row(d1, case_id, "close", stage_before="demand", stage="demand",
                  stage_entered_on=day2, stage_floor="legal", close_reason="cured")],
        schema=CASE_DECISION_SCHEMA,
    )  # fmt: skip
    assert commit(engine, Decisions(pl.DataFrame(), closed, no_steps), as_of=day3).cases_closed == 1
    with engine.connect() as conn:
        row = conn.execute(select(schema.collection_case)).mappings().one()
    assert (row["stage"], row["closed_on"], row["close_reason"], row["updated_on"]) == (
        "demand",
        day3,
        "cured",
        day3,
    )
    # closed as cured: seen within the reopen window, and as open on a day before it closed
    later = read_cycle_input(engine, portfolio="default", as_of=date(2026, 4, 1),
                             reopen_within_days=30).cases  # fmt: skip
    assert later["closed_on"].to_list() == [day3]
    outside = read_cycle_input(engine, portfolio="default", as_of=date(2026, 5, 1),
                               reopen_within_days=10).cases  # fmt: skip
    assert outside.height == 0
    earlier = read_cycle_input(engine, portfolio="default", as_of=day2, reopen_within_days=0)
    assert earlier.cases["closed_on"].to_list() == [None]


def test_approval_reaches_the_cycle_input(engine: Engine) -> None:
    build_book(engine)
    commit(engine, decisions_day_one(engine))
    common = {"portfolio": "default", "actor": ACTOR, "at": AT}
    with engine.begin() as conn:
        assert ledger.approve_stage(
            conn, debtor_external_id="D1", currency="USD", stage="legal", on=AS_OF, **common
        )
        assert not ledger.approve_stage(
            conn, debtor_external_id="D1", currency="USD", stage="legal", on=AS_OF, **common
        )
    with engine.begin() as conn, pytest.raises(ProblemsFound) as failed:
        ledger.approve_stage(
            conn, debtor_external_id="D2", currency="USD", stage="legal", on=AS_OF, **common
        )
    assert "no open collection case" in str(failed.value.problems[0])
    data = read_cycle_input(engine, portfolio="default", as_of=AS_OF, reopen_within_days=30)
    assert data.approvals.select("stage", "approved_on").to_dicts() == [
        {"stage": "legal", "approved_on": AS_OF}
    ]


def test_two_concurrent_commits_never_both_write(engine: Engine, store_url: str) -> None:
    build_book(engine)
    decisions = decisions_day_one(engine)
    results: list[object] = []
    start = threading.Barrier(2)

    def run() -> None:
        other = connect(store_url)
        start.wait()
        try:
            results.append(commit(other, decisions))
        except CycleBusy as exc:
            results.append(exc)
        finally:
            other.dispose()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    written = [r for r in results if isinstance(r, RunSummary) and r.written]
    assert len(results) == 2 and len(written) == 1
    assert all(isinstance(r, CycleBusy | RunSummary) for r in results)
    assert count(engine, "collection_case") == 1
    assert count(engine, "case_step") == len(STEPS)
    assert count(engine, "outbox") == 2


def test_a_run_holding_the_lock_makes_the_other_fail_or_wait(
    engine: Engine, store_url: str
) -> None:
    build_book(engine)
    decisions = decisions_day_one(engine)
    holder = connect(store_url)
    conn = holder.connect()
    tx = conn.begin()  # SQLite: BEGIN IMMEDIATE holds the write lock
    pg = engine.dialect.name == "postgresql"
    if pg:
        pid = conn.execute(text("SELECT id FROM portfolio WHERE code = 'default'")).scalar_one()
        conn.execute(text("SELECT pg_advisory_xact_lock(:c, :p)"), {"c": 0x61727265, "p": pid})
        with pytest.raises(CycleBusy, match="another cycle run for portfolio 'default'"):
            commit(engine, decisions)
        tx.rollback()
    else:
        done: list[RunSummary] = []
        waiter = threading.Thread(target=lambda: done.append(commit(engine, decisions)))
        waiter.start()
        time.sleep(0.5)
        assert not done  # waiting for the lock
        tx.commit()
        waiter.join(30)
        assert done and done[0].written
    conn.close()
    holder.dispose()


def test_agency_release_and_fee_without_amount(engine: Engine) -> None:
    build_book(engine)
    commit(engine, decisions_day_one(engine))
    d1, d2 = debtor_id(engine, "D1"), debtor_id(engine, "D2")
    case_id = int(read_cycle_input(engine, portfolio="default", as_of=AS_OF,
                                   reopen_within_days=30).cases["case_id"][0])  # fmt: skip
    stay = pl.DataFrame(
        [case_row(d1, case_id, "stay", stage_floor="legal")], schema=CASE_DECISION_SCHEMA
    )
    steps = step_rows(d1, case_id, [
        {"step_id": "agency", "action": "place_with_agency", "status": "executed",
         "params": '{"agency": "acme"}'},
        {"step_id": "release", "action": "credit_release", "status": "executed"},
        {"step_id": "fee0", "action": "late_fee", "status": "executed", "amount_minor": None},
    ])  # fmt: skip
    day = date(2026, 3, 16)
    summary = commit(engine, Decisions(pl.DataFrame(), stay, steps), as_of=day)
    assert (summary.releases, summary.fees, summary.steps_executed) == (1, 0, 3)
    with engine.connect() as conn:
        case = conn.execute(select(schema.collection_case)).mappings().one()
        status = conn.execute(
            select(schema.debtor.c.credit_status).where(schema.debtor.c.id == d1)
        ).scalar_one()
    assert (case["agency"], status) == ("acme", "active")
    assert not commit(engine, Decisions(pl.DataFrame(), stay, steps), as_of=day).written
    recall = step_rows(d1, case_id, [
        {"step_id": "recall", "action": "recall_from_agency", "status": "executed",
         "params": '{"agency": "acme"}'},
    ])  # fmt: skip
    stay_acme = stay.with_columns(pl.lit("acme").alias("agency"))
    commit(engine, Decisions(pl.DataFrame(), stay_acme, recall), as_of=date(2026, 3, 17))
    with engine.connect() as conn:
        assert conn.execute(select(schema.collection_case.c.agency)).scalar_one() is None
    # a step of D2 that names D1's case is refused
    wrong = step_rows(d2, case_id, [{"step_id": "x", "action": "send", "status": "executed",
                                     "channel": "email", "params": "{}"}])  # fmt: skip
    with pytest.raises(StaleDecisions):
        commit(engine, Decisions(pl.DataFrame(), stay.clear(), wrong), as_of=date(2026, 3, 18))


def test_a_promise_counts_payments_until_the_longer_of_its_grace_and_the_policys(
    engine: Engine,
) -> None:
    build_book(engine)  # D2 promised 60.00 by 03-10 with 2 days of grace; paid 20.00 on 03-05
    with engine.begin() as conn:
        Book(conn).pay("P4", "D2", "2026-03-14", "40.00")  # 4 days after the promised day
    own = read_cycle_input(engine, portfolio="default", as_of=AS_OF, reopen_within_days=30)
    longer = read_cycle_input(
        engine, portfolio="default", as_of=AS_OF, reopen_within_days=30, promise_grace_days=5
    )
    assert own.promises["paid_minor"].to_list() == [2000]
    assert longer.promises["paid_minor"].to_list() == [6000]


def deny_email(conn: Connection, debtor_id: int, value: str) -> None:
    """A denied email consent on the debtor's email point (``value``, added when it has none)."""
    point = conn.execute(
        text("SELECT id FROM contact_point WHERE debtor_id = :d AND kind = 'email'"),
        {"d": debtor_id},
    ).scalar()
    if point is None:
        point = conn.execute(
            schema.contact_point.insert()
            .values(debtor_id=debtor_id, kind="email", value=value, created_at=AT)
            .returning(schema.contact_point.c.id)
        ).scalar_one()
    conn.execute(
        schema.consent.insert().values(
            contact_point_id=point, channel="email", status="denied", recorded_at=AT,
            source="test",
        )
    )  # fmt: skip


def test_consents_and_contact_history_reach_the_cycle_input(engine: Engine) -> None:
    ids = build_book(engine)
    with engine.begin() as conn:
        deny_email(conn, ids["D1"], "d1@example.com")
        for outcome in ("no_answer", "reached"):
            ledger.log_contact(
                conn, portfolio="default", debtor_external_id="D2", channel="call",
                outcome=outcome, on=d("2026-03-14"), note=None, actor=ACTOR,
                at=datetime(2026, 3, 14, 15, 0 if outcome == "reached" else 30, tzinfo=UTC),
            )  # fmt: skip
    data = read_cycle_input(engine, portfolio="default", as_of=AS_OF, reopen_within_days=30)
    consents = {(r["debtor_id"], r["channel"]): r["status"] for r in data.consents.to_dicts()}
    assert consents[(ids["D1"], "email")] == "denied"
    history = data.history.filter(pl.col("debtor_id") == ids["D2"]).sort("at", "kind")
    assert history.select("channel", "kind").rows() == [
        ("call", "attempt"),
        ("call", "conversation"),
        ("call", "attempt"),
    ]
    assert history["at"].dtype == pl.Datetime("us", "UTC")
    assert history["at"].to_list()[0] == datetime(2026, 3, 14, 15, 0, tzinfo=UTC)


def test_the_history_window_is_twelve_calendar_months_across_a_leap_day(engine: Engine) -> None:
    with engine.begin() as conn:
        book = Book(conn)
        book.debtor("L1")
        book.invoice("IL1", "L1", ("2027-02-01", "10.00"), issued="2027-01-01")
        book.invoice("IL2", "L1", ("2027-02-01", "10.00"), issued="2027-01-01")
        book.pay("PL1", "L1", "2027-03-01", "10.00")  # 12 months before: outside
        book.pay("PL2", "L1", "2027-03-02", "10.00")  # 366 days before 2028-03-01: inside
    data = read_cycle_input(
        engine, portfolio="default", as_of=date(2028, 3, 1), reopen_within_days=30
    )
    assert data.settled["settled_on"].to_list() == [date(2027, 3, 2)]


def test_the_same_message_is_queued_once_a_day_for_a_case(engine: Engine) -> None:
    """The engine sends a message once a day (decide's catch-up rules); the commit keeps that as
    a second guard: two executed steps of a case with the same channel and template on one day
    queue one message, in one commit or in two."""
    build_book(engine)
    d1 = debtor_id(engine, "D1")
    again = {"action": "send", "channel": "email", "status": "executed"}
    twice = [*STEPS, {"step_id": "email1-again", **again, "params": '{"template": "reminder_1"}'}]
    decisions = decisions_day_one(engine)
    summary = commit(engine, replace(decisions, steps=step_rows(d1, None, twice)))
    assert summary.steps_executed == 8 and summary.outbox == 2
    assert count(engine, "outbox", "template = 'reminder_1'") == 1
    third = [{"step_id": "email1-third", **again, "params": '{"template": "reminder_1"}'}]
    later = Decisions(
        features=pl.DataFrame(),
        cases=decisions.cases.clear(),
        steps=step_rows(d1, None, third),
    )
    summary = commit(engine, later, policy_sha="b" * 64)
    assert summary.steps_executed == 1 and summary.outbox == 0
    assert count(engine, "outbox", "template = 'reminder_1'") == 1
