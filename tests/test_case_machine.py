"""The case machine (``arrears.domain.case``): its guards, and the engine and the store checked
against it.

The engine (``cycle/decide.py``, through the test fake ``cycle_book.Book``) and the store
(``commit_decisions`` on SQLite) run random portfolios day after day; every day each case's
stored state before and after is turned into the machine's events, in the day's order, and each
event must be a transition the machine allows, ending in the state observed. The way
``tests/test_allocation.py`` proves the store's allocation equal to the domain's rule."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from arrears.cycle.compiled import CompiledPolicy
from arrears.cycle.decide import decide
from arrears.cycle.frames import Decisions
from arrears.domain.case import (
    CLEAR,
    Approve,
    AwaitApproval,
    Case,
    Change,
    Close,
    CloseReason,
    Event,
    Ladder,
    MoveStage,
    Open,
    Pause,
    PausedBy,
    Place,
    Recall,
    Reopen,
    Resume,
    SetFloor,
    Status,
    new_case,
    stage_for,
    step_event,
    transition,
)
from arrears.domain.errors import Conflict
from arrears.domain.ledger import Instalment, Invoice
from arrears.domain.money import Money
from arrears.store import schema
from arrears.store.cycle.collection import approve_stage
from arrears.store.cycle.read import read_cycle_input
from arrears.store.cycle.write import commit_decisions
from arrears.store.database import connect, upgrade
from arrears.store.ledger import cases as ledger
from cycle_book import Book, events_between, ladder_of, observed
from test_cycle_properties import books
from test_cycle_scenarios import P, compiled
from test_ledger_support import ACTOR, AT
from test_ledger_support import Book as StoreBook

# -- the machine on its own -------------------------------------------------------------------

LADDER = Ladder(
    ("clear", "early", "late", "agency", "legal"),
    approval=frozenset({"legal"}),
    escalations=frozenset({"agency", "legal"}),
    reopen_within_days=30,
)
DAY = date(2026, 5, 1)


def opened(stage: str = "early", **state: Any) -> Case:
    return Case(LADDER, status=Status.OPEN, stage=stage, **state)


def refused(case: Case, event: Event) -> str:
    with pytest.raises(Conflict) as failed:
        transition(case, event)
    return str(failed.value)


def test_a_case_opens_in_a_stage_it_may_enter_without_approval() -> None:
    assert transition(new_case(LADDER), Open("late", DAY)) == opened("late")
    assert "other than 'clear'" in refused(new_case(LADDER), Open(CLEAR, DAY))
    assert "escalation" in refused(new_case(LADDER), Open("agency", DAY))
    assert "approval" in refused(new_case(LADDER), Open("legal", DAY))
    assert "not a stage" in refused(new_case(LADDER), Open("nowhere", DAY))
    assert "applies to no case yet, not an open case" in refused(opened(), Open("late", DAY))


def test_stages_follow_the_debt_both_ways_but_never_below_the_floor() -> None:
    assert transition(opened("late"), MoveStage("early")).stage == "early"
    assert "below the case's floor" in refused(
        opened("late", stage_floor="late"), MoveStage("early")
    )
    assert "by closing" in refused(opened(), MoveStage(CLEAR))
    assert "already" in refused(opened(), MoveStage("early"))


def test_gated_stages_need_an_approval_unless_the_floor_moved_the_case() -> None:
    assert "needs an approval" in refused(opened("agency"), MoveStage("legal"))
    approved = opened("agency", approved=frozenset({"legal"}))
    assert transition(approved, MoveStage("legal")).stage == "legal"
    assert transition(opened("agency", stage_floor="legal"), MoveStage("legal")).stage == "legal"
    # an escalation stage: gated only while the case waits for one and is not in one yet
    held = opened("late", awaiting_approval="agency")
    assert "escalation" in refused(held, MoveStage("agency"))
    assert transition(opened("late"), MoveStage("agency")).stage == "agency"
    agreed = replace(held, approved=frozenset({"agency"}))
    assert transition(agreed, MoveStage("agency")).stage == "agency"


def test_a_case_awaits_only_a_more_severe_gated_stage_not_yet_approved() -> None:
    assert transition(opened("late"), AwaitApproval("agency")).awaiting_approval == "agency"
    assert "not more severe" in refused(opened("agency"), AwaitApproval("agency"))
    assert "needs no approval" in refused(Case(Ladder(("clear", "a", "b")), Status.OPEN, "a"),
                                          AwaitApproval("b"))  # fmt: skip
    assert "approved already" in refused(
        replace(opened("late"), approved=frozenset({"legal"})), AwaitApproval("legal")
    )
    assert transition(opened("late", awaiting_approval="agency"), AwaitApproval(None)) == opened(
        "late"
    )


def test_closing_clears_the_stage_pause_and_wait_and_keeps_the_history() -> None:
    case = opened(
        "agency", stage_floor="late", agency="collectors", paused_by=PausedBy.HOLD,
        paused_until=DAY, awaiting_approval="legal", approved=frozenset({"agency"}),
    )  # fmt: skip
    closed = transition(case, Close(DAY))
    assert closed == Case(
        LADDER, Status.CLOSED, CLEAR, stage_floor="late", agency="collectors",
        approved=frozenset({"agency"}), closed_on=DAY, close_reason=CloseReason.CURED,
    )  # fmt: skip
    assert "not a closed case" in refused(closed, Close(DAY))
    assert "not a closed case" in refused(closed, Approve("legal"))


def test_a_closed_case_reopens_within_the_window_else_a_new_case_opens() -> None:
    closed = transition(opened("late", stage_floor="late", agency="x"), Close(DAY))
    again = transition(closed, Reopen("early", DAY + timedelta(days=30)))
    assert again == opened("early", agency="x")  # the floor goes, the agency stays
    assert "beyond 30 days" in refused(closed, Reopen("early", DAY + timedelta(days=31)))
    assert not closed.reopens_on(DAY + timedelta(days=31))
    assert "needs an approval" in refused(closed, Reopen("legal", DAY))
    assert transition(closed, Reopen("agency", DAY)).stage == "agency"  # not a new case: no hold


def test_a_paused_case_runs_no_step() -> None:
    paused = transition(opened(), Pause(PausedBy.PROMISE, DAY))
    assert not paused.runs_steps and opened().runs_steps
    for event in (Place("collectors"), Recall(), SetFloor("late")):
        assert "runs no step" in refused(paused, event)
    assert transition(paused, MoveStage("late")).stage == "late"  # it still follows its stage
    assert transition(paused, Resume()) == opened()
    assert "not paused" in refused(opened(), Resume())


def test_steps_that_change_their_case() -> None:
    assert step_event("move_stage", {"to": "late"}) == SetFloor("late")
    assert step_event("place_with_agency", {"agency": "c"}) == Place("c")
    assert step_event("recall_from_agency", {"agency": "c"}) == Recall()
    assert step_event("send", {"template": "x"}) is None
    placed = transition(opened(), Place("c"))
    assert transition(transition(placed, Recall()), Recall()) == opened()
    assert transition(opened(), Approve("legal")).approved == {"legal"}


def test_the_stage_rule() -> None:
    matching = ["early", "late", "agency", "legal"]
    # a new case may not open into an escalation: it waits in the stage before it
    assert stage_for(new_case(LADDER), matching, cured=False) == ("late", "legal")
    assert stage_for(new_case(LADDER), ["agency"], cured=False) == ("late", "agency")
    # an open case not held walks into the agency; legal needs its approval
    assert stage_for(opened("late"), matching, cured=False) == ("agency", "legal")
    legal = replace(opened("agency"), approved=frozenset({"legal"}))
    assert stage_for(legal, matching, cured=False) == ("legal", None)
    # it moves back with the debt, but not below its floor; cured or nothing matches: clear
    assert stage_for(opened("late"), ["early"], cured=False) == ("early", None)
    assert stage_for(opened("agency", stage_floor="late"), ["early"], cured=False)[0] == "late"
    assert stage_for(opened("late"), ["late"], cured=True) == (CLEAR, None)
    assert stage_for(opened("late", stage_floor="late"), [], cured=False) == (CLEAR, None)
    # matching only a gated stage: an open case stays where it is
    assert stage_for(opened("early"), ["legal"], cured=False) == ("early", "legal")


# -- observing the engine and the store -------------------------------------------------------

MACHINE_POLICY = """
policy: machine
cure_tolerance: 1.00
catch_up_days: 5
reopen_within_days: 20
stages:
  - {name: clear}
  - {name: preventive, when: days_past_due <= 0 and days_to_due <= 5}
  - {name: early, when: days_past_due between 1 and 20}
  - {name: late, when: days_past_due between 21 and 45}
  - {name: agency, when: days_past_due >= 46}
  - {name: legal, when: days_past_due >= 70 and overdue_balance >= 1000, approval: true}
segments:
  - {name: everyone}
cadences:
  - stage: preventive
    steps:
      - {id: watch, offset: -2, action: move_stage, to: early, when: balance >= 10000}
  - stage: early
    steps:
      - {id: notice, offset: 3, action: send, channel: email, template: notice}
      - {id: escalate, offset: 12, action: move_stage, to: late, when: overdue_balance >= 5000}
  - stage: late
    steps:
      - {id: hold-credit, offset: 0, anchor: stage_entered, action: credit_hold}
      - id: push
        offset: 8
        anchor: stage_entered
        action: move_stage
        to: agency
        when: overdue_balance >= 20000
  - stage: agency
    steps:
      - {id: place, offset: 0, anchor: stage_entered, action: place_with_agency, agency: coll}
      - {id: recall, offset: 15, anchor: stage_entered, action: recall_from_agency, agency: coll}
  - stage: legal
    steps:
      - {id: tell-owner, offset: 0, anchor: stage_entered, action: notify_owner}
contact_rules:
  default: {hours: {sun: {start: "08:00", end: "20:00"}}, caps: [], holidays_closed: false}
"""
MACHINE = compiled(MACHINE_POLICY)
POLICIES = st.sampled_from([MACHINE, P])
PRIMARY = {Open: Change.OPEN, Reopen: Change.REOPEN, MoveStage: Change.STAGE, Close: Change.CLOSE}


def check_day(
    before: dict[int, Case],
    after: dict[int, Case],
    keys: dict[int, tuple[int, str, date]],
    decisions: Decisions,
    on: date,
    ladder: Ladder,
    ids: dict[tuple[int, str, date], int],
) -> list[Event]:
    """Every case's change on ``on`` is the machine's; the engine's ``change`` says so; a new
    case opens only where none reopens; only a case that runs steps has steps. The events."""
    seen: list[Event] = []
    changes = {
        (r["debtor_id"], r["currency"], r["opened_on"]): r["change"]
        for r in decisions.cases.iter_rows(named=True)
    }
    for case_id, now in after.items():
        debtor, currency, opened_on = keys[case_id]
        was = before.get(case_id, new_case(ladder))
        if case_id not in before:
            earlier = [
                before[c] for c, k in keys.items() if c in before and k[:2] == (debtor, currency)
            ]
            assert all(c.status is Status.CLOSED and not c.reopens_on(on) for c in earlier), (
                f"{on}: a new case opened for {debtor} {currency} beside {earlier}"
            )
        events = events_between(was, now, on)
        seen += events
        primary = [PRIMARY[type(e)] for e in events if type(e) in PRIMARY]
        change = changes.get((debtor, currency, opened_on))
        if primary:
            assert change == primary[0], (on, case_id, events, change)
        elif any(isinstance(e, Pause | Resume | AwaitApproval) for e in events):
            assert change == Change.UPDATE, (on, case_id, events, change)
        else:
            assert change in (None, Change.STAY, Change.UPDATE), (on, case_id, events, change)
    for row in decisions.steps.iter_rows(named=True):
        case_id = ids[(row["debtor_id"], row["currency"], row["opened_on"])]
        assert after[case_id].runs_steps, (
            f"{on}: {after[case_id]} runs no step, yet has step {row['step_id']}"
        )
    return seen


def book_cases(book: Book, ladder: Ladder) -> dict[int, Case]:
    return {
        int(c["case_id"]): observed(c, book.approved(c["case_id"]), ladder)  # type: ignore[call-overload]
        for c in book.cases
    }


def approvals_to_give(cases: dict[int, Case], data: st.DataObject) -> list[tuple[int, str]]:
    """Some of the stages the open cases wait for, approved before a run."""
    return [
        (case_id, case.awaiting_approval)
        for case_id, case in sorted(cases.items())
        if case.is_open and case.awaiting_approval and data.draw(st.integers(0, 2)) == 0
    ]


@st.composite
def turns(draw: st.DrawFn, case: tuple[Book, list[date]]) -> tuple[Book, list[date]]:
    """``case``'s book with some invoices paid in full, some of those payments reversed later:
    cases that step back to an earlier stage, close, and reopen."""
    book, days = case
    for row in list(book.instalments):
        paid = sum(p["minor"] for p in book.payments if p["instalment_id"] == row["instalment_id"])  # type: ignore[misc]
        left = int(row["amount_minor"]) - paid  # type: ignore[call-overload]
        if left > 0 and draw(st.booleans()):
            on = days[0] + timedelta(days=draw(st.integers(0, 120)))
            payment = book.pay(int(row["instalment_id"]), f"{left / 100:.2f}", on)  # type: ignore[call-overload]
            if draw(st.booleans()):
                book.reverse(payment, on + timedelta(days=draw(st.integers(1, 25))))
    return book, days


@st.composite
def more_days(draw: st.DrawFn, days: list[date]) -> list[date]:
    """``days`` and a run of days a few days apart (a case's changes from one day to the next)."""
    start, every = draw(st.integers(0, 100)), draw(st.integers(2, 6))
    run = range(start, start + every * draw(st.integers(2, 8)), every)
    return sorted({*days, *(days[0] + timedelta(days=o) for o in run)})


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(books().flatmap(turns), POLICIES, st.data())
def test_the_engine_changes_cases_only_as_the_machine_allows(
    case: tuple[Book, list[date]], policy: CompiledPolicy, data: st.DataObject
) -> None:
    book, days = case
    ladder = ladder_of(policy)
    for day in data.draw(more_days(days)):
        before = book_cases(book, ladder)
        for case_id, stage in approvals_to_give(before, data):
            debtor = next(c["debtor_id"] for c in book.cases if c["case_id"] == case_id)
            book.approve(debtor, stage, day)  # type: ignore[arg-type]
        approved, keys = book_cases(book, ladder), book_keys(book)
        decisions = book.run(policy, day)
        check_stages(approved, keys, decisions, policy, day)
        keys = book_keys(book)
        ids = {k: c for c, k in keys.items()}
        check_day(before, book_cases(book, ladder), keys, decisions, day, ladder, ids)


def book_keys(book: Book) -> dict[int, tuple[int, str, date]]:
    return {
        int(c["case_id"]): (c["debtor_id"], c["currency"], c["opened_on"])  # type: ignore[call-overload,misc]
        for c in book.cases
    }


def check_stages(
    cases: dict[int, Case],
    keys: dict[int, tuple[int, str, date]],
    decisions: Decisions,
    policy: CompiledPolicy,
    on: date,
) -> None:
    """The stage the engine chose for every debtor and currency is the domain's
    :func:`stage_for`, given the stages whose conditions held and the case it saw."""
    ladder = ladder_of(policy)
    conditions = [
        c.alias(stage)
        for stage, c in zip(policy.stages, policy.stage_conditions, strict=True)
        if c is not None
    ]
    overdue = pl.col("overdue_balance")
    tolerance = pl.lit(policy.policy.cure_tolerance)
    matched = decisions.features.select(
        "debtor_id", "currency", *conditions,
        ((overdue > 0) & (overdue <= tolerance)).alias("_cured"),
        # an open dispute and nothing else overdue (disputes.pause: invoices) holds the stage
        (pl.col("disputed") & (overdue == 0)
         & pl.lit(policy.policy.disputes.pause == "invoices")).alias("_held"),
    )  # fmt: skip
    decided = {(r["debtor_id"], r["currency"]): r for r in decisions.cases.iter_rows(named=True)}
    for row in matched.iter_rows(named=True):
        key = (row["debtor_id"], row["currency"])
        mine = [cases[c] for c, k in keys.items() if k[:2] == key]
        current = next((c for c in mine if c.is_open), None) or max(
            (c for c in mine if c.reopens_on(on)), key=lambda c: c.closed_on or on, default=None
        )
        case = current or new_case(ladder)
        matching = [s for s in policy.stages if row.get(s)]
        stage, awaiting = stage_for(case, matching, cured=row["_cured"], held=row["_held"])
        got = decided.get(key)
        if stage == CLEAR:
            assert got is None or got["change"] == Change.CLOSE, (on, case, matching, got)
        else:
            assert got is not None, (on, case, matching, stage)
            assert (got["stage"], got["awaiting_approval"]) == (stage, awaiting), (
                on, case, matching, row["_cured"], got["stage"], got["awaiting_approval"],
            )  # fmt: skip


def test_the_check_fails_when_the_engine_breaks_a_rule() -> None:
    """The observer is not blind: a case moved below its floor, or stepping while paused,
    fails the check."""
    book = Book()
    debtor = book.debtor("D")
    book.invoice(debtor, "100.00", date(2026, 1, 1))
    ladder = ladder_of(MACHINE)
    before = book_cases(book, ladder)
    decisions = book.run(MACHINE, date(2026, 1, 25))  # opens in late
    book.cases[0]["stage_floor"] = "agency"  # as if a step had set it
    after = book_cases(book, ladder)
    keys = {1: (debtor, "USD", date(2026, 1, 25))}
    check_day(before, after, keys, decisions, date(2026, 1, 25), ladder, {keys[1]: 1})
    floored = book_cases(book, ladder)
    book.cases[0]["stage"] = "early"
    with pytest.raises(AssertionError, match="below the case's floor"):
        events_between(floored[1], book_cases(book, ladder)[1], date(2026, 1, 26))
    book.cases[0].update(stage="agency", paused_by="hold", paused_until=date(2026, 2, 1))
    paused = book_cases(book, ladder)
    steps_only = Decisions(decisions.features, decisions.cases.clear(), decisions.steps)
    assert not steps_only.steps.is_empty()
    with pytest.raises(AssertionError, match="runs no step, yet has step"):
        check_day(paused, paused, keys, steps_only, date(2026, 1, 26), ladder, {keys[1]: 1})


# -- the store --------------------------------------------------------------------------------


_EXAMPLES = itertools.count()


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("machine") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


def store_of(book: Book, engine: Engine) -> None:
    """The fake book's portfolio written through the ledger's use cases."""
    common = {"portfolio": "default", "actor": ACTOR, "at": AT}
    with engine.begin() as conn:
        store = StoreBook(conn)
        for d in book.debtors:
            store.debtor(str(d["debtor_external_id"]))
        ext = {d["debtor_id"]: str(d["debtor_external_id"]) for d in book.debtors}
        for row in book.instalments:
            amount = Money.from_minor(int(row["amount_minor"]), "USD")  # type: ignore[call-overload]
            name = f"I{row['instalment_id']}"
            ledger.add_invoice(
                conn,
                Invoice(name, ext[row["debtor_id"]], name, row["issue_date"],  # type: ignore[arg-type]
                        (Instalment(1, row["due_date"], amount, amount),),  # type: ignore[arg-type]
                        disputed=bool(row["disputed"])),
                actor=ACTOR, at=AT,
            )  # fmt: skip
        debtor_of = {r["instalment_id"]: ext[r["debtor_id"]] for r in book.instalments}
        for i, p in enumerate(book.payments):
            money = Money.from_minor(int(p["minor"]), "USD")  # type: ignore[call-overload]
            store.pay(f"P{i}", debtor_of[p["instalment_id"]], str(p["on"]), str(money.amount),
                      invoice=f"I{p['instalment_id']}")  # fmt: skip
        for i, on in book.reversals.items():
            store.reverse(f"P{i}", str(on))
        for pr in book.promises:
            ledger.add_promise(
                conn, debtor_external_id=ext[pr["debtor_id"]],
                amount=Money.from_minor(int(pr["amount_minor"]), "USD"),  # type: ignore[call-overload]
                made_on=pr["made_on"], due_on=pr["due_on"], grace_days=pr["grace_days"], **common,
            )  # fmt: skip
        for h in book.holds:
            ledger.add_hold(
                conn, debtor_external_id=ext[h["debtor_id"]], starts_on=h["starts_on"],
                ends_on=h["ends_on"], reason=str(h["reason"]), **common,
            )  # fmt: skip


def stored_cases(engine: Engine, ladder: Ladder) -> tuple[dict[int, Case], dict[int, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(schema.collection_case)).mappings().all()
        approvals = conn.execute(select(schema.approval.c.case_id, schema.approval.c.stage)).all()
    approved: dict[int, set[str]] = {}
    for case_id, stage in approvals:
        approved.setdefault(case_id, set()).add(stage)
    cases = {r["id"]: observed(r, frozenset(approved.get(r["id"], ())), ladder) for r in rows}
    return cases, {r["id"]: (r["debtor_id"], r["currency"], r["opened_on"]) for r in rows}


def through_the_store(
    engine: Engine,
    book: Book,
    policy: CompiledPolicy,
    days: list[date],
    approvals: Callable[[date, dict[int, Case]], list[tuple[int, str]]],
) -> list[Event]:
    """Run the cycle on ``book`` written to the store, day after day (``approvals``: the stages
    approved before a day's run), checking each day's changes; the events seen."""
    ladder = ladder_of(policy)
    store_of(book, engine)
    seen: list[Event] = []
    for day in days:
        before, keys = stored_cases(engine, ladder)
        for case_id, stage in approvals(day, before):
            with engine.begin() as conn:
                external = conn.execute(
                    select(schema.debtor.c.external_id).where(
                        schema.debtor.c.id == keys[case_id][0]
                    )
                ).scalar_one()
                approve_stage(
                    conn, portfolio="default", debtor_external_id=external, currency="USD",
                    stage=stage, on=day, actor=ACTOR, at=AT,
                )  # fmt: skip
        reopen = policy.policy.reopen_within_days
        data = read_cycle_input(engine, portfolio="default", as_of=day, reopen_within_days=reopen)
        decisions = decide(data, policy, day)
        check_stages(*stored_cases(engine, ladder), decisions, policy, day)
        commit_decisions(
            engine, portfolio="default", as_of=day, policy_name=policy.policy.policy,
            policy_sha256=policy.sha256, decisions=decisions, actor="system:cycle", at=AT,
        )  # fmt: skip
        after, keys = stored_cases(engine, ladder)
        ids = {k: c for c, k in keys.items()}
        seen += check_day(before, after, keys, decisions, day, ladder, ids)
    return seen


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(books().flatmap(turns), POLICIES, st.data())
def test_the_store_changes_cases_only_as_the_machine_allows(
    migrated: Path, tmp_path: Path, case: tuple[Book, list[date]], policy: CompiledPolicy,
    data: st.DataObject,
) -> None:  # fmt: skip
    book, days = case
    path = tmp_path / f"store-{next(_EXAMPLES)}.db"
    shutil.copy(migrated, path)
    engine = connect(f"sqlite:///{path}")
    try:
        through_the_store(
            engine, book, policy, data.draw(more_days(days)),
            lambda _, cases: approvals_to_give(cases, data),
        )  # fmt: skip
    finally:
        engine.dispose()


def test_a_case_s_whole_life_through_the_store(engine: Engine) -> None:
    """Both backends: a backlog case waits for the agency, is approved, placed, recalled,
    waits for legal, is paid and closes, and reopens when the payment bounces; a promise pauses
    another case, a floor is set before due."""
    book = Book()
    old, promised = book.debtor("OLD"), book.debtor("PROMISED")
    paid = book.pay(book.invoice(old, "1000.00", date(2026, 1, 1)), "1000.00", date(2026, 3, 20))
    book.reverse(paid, date(2026, 3, 25))
    book.invoice(promised, "20000.00", date(2026, 2, 20))
    book.promise(promised, "500.00", date(2026, 3, 1), date(2026, 3, 5))
    days = [date(2026, m, d) for m, d in ((2, 18), (2, 25), (3, 1), (3, 3), (3, 6), (3, 10),
                                          (3, 12), (3, 18), (3, 21), (3, 26))]  # fmt: skip

    def approvals(day: date, cases: dict[int, Case]) -> list[tuple[int, str]]:
        waiting = [c for c, case in cases.items() if case.awaiting_approval == "agency"]
        return [(c, "agency") for c in waiting if day == date(2026, 3, 3)]

    seen = through_the_store(engine, book, MACHINE, days, approvals)
    kinds = {type(e).__name__ for e in seen}
    assert kinds == {
        "Open", "AwaitApproval", "Approve", "MoveStage", "Place", "Recall", "Close", "Reopen",
        "Pause", "Resume", "SetFloor",
    }, seen  # fmt: skip
