"""Golden day-by-day scenarios of payment plans and settlements on a real store (SQLite and
PostgreSQL): a small book and policy in the test, what a collector does (the use cases the
command line calls, as collector ``user:ana`` or manager ``user:max``), the daily cycle run on the
days that matter (``services.cycle.run_cycle``, as ``arrears run`` does), and the expected log
beside it. Each line is ``<day> <debtor> <what happened>``, read from the activity log."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
from sqlalchemy import select

from arrears.cli.app import main
from arrears.cycle.compiled import compile_policy
from arrears.domain.actor import Actor, Role, system
from arrears.domain.agencies import Terms
from arrears.domain.errors import NotAllowed
from arrears.domain.problems import ProblemsFound
from arrears.policy.loading import parse_policy
from arrears.policy.model import Disputes, Policy
from arrears.services.arrangements import agencies, agreements, disputes, settlements
from arrears.services.cycle import run_cycle
from arrears.services.uow import SqlUnitOfWork
from arrears.store import schema
from arrears.store.database import connect
from arrears.store.ledger import cases as ledger
from test_cycle_cli import reachable
from test_ledger_support import ACTOR, AT, Book

POLICY = """
policy: agreements
stages:
  - {name: clear}
  - {name: early, when: days_past_due >= 1}
segments:
  - {name: all}
cadences:
  - stage: early
    steps:
      - {id: notice, offset: 1, action: send, channel: email, template: notice_overdue}
      - {id: call, offset: 20, action: call_task, priority: 2}
on_broken_promise:
  - {id: call-broken, offset: 1, action: call_task, priority: 1}
payment_plans: {max_instalments: 6, min_instalment: 100, grace_days: 3, missed_to_break: 1}
settlements: {max_discount: 20, max_days: 30}
contact_rules:
  default: {hours: {sun: {start: "08:00", end: "20:00"}}, caps: [], holidays_closed: false}
"""

_PARSED, _, _PROBLEMS = parse_policy(POLICY, "agreements.yaml")
assert _PARSED is not None and not _PROBLEMS
PARSED: Policy = _PARSED
COMPILED = compile_policy(PARSED)
ANA = Actor("user:ana", Role.COLLECTOR)
MAX = Actor("user:max", Role.MANAGER)

#: What the golden logs show (the rest of the log is the ledger's and the dispatcher's).
SHOWN = (
    "case.", "step.executed", "plan.", "settlement.", "write_off.", "task.", "dispute.",
    "credit_note.",
)  # fmt: skip


class Scenario:
    """A workspace on ``url`` where ACME owes ``amount`` USD due 31 January 2026."""

    def __init__(self, root: Path, url: str, amount: str) -> None:
        self.root = root
        assert main(["init", str(root), "--database-url", url]) == 0
        (root / "agreements.yaml").write_text(POLICY)
        self.engine = connect(url)
        with self.engine.begin() as conn:
            ledger.add_debtor(conn, reachable("ACME", "+12125550100"), actor=ACTOR, at=AT)
            Book(conn).invoice("INV-1", "ACME", ("2026-01-31", amount))
        self.seen = self._last_id()
        self.log: list[str] = []
        self.policy = COMPILED

    #: The activity kinds the log shows, and how one reads there.
    shown: tuple[str, ...] = SHOWN

    def line(self, row: Any) -> str:
        return describe(row)

    def _last_id(self) -> int:
        with self.engine.connect() as conn:
            ids = conn.execute(select(schema.activity.c.id)).scalars().all()
        return max(ids, default=0)

    def _record(self, day: str) -> None:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(schema.activity)
                .where(schema.activity.c.id > self.seen)
                .order_by(schema.activity.c.id)
            ).mappings()
            for row in rows:
                if str(row["kind"]).startswith(self.shown):
                    self.log.append(f"{day} ACME {self.line(row)}")
        self.seen = self._last_id()

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)

    def did(self, day: str) -> None:
        """Record what the day's use case wrote."""
        self._record(day)

    def run(self, *days: str) -> None:
        for day in days:
            run_cycle(self.uow(), system("cycle"), portfolio="default", as_of=d(day),
                      policy=self.policy, at=AT)  # fmt: skip
            self._record(day)

    def pay(self, day: str, payment: str, amount: str) -> None:
        with self.engine.begin() as conn:
            Book(conn).pay(payment, "ACME", day, amount)
        self.log.append(f"{day} ACME pays {amount}")
        self.seen = self._last_id()


def describe(row: Any) -> str:
    kind, payload = str(row["kind"]), row["payload"]
    assert isinstance(payload, dict)
    if kind.startswith("case."):
        said = {k: payload[k] for k in ("stage", "paused_by") if payload.get(k)}
        return f"{kind} " + " ".join(f"{k}={v}" for k, v in said.items())
    if kind == "step.executed":
        return f"{kind} {payload.get('step_id', row['subject_id'])}"
    if kind.startswith("plan.instalment"):
        return f"{kind} #{payload['seq']}"
    if kind == "write_off.posted":
        why = f"({payload['reason']}) by {row['actor']}"
        return f"{kind} {row['subject_id']} {payload['amount']} {why}"
    if kind.startswith(("plan.", "settlement.")):
        return f"{kind} by {row['actor']}"
    if kind.startswith("dispute."):
        said = [f"{k}={payload[k]}" for k in ("invoices", "reason", "credit") if payload.get(k)]
        return " ".join([kind, *said, f"by {row['actor']}"])
    if kind == "credit_note.issued":
        return f"{kind} {row['subject_id']} {payload.get('amount')}"
    return kind


def d(text: str) -> date:
    return date.fromisoformat(text)


def golden(text: str) -> list[str]:
    return dedent(text).strip().splitlines()


@pytest.fixture
def scenario(tmp_path: Path, store_url: str) -> Scenario:
    """ACME owes 900.00 USD due 31 January 2026 (SQLite and PostgreSQL)."""
    return Scenario(tmp_path / "ws", store_url, "900.00")


@pytest.fixture
def on_sqlite(tmp_path: Path, sqlite_url: str) -> Scenario:
    """The same on SQLite only (the scenarios above cover PostgreSQL's side of the store)."""
    return Scenario(tmp_path / "ws", sqlite_url, "900.00")


def test_plan_of_three_with_one_missed(scenario: Scenario) -> None:
    """Three monthly instalments of 300.00 from 10 February; the first is paid, the second is
    not: found missed on 14 March (its date plus 3 days' grace), which breaks the plan (one
    missed breaks it); the case resumes and the on_broken_promise call runs the next day."""
    s = scenario
    s.run("2026-02-01")
    agreements.accept_plan(
        s.uow(), ANA, portfolio="default", debtor="ACME", policy=PARSED,
        on=d("2026-02-03"), at=AT, first_on=d("2026-02-10"), instalments=3,
    )  # fmt: skip
    s.did("2026-02-03")
    s.run("2026-02-03")
    s.pay("2026-02-09", "P1", "300.00")
    s.run("2026-02-10", "2026-02-21", "2026-03-13", "2026-03-14", "2026-03-15")
    assert s.log == golden("""
        2026-02-01 ACME case.opened stage=early
        2026-02-01 ACME step.executed notice
        2026-02-03 ACME plan.accepted by user:ana
        2026-02-03 ACME case.updated stage=early paused_by=plan
        2026-02-09 ACME pays 300.00
        2026-02-10 ACME plan.instalment_paid #1
        2026-03-14 ACME plan.instalment_missed #2
        2026-03-14 ACME plan.broken by system:cycle
        2026-03-14 ACME case.updated stage=early
        2026-03-15 ACME step.executed call-broken
    """)
    seen = len(s.log)
    s.run("2026-03-15")  # the same day again writes nothing
    assert len(s.log) == seen


def test_plan_completed(on_sqlite: Scenario) -> None:
    """A down payment of 150.00 on 10 February and three monthly instalments of 250.00; the
    last one paid two days late (within the grace) completes the plan, and the case closes."""
    s = on_sqlite
    s.run("2026-02-01")
    agreements.accept_plan(s.uow(), ANA, portfolio="default", debtor="ACME", policy=PARSED,
                           on=d("2026-02-03"), at=AT, first_on=d("2026-02-10"), instalments=3,
                           down=Decimal("150.00"))  # fmt: skip
    s.did("2026-02-03")
    s.run("2026-02-03")
    s.pay("2026-02-10", "P1", "150.00")
    s.run("2026-02-10")
    s.pay("2026-03-09", "P2", "250.00")
    s.pay("2026-04-10", "P3", "250.00")
    s.run("2026-04-10", "2026-05-11")
    s.pay("2026-05-12", "P4", "250.00")
    s.run("2026-05-12")
    assert s.log == golden("""
        2026-02-01 ACME case.opened stage=early
        2026-02-01 ACME step.executed notice
        2026-02-03 ACME plan.accepted by user:ana
        2026-02-03 ACME case.updated stage=early paused_by=plan
        2026-02-10 ACME pays 150.00
        2026-02-10 ACME plan.instalment_paid #0
        2026-03-09 ACME pays 250.00
        2026-04-10 ACME pays 250.00
        2026-04-10 ACME plan.instalment_paid #1
        2026-04-10 ACME plan.instalment_paid #2
        2026-05-12 ACME pays 250.00
        2026-05-12 ACME plan.instalment_paid #3
        2026-05-12 ACME plan.completed by system:cycle
        2026-05-12 ACME case.closed stage=clear
    """)


def test_settlement_accepted_and_paid(scenario: Scenario) -> None:
    """25 % off is beyond the policy's 20 %: a manager approves it, the debtor accepts, pays
    675.00 before the expiry: the remaining 225.00 is written off ("settlement discount") and
    the case closes."""
    s = scenario
    s.run("2026-02-01")
    offered = settlements.offer_settlement(
        s.uow(), ANA, portfolio="default", debtor="ACME", policy=PARSED,
        discount=Decimal(25), expires_on=d("2026-02-20"), on=d("2026-02-05"), at=AT,
    )  # fmt: skip
    assert offered.status == "awaiting_approval" and offered.amount_minor == 67500
    with pytest.raises(NotAllowed):
        settlements.approve_settlement(
            s.uow(), ANA, offered.settlement_id, on=d("2026-02-05"), at=AT
        )
    settlements.approve_settlement(s.uow(), MAX, offered.settlement_id, on=d("2026-02-05"), at=AT)
    s.did("2026-02-05")
    settlements.accept_settlement(s.uow(), ANA, offered.settlement_id, on=d("2026-02-06"), at=AT)
    s.did("2026-02-06")
    s.run("2026-02-06")
    s.pay("2026-02-15", "P1", "675.00")
    s.run("2026-02-15", "2026-02-16")
    assert s.log == golden("""
        2026-02-01 ACME case.opened stage=early
        2026-02-01 ACME step.executed notice
        2026-02-05 ACME settlement.offered by user:ana
        2026-02-05 ACME settlement.approved by user:max
        2026-02-06 ACME settlement.accepted by user:ana
        2026-02-06 ACME case.updated stage=early paused_by=plan
        2026-02-15 ACME pays 675.00
        2026-02-15 ACME write_off.posted INV-1 225.00 (settlement discount) by system:cycle
        2026-02-15 ACME settlement.paid by system:cycle
        2026-02-15 ACME case.closed stage=clear
    """)


def test_settlement_expired(on_sqlite: Scenario) -> None:
    """Accepted, not paid by its expiry: it lapses the day after, and collection resumes."""
    s = on_sqlite
    s.run("2026-02-01")
    offered = settlements.offer_settlement(
        s.uow(), ANA, portfolio="default", debtor="ACME", policy=PARSED,
        discount=Decimal(10), expires_on=d("2026-02-20"), on=d("2026-02-05"), at=AT,
    )  # fmt: skip
    s.did("2026-02-05")
    settlements.accept_settlement(s.uow(), ANA, offered.settlement_id, on=d("2026-02-06"), at=AT)
    s.did("2026-02-06")
    s.run("2026-02-06")
    s.pay("2026-02-18", "P1", "500.00")
    s.run("2026-02-20", "2026-02-21")
    assert s.log == golden("""
        2026-02-01 ACME case.opened stage=early
        2026-02-01 ACME step.executed notice
        2026-02-05 ACME settlement.offered by user:ana
        2026-02-06 ACME settlement.accepted by user:ana
        2026-02-06 ACME case.updated stage=early paused_by=plan
        2026-02-18 ACME pays 500.00
        2026-02-21 ACME settlement.lapsed by system:cycle
        2026-02-21 ACME case.updated stage=early
        2026-02-21 ACME step.executed call
    """)


# Disputes ---------------------------------------------------------------------------------------


def test_dispute_upheld_only_the_disputed_invoice_leaves_collection(scenario: Scenario) -> None:
    """ACME also owes INV-2, 300.00 due 10 February. On 3 February it disputes INV-1 (the
    policy's default, disputes.pause: invoices): INV-1 leaves collection; with nothing else
    overdue the case keeps its stage, paused by the dispute. On 11 February INV-2 is overdue:
    collection resumes on it alone (the call task's amount is INV-2's). On 16 February the
    manager upholds the dispute with a credit note of 400.00 on INV-1: the rest of INV-1 (500.00)
    returns to collection."""
    s = scenario
    with s.engine.begin() as conn:
        Book(conn).invoice("INV-2", "ACME", ("2026-02-10", "300.00"))
    s.seen = s._last_id()
    s.run("2026-02-01")
    opened = disputes.open_dispute(
        s.uow(), ANA, portfolio="default", invoices=["INV-1"], reason="wrong_amount",
        note="the order was for 500.00", owner="user:max", due_on=d("2026-02-17"),
        on=d("2026-02-03"), at=AT,
    )  # fmt: skip
    s.did("2026-02-03")
    s.run("2026-02-03", "2026-02-11", "2026-02-15")
    features = decided(s, "2026-02-15")
    assert (features["overdue_balance"], features["overdue_invoices"]) == (Decimal(300), 1)
    disputes.resolve(
        s.uow(), MAX, opened.dispute_id, outcome="upheld", credit={"INV-1": Decimal(400)},
        note="priced at the old list", on=d("2026-02-16"), at=AT,
    )  # fmt: skip
    s.did("2026-02-16")
    s.run("2026-02-16", "2026-02-21")
    features = decided(s, "2026-02-21")
    assert (features["overdue_balance"], features["overdue_invoices"]) == (Decimal(800), 2)
    assert s.log == golden("""
        2026-02-01 ACME case.opened stage=early
        2026-02-01 ACME step.executed notice
        2026-02-03 ACME dispute.opened invoices=['INV-1'] reason=wrong_amount by user:ana
        2026-02-03 ACME case.updated stage=early paused_by=dispute
        2026-02-11 ACME case.updated stage=early
        2026-02-16 ACME credit_note.issued dispute:default:INV-1:2026-02-16 400.00
        2026-02-16 ACME dispute.upheld invoices=['INV-1'] credit={'INV-1': '400.00'} by user:max
        2026-02-21 ACME step.executed call
    """)


def test_dispute_rejected_with_the_whole_case_paused(on_sqlite: Scenario) -> None:
    """Under disputes.pause: case, the dispute pauses the whole case; rejected on 10 February,
    the invoice returns to collection and the case resumes where it was (the call the next
    time it comes due)."""
    s = on_sqlite
    s.policy = compile_policy(PARSED.model_copy(update={"disputes": Disputes(pause="case")}))
    s.run("2026-02-01")
    opened = disputes.open_dispute(
        s.uow(), ANA, portfolio="default", invoices=["INV-1"], reason="not_received",
        on=d("2026-02-03"), at=AT,
    )  # fmt: skip
    s.did("2026-02-03")
    s.run("2026-02-03", "2026-02-09")
    with pytest.raises(ProblemsFound) as refused:
        disputes.resolve(s.uow(), ANA, opened.dispute_id, outcome="rejected",
                         credit={"INV-1": Decimal(1)}, on=d("2026-02-10"), at=AT)  # fmt: skip
    assert [p.message for p in refused.value.problems] == [
        "a rejected dispute posts no credit note"
    ]
    disputes.resolve(s.uow(), ANA, opened.dispute_id, outcome="rejected",
                     note="signed delivery note", on=d("2026-02-10"), at=AT)  # fmt: skip
    s.did("2026-02-10")
    s.run("2026-02-10", "2026-02-21")
    assert s.log == golden("""
        2026-02-01 ACME case.opened stage=early
        2026-02-01 ACME step.executed notice
        2026-02-03 ACME dispute.opened invoices=['INV-1'] reason=not_received by user:ana
        2026-02-03 ACME case.updated stage=early paused_by=dispute
        2026-02-10 ACME dispute.rejected invoices=['INV-1'] by user:ana
        2026-02-10 ACME case.updated stage=early
        2026-02-21 ACME step.executed call
    """)


def decided(s: Scenario, day: str) -> dict[str, Any]:
    """ACME's features as the engine sees them on ``day`` (``arrears plan``'s dry run)."""
    from arrears.services.cycle import plan_cycle

    decisions = plan_cycle(s.uow(), system("cycle"), portfolio="default", as_of=d(day),
                           policy=s.policy)  # fmt: skip
    [row] = decisions.features.to_dicts()
    return row


# Agencies ---------------------------------------------------------------------------------------

PLACED_POLICY = POLICY.replace(
    "      - {id: call, offset: 20, action: call_task, priority: 2}\n",
    "      - {id: call, offset: 20, action: call_task, priority: 2}\n"
    "      - {id: reminder, offset: 22, action: send, channel: email, template: notice_overdue}\n"
    "      - {id: release, offset: 23, action: credit_release}\n"
    "      - {id: tell-owner, offset: 23, action: notify_owner}\n",
)


def test_a_placed_case_gets_no_in_house_contact_and_credit_stays_on_hold(
    on_sqlite: Scenario,
) -> None:
    """Placed with an agency on 5 February, the case's call task, email and credit release come
    due while it is placed: none runs (skipped, saying why), the debtor's credit stays on hold;
    the owner is still told (not a contact)."""
    s = on_sqlite
    parsed, _, problems = parse_policy(PLACED_POLICY, "placed.yaml")
    assert parsed is not None and not problems
    s.policy = compile_policy(parsed)
    s.run("2026-02-01")
    agencies.add_agency(s.uow(), system("admin"), "cobra", name="Cobra",
                        terms=Terms("flat", Decimal(20)), recall_after_days=None,
                        at=AT)  # fmt: skip
    agencies.place(s.uow(), MAX, "ACME", portfolio="default", agency="cobra",
                   on=d("2026-02-05"), at=AT)  # fmt: skip
    s.did("2026-02-05")
    s.run("2026-02-21", "2026-02-23", "2026-02-24")
    assert s.log == golden("""
        2026-02-01 ACME case.opened stage=early
        2026-02-01 ACME step.executed notice
        2026-02-23 ACME step.executed tell-owner
    """)
    with s.engine.connect() as conn:
        steps = conn.execute(
            select(
                schema.case_step.c.step_id, schema.case_step.c.status, schema.case_step.c.reason
            ).order_by(schema.case_step.c.step_id)
        ).all()
        credit = conn.execute(select(schema.debtor.c.credit_status)).scalar_one()
    assert [tuple(r) for r in steps] == [
        ("call", "skipped", "placed with agency cobra: the agency contacts the debtor"),
        ("notice", "executed", "came due"),
        ("release", "skipped", "placed with agency cobra: credit stays on hold"),
        ("reminder", "skipped", "placed with agency cobra: the agency contacts the debtor"),
        ("tell-owner", "executed", "came due"),
    ]
    assert credit == "on_hold"
