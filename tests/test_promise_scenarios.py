"""Golden day-by-day scenarios of promises to pay on a real store (SQLite and PostgreSQL): a
promise of several dated amounts made through ``arrears promise add --pay`` (the front door),
the daily cycle run on the days that matter (``services.cycle.run_cycle``, as ``arrears run``
does) and the expected log beside it, one line ``<day> <debtor> <what happened>`` each: kept,
partly kept, broken; and a payment plan of three with one missed, accepted through
``arrears payment-plan accept``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from arrears.cli.app import main
from test_agreements_scenarios import Scenario, golden
from test_agreements_scenarios import describe as agreement_line


class PromiseScenario(Scenario):
    """ACME owes 900.00 USD due 31 January 2026; the policy's promise grace is 3 days and a
    broken (or partly kept) promise runs a priority-1 call the next day."""

    shown = ("case.", "step.executed", "plan.", "promise.", "task.")

    def line(self, row: Any) -> str:
        return describe(row)

    capsys: pytest.CaptureFixture[str]

    def cli(self, day: str, *args: str) -> str:
        """Run ``arrears ARGS`` as collector ana on ``day``; what it printed."""
        assert main(["-w", str(self.root), *args, "--on", day]) == 0
        self._record(day)
        return day


def describe(row: Any) -> str:
    kind, payload = str(row["kind"]), row["payload"]
    if kind == "promise.made":
        parts = payload.get("amounts") or [
            {"due_on": payload["due_on"], "amount": payload["amount"]}
        ]
        said = ", ".join(f"{p['amount']} by {p['due_on']}" for p in parts)
        return f"{kind} {said} by {row['actor'].split(':')[0]}"
    if kind in ("promise.kept", "promise.partial", "promise.broken"):
        return f"{kind} {payload['kept_percent']} % by {row['actor']}"
    if kind.startswith("plan.") and not kind.startswith("plan.instalment"):
        actor = str(row["actor"])
        return f"{kind} by {'cli' if actor.startswith('cli:') else actor}"
    return agreement_line(row)


@pytest.fixture
def scenario(tmp_path: Path, store_url: str) -> PromiseScenario:
    return PromiseScenario(tmp_path / "ws", store_url, "900.00")


@pytest.fixture
def on_sqlite(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> PromiseScenario:
    found = PromiseScenario(tmp_path / "ws", sqlite_url, "900.00")
    found.capsys = capsys
    return found


PROMISE = ("promise", "add", "ACME", "--pay", "2026-02-10=300.00", "--pay", "2026-02-20=600.00")


def test_promise_of_two_amounts_kept(scenario: PromiseScenario) -> None:
    s = scenario
    s.run("2026-02-01")
    s.cli("2026-02-03", *PROMISE)
    s.run("2026-02-03")
    s.pay("2026-02-09", "P1", "300.00")
    s.run("2026-02-10", "2026-02-15")
    s.pay("2026-02-20", "P2", "600.00")
    s.run("2026-02-20", "2026-02-24")
    assert s.log == golden("""
        2026-02-01 ACME case.opened stage=early
        2026-02-01 ACME step.executed notice
        2026-02-03 ACME promise.made 300.00 by 2026-02-10, 600.00 by 2026-02-20 by cli
        2026-02-03 ACME case.updated stage=early paused_by=promise
        2026-02-09 ACME pays 300.00
        2026-02-20 ACME pays 600.00
        2026-02-20 ACME case.closed stage=clear
        2026-02-24 ACME promise.kept 100.00 % by system:cycle
    """)


def test_promise_partly_kept(on_sqlite: PromiseScenario) -> None:
    s = on_sqlite
    s.run("2026-02-01")
    s.cli("2026-02-03", *PROMISE)
    s.run("2026-02-03")
    s.pay("2026-02-09", "P1", "300.00")
    s.run("2026-02-10", "2026-02-20", "2026-02-23", "2026-02-24", "2026-02-25")
    # paused until the last date plus 3 days' grace: found partly kept on the 24th, the case
    # resumes (its missed call runs) and the broken promise's call runs the next day
    assert s.log == golden("""
        2026-02-01 ACME case.opened stage=early
        2026-02-01 ACME step.executed notice
        2026-02-03 ACME promise.made 300.00 by 2026-02-10, 600.00 by 2026-02-20 by cli
        2026-02-03 ACME case.updated stage=early paused_by=promise
        2026-02-09 ACME pays 300.00
        2026-02-24 ACME case.updated stage=early
        2026-02-24 ACME step.executed call
        2026-02-24 ACME promise.partial 33.33 % by system:cycle
        2026-02-25 ACME step.executed call-broken
    """)
    capsys = s.capsys
    capsys.readouterr()
    assert main(["-w", str(s.root), "promise", "list", "--format", "json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert (listed["outcome"], listed["paid"], listed["due"]) == (
        "partial (33 %)",
        "300.00",
        "2026-02-20",
    )
    assert listed["amounts"] == "2026-02-10 300.00; 2026-02-20 600.00"


def test_promise_broken(on_sqlite: PromiseScenario) -> None:
    s = on_sqlite
    s.run("2026-02-01")
    s.cli("2026-02-03", *PROMISE)
    s.run("2026-02-03", "2026-02-11", "2026-02-23", "2026-02-24", "2026-02-25")
    assert s.log == golden("""
        2026-02-01 ACME case.opened stage=early
        2026-02-01 ACME step.executed notice
        2026-02-03 ACME promise.made 300.00 by 2026-02-10, 600.00 by 2026-02-20 by cli
        2026-02-03 ACME case.updated stage=early paused_by=promise
        2026-02-24 ACME case.updated stage=early
        2026-02-24 ACME step.executed call
        2026-02-24 ACME promise.broken 0.00 % by system:cycle
        2026-02-25 ACME step.executed call-broken
    """)


def test_plan_of_three_with_one_missed(on_sqlite: PromiseScenario) -> None:
    """``arrears payment-plan accept``: three monthly 300.00 from 10 February; the second is
    missed (found on 14 March, its date plus 3 days' grace), which breaks the plan; the case
    resumes and the on_broken_promise call runs the next day."""
    s = on_sqlite
    s.run("2026-02-01")
    s.cli("2026-02-03", "payment-plan", "accept", "ACME", "--instalments", "3",
          "--due", "2026-02-10", "--policy", str(s.root / "agreements.yaml"))  # fmt: skip
    s.run("2026-02-03")
    s.pay("2026-02-09", "P1", "300.00")
    s.run("2026-02-10", "2026-02-21", "2026-03-13", "2026-03-14", "2026-03-15")
    assert s.log == golden("""
        2026-02-01 ACME case.opened stage=early
        2026-02-01 ACME step.executed notice
        2026-02-03 ACME plan.accepted by cli
        2026-02-03 ACME case.updated stage=early paused_by=plan
        2026-02-09 ACME pays 300.00
        2026-02-10 ACME plan.instalment_paid #1
        2026-03-14 ACME plan.instalment_missed #2
        2026-03-14 ACME plan.broken by system:cycle
        2026-03-14 ACME case.updated stage=early
        2026-03-15 ACME step.executed call-broken
    """)


def test_a_bad_promise_is_refused_with_every_problem(on_sqlite: PromiseScenario) -> None:
    """Dated amounts above the balance, one before the promise, two on one day: all said at
    once, nothing recorded."""
    s = on_sqlite
    s.capsys.readouterr()
    bad = ["-w", str(s.root), "promise", "add", "ACME", "--pay", "2026-02-10=500",
           "--pay", "2026-02-10=300", "--pay", "2026-01-30=200", "--pay", "2026-02-20=-1",
           "--on", "2026-02-03"]  # fmt: skip
    assert main(bad) == 1
    err = " ".join(s.capsys.readouterr().err.split())
    assert "two amounts on 2026-02-10" in err
    assert "due date 2026-01-30 is before the day the promise was made (2026-02-03)" in err
    assert "the amount must be positive, not -1 (on 2026-02-20)" in err
    good_but_too_much = ["-w", str(s.root), "promise", "add", "ACME", "--pay", "2026-02-10=500",
                         "--pay", "2026-02-20=400.01", "--on", "2026-02-03"]  # fmt: skip
    assert main(good_but_too_much) == 1
    err = " ".join(s.capsys.readouterr().err.split())
    assert "the promise of 900.01 USD is more than ACME's open balance in USD (900.00 USD)" in err
    assert main(["-w", str(s.root), "promise", "list", "--format", "json"]) == 0
    assert json.loads(s.capsys.readouterr().out) == []
