"""A small in-memory portfolio for engine tests: builds the engine's input frames as of any day
and applies the engine's decisions to its own case state, the way the store's commit does (the
store's commit itself is tested on SQLite and PostgreSQL in test_cycle_store.py). What a step
does to its case (floor, agency) is the domain's (``arrears.domain.case``), applied through its
``transition``; ``Book.run`` also checks every case change against that machine
(:func:`events_between`), so a change the case's state forbids fails any test that runs it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import polars as pl

from arrears.contact.frames import CHANNELS, CONSENT_SCHEMA, HISTORY_SCHEMA
from arrears.cycle.compiled import CompiledPolicy
from arrears.cycle.decide import decide
from arrears.cycle.effects import TASK_KINDS
from arrears.cycle.frames import (
    APPROVAL_SCHEMA,
    CASE_SCHEMA,
    CONTACT_SCHEMA,
    HOLD_SCHEMA,
    LAST_CONTACT_SCHEMA,
    LAST_PAYMENT_SCHEMA,
    PROMISE_SCHEMA,
    RATE_SCHEMA,
    SETTLED_SCHEMA,
    STEP_DONE_SCHEMA,
    CycleInput,
    Decisions,
)
from arrears.domain import case as machine
from arrears.domain.errors import Conflict
from arrears.store.cycle.snapshot import DEBTOR_SCHEMA, INSTALMENT_SCHEMA


def minor(amount: str | int) -> int:
    return int(Decimal(str(amount)) * 100)


def ladder_of(policy: CompiledPolicy) -> machine.Ladder:
    """The policy's stages as the case machine sees them."""
    stages = policy.stages
    return machine.Ladder(
        stages,
        approval=frozenset(s for s, a in zip(stages, policy.approval, strict=True) if a),
        escalations=frozenset(s for s, e in zip(stages, policy.escalation, strict=True) if e),
        reopen_within_days=policy.policy.reopen_within_days,
    )


def observed(
    row: Mapping[str, object], approved: frozenset[str], ladder: machine.Ladder
) -> machine.Case:
    """A stored case row (``CASE_SCHEMA``'s columns: the fake's or ``collection_case``'s) as the
    machine's state. A closed row's pause is its last day's, history: a closed case is not
    paused."""
    closed = row["closed_on"] is not None
    paused = None if closed or row["paused_by"] is None else machine.PausedBy(row["paused_by"])
    return machine.Case(
        ladder,
        status=machine.Status.CLOSED if closed else machine.Status.OPEN,
        stage=str(row["stage"]),
        stage_floor=row["stage_floor"],
        awaiting_approval=None if closed else row["awaiting_approval"],
        paused_by=paused,
        paused_until=None if paused is None else row["paused_until"],
        agency=row["agency"],
        approved=approved,
        closed_on=row["closed_on"],
        close_reason=machine.CloseReason(row["close_reason"]) if closed else None,
    )


def events_between(before: machine.Case, after: machine.Case, on: date) -> list[machine.Event]:
    """The events that take ``before`` to ``after`` on ``on``, in the day's order, each applied
    by the machine (a forbidden one raises :class:`Conflict`); the machine must end in
    ``after``."""
    events: list[machine.Event] = []
    state = before

    def happen(event: machine.Event) -> None:
        nonlocal state
        try:
            state = machine.transition(state, event)
        except Conflict as exc:
            raise AssertionError(f"{on}: {before} -> {after}: {exc}") from exc
        events.append(event)

    for stage in sorted(after.approved - before.approved):
        happen(machine.Approve(stage))
    if after.status is not state.status:
        if after.status is machine.Status.CLOSED:
            happen(machine.Close(on, after.close_reason or machine.CloseReason.CURED))
        elif state.status is machine.Status.NONE:
            happen(machine.Open(after.stage, on))
        else:
            happen(machine.Reopen(after.stage, on))
    elif after.is_open and after.stage != state.stage:
        happen(machine.MoveStage(after.stage))
    if after.is_open:
        if (after.paused_by, after.paused_until) != (state.paused_by, state.paused_until):
            happen(
                machine.Pause(after.paused_by, after.paused_until)
                if after.paused_by
                else machine.Resume()
            )
        if after.awaiting_approval != state.awaiting_approval:
            happen(machine.AwaitApproval(after.awaiting_approval))
        if after.stage_floor != state.stage_floor:
            assert after.stage_floor is not None, f"{on}: the floor of {before} went"
            happen(machine.SetFloor(after.stage_floor))
        if after.agency != state.agency:
            happen(machine.Place(after.agency) if after.agency else machine.Recall())
    assert state == after, f"{on}: the machine ends in {state}, the case is {after}"
    return events


@dataclass
class Book:
    debtors: list[dict[str, object]] = field(default_factory=list)
    instalments: list[dict[str, object]] = field(default_factory=list)
    payments: list[dict[str, object]] = field(default_factory=list)  # instalment payments
    reversals: dict[int, date] = field(default_factory=dict)  # payment index -> reversed on
    promises: list[dict[str, object]] = field(default_factory=list)
    holds: list[dict[str, object]] = field(default_factory=list)
    contacts: list[dict[str, object]] = field(default_factory=list)
    cases: list[dict[str, object]] = field(default_factory=list)
    steps_done: list[dict[str, object]] = field(default_factory=list)
    approvals: list[dict[str, object]] = field(default_factory=list)
    tasks: list[dict[str, object]] = field(default_factory=list)  # as the store's worklist
    log: list[str] = field(default_factory=list)
    consent: dict[tuple[int, str], str] = field(default_factory=dict)  # default: unknown
    rates: dict[str, int] = field(default_factory=dict)  # currency -> billionths (RATE_SCHEMA)

    # -- the ledger ---------------------------------------------------------------------------
    def debtor(self, ext: str, **attrs: object) -> int:
        debtor_id = len(self.debtors) + 1
        row: dict[str, object] = dict.fromkeys(DEBTOR_SCHEMA)
        row.update(
            debtor_id=debtor_id,
            debtor_external_id=ext,
            portfolio="default",
            name=ext,
            kind="company",
            country="US",
            timezone="America/New_York",
            language="en",
            currency="USD",
            credit_status="active",
            do_not_contact=False,
            bankrupt=False,
            deceased=False,
            legal_representative=False,
            tags=[],
        )
        row.update(attrs)
        self.debtors.append(row)
        return debtor_id

    def invoice(
        self,
        debtor: int,
        amount: str,
        due: date,
        *,
        issued: date | None = None,
        currency: str = "USD",
        disputed: bool = False,
    ) -> int:
        instalment_id = len(self.instalments) + 1
        self.instalments.append(
            {
                "instalment_id": instalment_id,
                "invoice_id": instalment_id,
                "seq": 1,
                "debtor_id": debtor,
                "currency": currency,
                "issue_date": issued or due - timedelta(days=30),
                "due_date": due,
                "amount_minor": minor(amount),
                "disputed": disputed,
            }
        )
        return instalment_id

    def pay(self, instalment: int, amount: str, on: date) -> int:
        self.payments.append({"instalment_id": instalment, "minor": minor(amount), "on": on})
        return len(self.payments) - 1

    def reverse(self, payment: int, on: date) -> None:
        self.reversals[payment] = on

    def dispute(self, instalment: int, disputed: bool = True) -> None:
        self.instalments[instalment - 1]["disputed"] = disputed

    def promise(
        self, debtor: int, amount: str, made_on: date, due_on: date, grace: int = 3
    ) -> None:
        self.promises.append(
            {
                "promise_id": len(self.promises) + 1,
                "debtor_id": debtor,
                "currency": "USD",
                "made_on": made_on,
                "due_on": due_on,
                "amount_minor": minor(amount),
                "grace_days": grace,
            }
        )

    def hold(self, debtor: int, starts_on: date, ends_on: date, reason: str) -> None:
        self.holds.append(
            {
                "hold_id": len(self.holds) + 1,
                "debtor_id": debtor,
                "starts_on": starts_on,
                "ends_on": ends_on,
                "reason": reason,
            }
        )

    def approve(self, debtor: int, stage: str, on: date) -> None:
        case = next(c for c in self.cases if c["debtor_id"] == debtor and c["closed_on"] is None)
        self.approvals.append({"case_id": case["case_id"], "stage": stage, "approved_on": on})

    # -- the engine's input -------------------------------------------------------------------
    def _live_payments(self, as_of: date) -> list[dict[str, object]]:
        out = []
        for i, p in enumerate(self.payments):
            reversed_on = self.reversals.get(i)
            if p["on"] <= as_of and not (reversed_on and reversed_on <= as_of):  # type: ignore[operator]
                out.append(p)
        return out

    def input(self, as_of: date) -> CycleInput:
        paid: dict[int, int] = {}
        last_on: dict[int, date] = {}
        live = self._live_payments(as_of)
        for p in sorted(live, key=lambda p: p["on"]):  # type: ignore[arg-type,return-value]
            i = p["instalment_id"]
            paid[i] = paid.get(i, 0) + p["minor"]  # type: ignore[operator,call-overload]
            last_on[i] = p["on"]  # type: ignore[index,assignment]
        inst_rows, settled = [], []
        debtor = {d["debtor_id"]: d for d in self.debtors}
        for row in self.instalments:
            if row["issue_date"] > as_of:  # type: ignore[operator]
                continue
            i = row["instalment_id"]
            open_minor = row["amount_minor"] - paid.get(i, 0)  # type: ignore[operator]
            d = debtor[row["debtor_id"]]
            inst_rows.append(
                {
                    **row,
                    "open_minor": open_minor,
                    "debtor_external_id": d["debtor_external_id"],
                    "portfolio": "default",
                    "segment": None,
                }
            )
            if open_minor == 0 and i in last_on:
                settled.append(
                    {
                        "instalment_id": i,
                        "debtor_id": row["debtor_id"],
                        "currency": row["currency"],
                        "due_date": row["due_date"],
                        "settled_on": last_on[i],  # type: ignore[index]
                    }
                )
        last_payments: dict[tuple[int, str], dict[str, object]] = {}
        by_inst = {r["instalment_id"]: r for r in self.instalments}
        for p in sorted(live, key=lambda p: (p["on"], p["minor"])):  # type: ignore[arg-type,return-value]
            inst = by_inst[p["instalment_id"]]
            key = (inst["debtor_id"], inst["currency"])
            last_payments[key] = {  # type: ignore[index]
                "debtor_id": inst["debtor_id"],
                "currency": inst["currency"],
                "last_payment_on": p["on"],
                "last_payment_minor": p["minor"],
            }
        promises = []
        for pr in self.promises:
            if pr["made_on"] > as_of:  # type: ignore[operator]
                continue
            end = min(pr["due_on"] + timedelta(days=pr["grace_days"]), as_of)  # type: ignore[operator]
            got = sum(
                p["minor"]  # type: ignore[misc]
                for p in live
                if by_inst[p["instalment_id"]]["debtor_id"] == pr["debtor_id"]
                and pr["made_on"] <= p["on"] <= end  # type: ignore[operator]
            )
            promises.append({k: v for k, v in pr.items() if k != "outcome"} | {"paid_minor": got})
        contacts = [c for c in self.contacts if c["occurred_on"] <= as_of]  # type: ignore[operator]
        last_contacts: dict[int, dict[str, object]] = {}
        for c in sorted(contacts, key=lambda c: c["occurred_on"]):  # type: ignore[arg-type,return-value]
            last_contacts[c["debtor_id"]] = {  # type: ignore[index]
                "debtor_id": c["debtor_id"],
                "last_contact_on": c["occurred_on"],
                "last_contact_outcome": c["outcome"],
            }
        return CycleInput(
            instalments=pl.DataFrame(inst_rows, schema=INSTALMENT_SCHEMA),
            debtors=pl.DataFrame(self.debtors, schema=DEBTOR_SCHEMA),
            settled=pl.DataFrame(settled, schema=SETTLED_SCHEMA),
            last_payments=pl.DataFrame(list(last_payments.values()), schema=LAST_PAYMENT_SCHEMA),
            promises=pl.DataFrame(promises, schema=PROMISE_SCHEMA),
            holds=pl.DataFrame(self.holds, schema=HOLD_SCHEMA),
            contacts=pl.DataFrame(
                [c for c in contacts if c["occurred_on"] > as_of - timedelta(days=30)],  # type: ignore[operator]
                schema=CONTACT_SCHEMA,
            ),
            last_contacts=pl.DataFrame(list(last_contacts.values()), schema=LAST_CONTACT_SCHEMA),
            consents=pl.DataFrame(
                [
                    {
                        "debtor_id": d["debtor_id"],
                        "channel": ch,
                        "status": self.consent.get((d["debtor_id"], ch), "unknown"),
                    }  # type: ignore[call-overload]
                    for d in self.debtors
                    for ch in CHANNELS
                ],
                schema=CONSENT_SCHEMA,
            ),
            history=pl.DataFrame(
                [
                    {
                        "debtor_id": c["debtor_id"],
                        "channel": c["channel"],
                        "kind": "attempt",
                        "at": datetime.combine(c["occurred_on"], time(14), tzinfo=UTC),
                    }  # type: ignore[arg-type]
                    for c in contacts
                    if c["occurred_on"] > as_of - timedelta(days=30)  # type: ignore[operator]
                ],
                schema=HISTORY_SCHEMA,
            ),
            cases=pl.DataFrame(self.cases, schema=CASE_SCHEMA),
            steps_done=pl.DataFrame(self.steps_done, schema=STEP_DONE_SCHEMA),
            approvals=pl.DataFrame(self.approvals, schema=APPROVAL_SCHEMA),
            rates=pl.DataFrame(
                {"currency": list(self.rates), "rate_nano": list(self.rates.values())},
                schema=RATE_SCHEMA,
            ),
        )

    # -- running the cycle --------------------------------------------------------------------
    def run(self, policy: CompiledPolicy, as_of: date) -> Decisions:
        """Decide for ``as_of`` and apply the decisions to the book, logging each change as
        ``<date> <debtor> <what>`` lines."""
        decisions = decide(self.input(as_of), policy, as_of)
        self.apply(decisions, as_of, policy)
        return decisions

    def apply(
        self, decisions: Decisions, as_of: date, policy: CompiledPolicy | None = None
    ) -> None:
        """Apply ``decisions`` as the store's commit does. With ``policy`` (the one that
        decided), every case's change is checked against the case machine
        (:func:`events_between`); a step that changes its case (``move_stage``, an agency's)
        needs it."""
        names = {d["debtor_id"]: d["debtor_external_id"] for d in self.debtors}
        before = {} if policy is None else self.states(ladder_of(policy))
        for row in decisions.cases.iter_rows(named=True):
            who = names[row["debtor_id"]]
            change = row["change"]
            if change == machine.Change.STAY:
                continue
            if change == machine.Change.OPEN:
                case: dict[str, object] = dict.fromkeys(CASE_SCHEMA)
                case.update(case_id=len(self.cases) + 1)
                self.cases.append(case)
            else:
                case = next(c for c in self.cases if c["case_id"] == row["case_id"])
            case.update({c: row[c] for c in CASE_SCHEMA if c in row and c != "case_id"})
            case["closed_on"] = as_of if change == machine.Change.CLOSE else None
            extra = ""
            if change in (machine.Change.OPEN, machine.Change.REOPEN, machine.Change.STAGE):
                extra = f" {row['stage']}"
            if change == machine.Change.CLOSE:
                extra = f" {row['close_reason']}"
            if row["awaiting_approval"]:
                extra += f" (awaiting approval: {row['awaiting_approval']})"
            if row["paused_by"] and change == machine.Change.UPDATE:
                until = row["paused_until"] or "further notice"
                extra += f" paused by {row['paused_by']} until {until}"
            self.log.append(f"{as_of} {who} case {change}{extra}")
        for row in decisions.steps.iter_rows(named=True):
            case_id = row["case_id"]
            if case_id is None:
                case_id = next(
                    c["case_id"]
                    for c in self.cases
                    if c["debtor_id"] == row["debtor_id"]
                    and c["currency"] == row["currency"]
                    and c["opened_on"] == row["opened_on"]
                )
            self.steps_done.append(
                {
                    "case_id": case_id,
                    "step_id": row["step_id"],
                    "occurrence": row["occurrence"],
                    "status": row["status"],
                    "on": as_of,
                }
            )
            if row["status"] == "executed":
                self._step_effect(case_id, row["action"], row["params"], policy)
            what = f"{row['step_id']}#{row['occurrence']}" if row["occurrence"] else row["step_id"]
            tail = "" if row["reason"] == "came due" else f" ({row['reason']})"
            self.log.append(f"{as_of} {names[row['debtor_id']]} {row['status']} {what}{tail}")
            if row["status"] == "executed" and row["channel"] in (
                "email",
                "sms",
                "whatsapp",
                "letter",
                "call",
            ):
                self.contacts.append(
                    {
                        "debtor_id": row["debtor_id"],
                        "channel": row["channel"],
                        "occurred_on": as_of,
                        "outcome": "queued",
                    }
                )
        self._tasks(decisions, as_of, names)
        for row in decisions.promises.iter_rows(named=True):
            promise = self.promises[row["promise_id"] - 1]
            if promise.get("outcome") == row["outcome"]:
                continue  # recorded before: the store writes it once
            promise["outcome"] = row["outcome"]
            share = ""
            if row["outcome"] == "partial":
                share = f" {100 * row['kept_minor'] // row['amount_minor']} %"
            self.log.append(
                f"{as_of} {names[row['debtor_id']]} promise {row['promise_id']} "
                f"{row['outcome']}{share}"
            )
        if policy is not None:
            ladder = ladder_of(policy)
            for case_id, after in self.states(ladder).items():
                events_between(before.get(case_id, machine.new_case(ladder)), after, as_of)

    def _tasks(self, decisions: Decisions, as_of: date, names: dict[object, object]) -> None:
        """The worklist as the store's commit keeps it: one open task per debtor and kind (the
        most urgent step creates it; a later one makes the open task as urgent as itself);
        an open call task closes when its case is closed or paused."""
        executed = decisions.steps.filter(
            (pl.col("status") == "executed") & pl.col("action").is_in(list(TASK_KINDS))
        ).sort(["debtor_id", "task_priority", "key"])
        for row in executed.iter_rows(named=True):
            kind = TASK_KINDS[row["action"]]
            priority = 3 if row["task_priority"] is None else row["task_priority"]
            same = [
                t
                for t in self.tasks
                if (t["debtor_id"], t["kind"], t["status"]) == (row["debtor_id"], kind, "open")
            ]
            step = f"{row['step_id']}#{row['occurrence']}" if row["occurrence"] else row["step_id"]
            if same:
                same[0]["priority"] = min(same[0]["priority"], priority)  # type: ignore[type-var]
                continue
            case = next(
                c["case_id"]
                for c in self.cases
                if (c["debtor_id"], c["currency"], c["opened_on"])
                == (row["debtor_id"], row["currency"], row["opened_on"])
            )
            self.tasks.append(
                {
                    "debtor_id": row["debtor_id"],
                    "case_id": case,
                    "kind": kind,
                    "priority": priority,
                    "status": "open",
                }
            )
            who = names[row["debtor_id"]]
            self.log.append(f"{as_of} {who} task {kind} opened by {step} (priority {priority})")
        for task in self.tasks:
            if task["status"] != "open" or task["kind"] != "call":
                continue
            case = next(c for c in self.cases if c["case_id"] == task["case_id"])
            if case["closed_on"] is None and case["paused_by"] is None:
                continue
            task["status"] = "cancelled"
            why = "closed" if case["closed_on"] is not None else f"paused by {case['paused_by']}"
            self.log.append(f"{as_of} {names[task['debtor_id']]} task call closed: case {why}")

    def states(self, ladder: machine.Ladder) -> dict[object, machine.Case]:
        """Every case of the book as the machine's state."""
        return {c["case_id"]: observed(c, self.approved(c["case_id"]), ladder) for c in self.cases}

    def approved(self, case_id: object) -> frozenset[str]:
        return frozenset(str(a["stage"]) for a in self.approvals if a["case_id"] == case_id)

    def _step_effect(
        self, case_id: object, action: str, params: str | None, policy: CompiledPolicy | None
    ) -> None:
        """What an executed step does to its case (the store's commit does the same)."""
        event = machine.step_event(action, json.loads(params or "{}"))
        if event is None:
            return
        assert policy is not None, "Book.apply: pass the policy (a step changes its case)"
        case = next(c for c in self.cases if c["case_id"] == case_id)
        state = observed(case, self.approved(case_id), ladder_of(policy))
        after = machine.transition(state, event)
        case.update(stage_floor=after.stage_floor, agency=after.agency)

    def days(
        self, policy: CompiledPolicy, first: date, last: date, skip: frozenset[date] = frozenset()
    ) -> list[str]:
        """Run every day from ``first`` to ``last`` (except ``skip``); the log of changes."""
        start = len(self.log)
        day = first
        while day <= last:
            if day not in skip:
                self.run(policy, day)
            day += timedelta(days=1)
        return self.log[start:]
