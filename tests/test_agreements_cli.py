"""``arrears payment-plan`` and ``arrears settlement`` as a user runs them, on SQLite and
PostgreSQL: the calculator honours the policy's minimum instalment, a plan beyond the limits
waits for a manager's approval, bad input is reported all at once, every change is in the
activity log with its actor; and the roles the use cases check."""

from __future__ import annotations

import getpass
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from arrears.cli.app import main
from arrears.domain.actor import Actor, Role
from arrears.domain.errors import NotAllowed
from arrears.services.arrangements import agreements
from arrears.services.uow import SqlUnitOfWork
from arrears.store import schema
from arrears.store.database import connect
from test_agreements_scenarios import PARSED, POLICY
from test_ledger_support import AT, Book


@pytest.fixture
def ws(tmp_path: Path, store_url: str, capsys: pytest.CaptureFixture[str]) -> Path:
    """SMALL owes 34.55 USD and BIG 900.00 USD, both due 31 January 2026; the policy's plans
    are at most 6 instalments of at least 100.00, settlements at most 20 % off."""
    root = tmp_path / "ws"
    assert main(["init", str(root), "--database-url", store_url]) == 0
    (root / "policy.yaml").write_text(POLICY)
    engine = connect(store_url)
    with engine.begin() as conn:
        book = Book(conn)
        book.debtor("SMALL")
        book.debtor("BIG")
        book.invoice("INV-S", "SMALL", ("2026-01-31", "34.55"))
        book.invoice("INV-B", "BIG", ("2026-01-31", "900.00"))
    engine.dispose()
    (root / "url").write_text(store_url)
    capsys.readouterr()
    return root


def run(ws: Path, *args: str) -> int:
    return main(
        ["-w", str(ws), *args, *(["--policy", str(ws / "policy.yaml")] if _needs(args) else [])]
    )


def _needs(args: tuple[str, ...]) -> bool:
    return args[:2] in (
        ("payment-plan", "quote"),
        ("payment-plan", "accept"),
        ("settlement", "offer"),
    )


def activity(ws: Path) -> list[tuple[str, str]]:
    engine = connect((ws / "url").read_text())
    with engine.connect() as conn:
        rows = conn.execute(select(schema.activity.c.kind, schema.activity.c.actor)).all()
    engine.dispose()
    return [(str(k), str(a)) for k, a in rows if str(k).startswith(("plan.", "settlement."))]


def test_the_calculator_keeps_to_the_minimum_instalment(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    quote = ["payment-plan", "quote", "SMALL", "--due", "2026-02-10", "--on", "2026-02-03"]
    assert run(ws, *quote) == 0
    out = capsys.readouterr().out
    # at most one payment on a balance below the minimum instalment, and a manager must agree
    assert "34.55" in out and "in 1 payments (monthly)" in out
    assert "instalments of 34.55 USD: the policy's minimum instalment is 100.00 USD" in out
    assert run(ws, *quote, "--instalments", "3") == 0  # what the cycle's offer used to say
    out = " ".join(capsys.readouterr().out.split())
    assert "11.51" in out and "11.53" in out  # 11.51 + 11.51 + 11.53 = 34.55
    assert "beyond the policy's limits (a manager must approve it):" in out
    assert "instalments of 11.51 USD: the policy's minimum instalment is 100.00 USD" in out
    assert run(ws, "payment-plan", "quote", "BIG", "--due", "2026-02-10", "--on",
               "2026-02-03", "--format", "json") == 0  # fmt: skip
    schedule = json.loads(capsys.readouterr().out)  # as many as the limits allow: 6
    assert [(r["due"], r["amount"]) for r in schedule] == [
        ("2026-02-10", "150.00"), ("2026-03-10", "150.00"), ("2026-04-10", "150.00"),
        ("2026-05-10", "150.00"), ("2026-06-10", "150.00"), ("2026-07-10", "150.00"),
    ]  # fmt: skip
    assert activity(ws) == []  # a quote writes nothing


def test_a_plan_beyond_the_limits_waits_for_approval(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    accept = ["payment-plan", "accept", "BIG", "--instalments", "12", "--every", "weekly",
              "--due", "2026-02-10", "--on", "2026-02-03"]  # fmt: skip
    assert run(ws, *accept) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "12 instalments: the policy allows at most 6" in out
    assert "a weekly plan: the policy allows monthly" in out
    assert (
        "plan 1: BIG accepted; awaiting a manager's approval (arrears payment-plan approve 1)"
        in out
    )
    assert run(ws, *accept) == 0  # the same acceptance again: nothing new
    assert "plan 1 was accepted before: nothing changed" in capsys.readouterr().out
    assert run(ws, "payment-plan", "list", "--format", "json") == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert (listed["debtor"], listed["status"], listed["payments"]) == (
        "BIG",
        "awaiting approval",
        12,
    )
    assert run(ws, "payment-plan", "approve", "1", "--on", "2026-02-04") == 0
    assert "plan 1 approved: active, the case is paused" in capsys.readouterr().out
    assert run(ws, "payment-plan", "show", "1") == 0
    out = capsys.readouterr().out
    assert "plan 1: BIG, active" in out and "2026-04-28" in out and "75.00" in out
    assert run(ws, "payment-plan", "show", "7") == 1
    assert "plan 7: no such plan" in capsys.readouterr().err
    assert run(ws, *accept[:3], "--on", "2026-02-05") == 1  # a second live plan
    assert "BIG has plan 1 in USD (active): cancel it first" in capsys.readouterr().err
    assert run(ws, "payment-plan", "cancel", "1", "--reason", "paid by the parent company",
               "--on", "2026-02-06") == 0  # fmt: skip
    me = f"cli:{getpass.getuser()}"
    assert activity(ws) == [
        ("plan.awaiting_approval", me),
        ("plan.approved", me),
        ("plan.cancelled", me),
    ]


def test_bad_input_is_reported_all_at_once(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = ["payment-plan", "accept", "BIG", "--every", "yearly", "--down", "-5",
           "--due", "2026-01-01", "--on", "2026-02-03", "--instalments", "0"]  # fmt: skip
    assert run(ws, *bad) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "unknown frequency 'yearly'" in err
    assert "the down payment must not be negative, not -5.00 USD" in err
    assert "the first date 2026-01-01 is before the day of the quote 2026-02-03" in err
    assert "the number of instalments must be 1 to 360, not 0" in err
    assert run(ws, "payment-plan", "quote", "NOPE") == 1
    assert "unknown debtor 'NOPE'" in capsys.readouterr().err
    offer = ["settlement", "offer", "BIG", "--discount", "100", "--due", "2026-02-01",
             "--on", "2026-02-05"]  # fmt: skip
    assert run(ws, *offer) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "the discount must be more than 0 and less than 100 %, not 100" in err
    assert "it expires on 2026-02-01, before it is offered (2026-02-05)" in err
    assert activity(ws) == []


def test_settlement_offer_approve_accept_list(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    offer = ["settlement", "offer", "BIG", "--discount", "30", "--due", "2026-02-20",
             "--on", "2026-02-05"]  # fmt: skip
    assert run(ws, *offer) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert (
        "settlement 1: BIG pays 630.00 USD (30 % off 900.00) by 2026-02-20: awaiting approval"
        in out
    )
    assert "beyond the policy's limits: a discount of 30 %: the policy allows at most 20 %" in out
    assert run(ws, "settlement", "accept", "1", "--on", "2026-02-06") == 1
    assert "needs a manager's approval first" in capsys.readouterr().err
    assert run(ws, "settlement", "approve", "1", "--on", "2026-02-05") == 0
    assert run(ws, "settlement", "accept", "1", "--on", "2026-02-06") == 0
    assert "by 2026-02-20: accepted" in capsys.readouterr().out.split("\n")[-2]
    assert run(ws, "settlement", "list", "--format", "json") == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert (listed["status"], listed["pays"], listed["discount"]) == (
        "accepted",
        "630.00 USD",
        "30 %",
    )
    kinds = [k for k, _ in activity(ws)]
    assert kinds == ["settlement.offered", "settlement.approved", "settlement.accepted"]
    # stored and logged as written, not in exponent form ("3E+1")
    engine = connect((ws / "url").read_text())
    with engine.connect() as conn:
        logged = conn.execute(
            select(schema.activity.c.payload).where(schema.activity.c.kind == "settlement.offered")
        ).scalar_one()
    engine.dispose()
    assert logged["discount"] == "30", logged


def test_a_collector_may_not_approve(ws: Path) -> None:
    engine = connect((ws / "url").read_text())
    ana = Actor("user:ana", Role.COLLECTOR)
    done = agreements.accept_plan(
        SqlUnitOfWork(engine), ana, portfolio="default", debtor="BIG", policy=PARSED,
        on=date(2026, 2, 3), at=AT, instalments=9,
    )  # fmt: skip
    assert done.status == "awaiting_approval"
    with pytest.raises(NotAllowed, match="user:ana \\(collector\\) may not approve a payment plan"):
        agreements.approve_plan(
            SqlUnitOfWork(engine), ana, done.plan_id, on=date(2026, 2, 3), at=AT
        )
    engine.dispose()


def test_a_plan_fee_is_posted_as_an_invoice_due_with_the_last_instalment(ws: Path) -> None:
    engine = connect((ws / "url").read_text())
    plans = PARSED.payment_plans.model_copy(update={"fee": Decimal(2)})
    policy = PARSED.model_copy(update={"payment_plans": plans})
    done = agreements.accept_plan(
        SqlUnitOfWork(engine), Actor("user:ana", Role.COLLECTOR), portfolio="default",
        debtor="BIG", policy=policy, on=date(2026, 2, 3), at=AT, instalments=3,
        first_on=date(2026, 2, 10),
    )  # fmt: skip
    assert [r.amount_minor for r in done.quote.terms.schedule] == [30600, 30600, 30600]
    with engine.connect() as conn:
        fee = conn.execute(
            select(schema.invoice.c.external_id, schema.invoice.c.amount_minor).where(
                schema.invoice.c.external_id.like("PLANFEE-%")
            )
        ).all()
        due = conn.execute(
            select(schema.instalment.c.due_date)
            .join(schema.invoice, schema.invoice.c.id == schema.instalment.c.invoice_id)
            .where(schema.invoice.c.external_id == "PLANFEE-BIG-USD-20260203")
        ).scalar_one()
    engine.dispose()
    assert [tuple(r) for r in fee] == [("PLANFEE-BIG-USD-20260203", 1800)]
    assert str(due) == "2026-04-10"


def test_a_debtor_may_accept_a_plan_on_their_own_account_only(ws: Path) -> None:
    engine = connect((ws / "url").read_text())

    def accept(who: str) -> agreements.PlanRecorded:
        return agreements.accept_plan(
            SqlUnitOfWork(engine), Actor(who, Role.DEBTOR), portfolio="default", debtor="BIG",
            policy=PARSED, on=date(2026, 2, 3), at=AT, instalments=3,
        )  # fmt: skip

    with pytest.raises(NotAllowed, match="debtor:SMALL"):
        accept("debtor:SMALL")
    assert accept("debtor:BIG").status == "active"
    engine.dispose()
    assert activity(ws) == [("plan.accepted", "debtor:BIG")]
