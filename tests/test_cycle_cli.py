"""``arrears plan / run / explain`` as a user runs them, on a real SQLite workspace with the
shipped B2B policy (examples/policies/b2b.yaml)."""

from __future__ import annotations

import email
import json
import subprocess
import sys
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from subprocess import PIPE

import pytest
from sqlalchemy import func, select

from arrears.cli.app import main
from arrears.domain.ledger import Channel, Consent, ContactKind, ContactPoint, Debtor, DebtorKind
from arrears.store import schema
from arrears.store.database import connect
from arrears.store.ledger import cases as ledger
from test_ledger_support import ACTOR, AT, Book


def reachable(external_id: str, phone: str, tags: tuple[str, ...] = ()) -> Debtor:
    """A US company with an email address and a phone number (consent not recorded)."""
    points = (
        ContactPoint(ContactKind.EMAIL, f"{external_id.lower()}@example.com"),
        ContactPoint(ContactKind.PHONE, phone, {Channel.CALL: Consent.GRANTED}),
    )
    return Debtor(
        external_id, f"Debtor {external_id}", DebtorKind.COMPANY, "US", "USD",
        "America/New_York", "en", contacts=points, tags=tags,
    )  # fmt: skip


@pytest.fixture
def ws(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """D1 owes 1,000 USD due 31 Jan; D2 (a key account) owes 60,000 USD due 1 Jan."""
    root = tmp_path / "ws"
    assert main(["init", str(root)]) == 0
    engine = connect(f"sqlite:///{root / 'arrears.db'}")
    with engine.begin() as conn:
        book = Book(conn)
        ledger.add_debtor(conn, reachable("D1", "+12125550101"), actor=ACTOR, at=AT)
        ledger.add_debtor(
            conn, reachable("D2", "+12125550102", ("forbearance",)), actor=ACTOR, at=AT
        )
        book.invoice("I1", "D1", ("2026-01-31", "1000.00"))
        book.invoice("I2", "D2", ("2026-01-01", "60000.00"), issued="2025-12-01")
    engine.dispose()
    capsys.readouterr()
    return root


def run(ws: Path, *args: str) -> int:
    return main(["-w", str(ws), *args])


def count(ws: Path, table: object) -> int:
    engine = connect(f"sqlite:///{ws / 'arrears.db'}")
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(table)).scalar_one()  # type: ignore[arg-type]
    engine.dispose()
    return int(n)


def test_plan_changes_nothing_run_commits_once_and_explain_says_why(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(ws, "plan", "--as-of", "2026-02-01", "--format", "json") == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["case_changes"] == {"open": 2}
    assert count(ws, schema.collection_case) == 0 and count(ws, schema.case_step) == 0

    assert run(ws, "run", "--as-of", "2026-02-01", "--format", "json") == 0
    done = json.loads(capsys.readouterr().out)
    # D1's first notice; D2, first seen at 31 days, has its credit held on entering the stage
    assert done["cases_opened"] == 2 and done["steps_executed"] == 2
    cases, steps, outbox = (
        count(ws, schema.collection_case),
        count(ws, schema.case_step),
        count(ws, schema.outbox),
    )
    assert (cases, outbox) == (2, 1)  # D1's first notice; D2 is a key account at 31 days
    engine = connect(f"sqlite:///{ws / 'arrears.db'}")
    with engine.connect() as conn:
        send_at, pack = conn.execute(
            select(schema.outbox.c.send_at, schema.outbox.c.rule_pack)
        ).one()
    engine.dispose()
    # 1 Feb 2026 is a Sunday: the default pack defers it to Monday 08:00 in New York (13:00 UTC)
    assert (send_at.replace(tzinfo=None), pack) == (datetime(2026, 2, 2, 13, 0), "default")

    assert run(ws, "run", "--as-of", "2026-02-01") == 0
    again = " ".join(capsys.readouterr().out.split())
    assert "nothing new to write" in again and "nothing written" in again
    assert "cases written: 0 opened, 0 reopened, 0 changed stage, 0 closed" in again
    assert "steps" not in again  # the steps were written by the first run, not this one
    assert (count(ws, schema.case_step), count(ws, schema.outbox)) == (steps, outbox)

    assert run(ws, "explain", "D1", "--as-of", "2026-02-01", "--format", "json") == 0
    [d1] = json.loads(capsys.readouterr().out)
    assert (d1["segment"], d1["stage"]) == ("standard", "early")
    assert d1["stage_rule"] == "days_past_due between 1 and 30"
    assert d1["features"]["days_past_due"] == "1" and d1["features"]["overdue_balance"] == "1000"
    status = {s["step_id"]: s["status"] for s in d1["steps"]}
    assert status["notice-1"] == "done (executed)" and status["notice-7"] == "pending"

    assert run(ws, "plan", "--debtor", "D2", "--as-of", "2026-02-01") == 0
    out = capsys.readouterr().out
    assert "segment: key_accounts" in out and "rule: coalesce(balance_ref, balance) >= 50000" in out


def test_a_week_later_the_next_notice_and_call_tasks_come_due(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(ws, "run", "--as-of", "2026-02-01") == 0
    capsys.readouterr()
    assert run(ws, "run", "--as-of", "2026-02-11", "--format", "json") == 0
    later = json.loads(capsys.readouterr().out)
    assert later["tasks"] >= 1  # D2's call task (overdue >= 10,000)
    assert run(ws, "worklist", "--format", "json") == 0
    tasks = json.loads(capsys.readouterr().out)
    assert tasks and tasks[0]["debtor"] == "D2"
    assert tasks[0]["flags"].strip() == "forbearance"  # shown to the collector (UK FCA)
    assert tasks[0]["not_before"].startswith("2026-02-11")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--as-of", "2026-02-30"], "--as-of '2026-02-30' is not a date"),
        (["plan", "--policy", "nowhere.yaml"], "policy file nowhere.yaml not found"),
        (["plan", "--portfolio", "nope"], "nope"),
        (["explain", "NOBODY", "--as-of", "2026-02-01"], "no debtor 'NOBODY'"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(
    ws: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert run(ws, *args) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_policy_with_problems_is_refused_before_anything_runs(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = ws / "policies" / "bad.yaml"
    bad.write_text(
        (ws / "policies" / "b2b.yaml").read_text().replace("days_past_due >= 90", "dpd >= 90")
    )
    assert run(ws, "run", "--as-of", "2026-02-01", "--policy", str(bad)) == 1
    assert "does not pass 'arrears policy check'" in capsys.readouterr().err
    assert count(ws, schema.collection_case) == 0


def test_runs_go_forward_in_time_but_any_day_can_be_planned(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(ws, "run", "--as-of", "2026-02-11") == 0
    capsys.readouterr()
    steps = count(ws, schema.case_step)
    assert run(ws, "run", "--as-of", "2026-02-01") == 1
    assert "has already run for 2026-02-11, after 2026-02-01" in capsys.readouterr().err
    assert count(ws, schema.case_step) == steps
    assert run(ws, "plan", "--as-of", "2026-02-01") == 0


def test_workspace_rates_rank_cases_across_currencies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """4,000 MXN (about 235 USD) must not outrank 1,000 EUR: the shipped policies' priority
    reads the *_ref features, in the common unit of the workspace's [rates]."""
    from arrears.config import load
    from arrears.domain.actor import system
    from arrears.services.cycle import load_compiled, plan_cycle
    from arrears.services.uow import SqlUnitOfWork

    root = tmp_path / "fx"
    assert main(["init", str(root)]) == 0
    engine = connect(f"sqlite:///{root / 'arrears.db'}")
    with engine.begin() as conn:
        book = Book(conn)
        for ext, currency in (("MX", "MXN"), ("EU", "EUR")):
            debtor = reachable(ext, "+12125550103")
            ledger.add_debtor(conn, replace(debtor, currency=currency), actor=ACTOR, at=AT)
        book.invoice("I-MX", "MX", ("2026-01-01", "4000.00"), currency="MXN", issued="2025-12-01")
        book.invoice("I-EU", "EU", ("2026-01-01", "1000.00"), currency="EUR", issued="2025-12-01")
    policy = load_compiled(root / "policies" / "b2b.yaml")
    capsys.readouterr()

    def priorities(rates: dict[str, Decimal]) -> dict[str, float]:
        cases = plan_cycle(
            SqlUnitOfWork(engine),
            system("cycle"),
            portfolio="default",
            as_of=date(2026, 2, 1),
            policy=policy,
            rates=rates,
        ).cases
        return dict(cases.select("currency", "priority").iter_rows())

    own = priorities({})
    assert own["MXN"] > own["EUR"]  # each in its own currency: the MXN case comes first
    assert run(root, "plan", "--as-of", "2026-02-01", "--format", "json") == 0
    warning = json.loads(capsys.readouterr().out)["warning"]
    assert warning.startswith("no [rates] rate for EUR, MXN in arrears.toml")

    with (root / "arrears.toml").open("a", encoding="utf-8") as out:
        out.write('\n[rates]\nEUR = 1.08\nMXN = "0.0588235"\n')
    ranked = priorities(load(root).rates)
    assert ranked["EUR"] > ranked["MXN"]
    assert ranked["EUR"] == pytest.approx(own["EUR"] * 1.08)
    assert run(root, "plan", "--as-of", "2026-02-01", "--format", "json") == 0
    assert "warning" not in json.loads(capsys.readouterr().out)
    engine.dispose()


def test_bad_rates_are_reported_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "fx"
    assert main(["init", str(root)]) == 0
    with (root / "arrears.toml").open("a", encoding="utf-8") as out:
        out.write('\n[rates]\neur = 1.08\nMXN = -2\nGBP = "1.1234567891"\nUSD = 1\nJPY = 1e30\n')
    capsys.readouterr()
    assert run(root, "config") == 1
    err = capsys.readouterr().err
    assert "[rates] eur = 1.08: not an ISO 4217 currency code" in err
    assert "[rates] MXN = -2: give a positive number" in err
    assert "[rates] GBP = '1.1234567891': at most 9 decimals" in err
    assert "[rates] JPY = 1e+30: at most 1,000,000,000" in err
    assert len(err.strip().splitlines()) == 1


def test_a_debtor_first_seen_on_a_notice_day_receives_one_notice(
    ws: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """D3, a consumer (Regulation F caps calls, not emails), is first seen on 3 Feb at 7 days
    past due: the day of notice-7. Notice-1 came due before its case opened; it is the same
    email: D3 receives one message that day, through `run` and `dispatch` into the file sink."""
    engine = connect(f"sqlite:///{ws / 'arrears.db'}")
    with engine.begin() as conn:
        d3 = replace(reachable("D3", "+12125550104"), kind=DebtorKind.PERSON)
        ledger.add_debtor(conn, d3, actor=ACTOR, at=AT)
        Book(conn).invoice("I3", "D3", ("2026-01-27", "700.00"), issued="2026-01-01")
    engine.dispose()
    assert run(ws, "run", "--as-of", "2026-02-03") == 0
    # the messages leave at 10:00 in New York, within the hours the contact rules allow
    monkeypatch.setenv("ARREARS_TEST_DISPATCH_NOW", "2026-02-03T15:00:00+00:00")
    assert run(ws, "dispatch", "--as-of", "2026-02-03") == 0
    capsys.readouterr()
    to_d3 = [
        message
        for path in (ws / "outbox").rglob("*")
        if path.is_file() and path.parent.name == "email"
        for message in [email.message_from_bytes(path.read_bytes())]
        if "d3@example.com" in str(message["To"])
    ]
    assert len(to_d3) == 1


def test_two_runs_at_once_one_writes_and_the_other_says_it_wrote_nothing(
    tmp_path: Path, store_url: str
) -> None:
    """Two `arrears run` processes for the same day on one workspace (SQLite: the second waits
    for the first's write lock, then finds everything done; PostgreSQL: it fails at once, or
    finds everything done). The one that wrote reports what the store holds; the other reports
    nothing opened and nothing written, or says another run is writing."""
    root = tmp_path / "ws"
    assert main(["init", str(root), "--database-url", store_url]) == 0
    engine = connect(store_url)
    with engine.begin() as conn:
        book = Book(conn)
        for n in range(40):
            ledger.add_debtor(conn, reachable(f"D{n}", f"+1212555{n:04}"), actor=ACTOR, at=AT)
            book.invoice(f"I{n}", f"D{n}", (f"2026-01-{1 + n % 28:02}", "1000.00"))
    arrears = Path(sys.executable).parent / "arrears"
    command = [str(arrears), "-w", str(root), "run", "--as-of", "2026-02-01", "--format", "json"]
    runs = [subprocess.Popen(command, stdout=PIPE, stderr=PIPE, text=True) for _ in range(2)]
    results = [(run.wait(120), *run.communicate()) for run in runs]
    with engine.connect() as conn:
        stored = {
            "cases_opened": conn.execute(select(func.count()).select_from(schema.collection_case)),
            "steps_executed": conn.execute(
                select(func.count()).where(schema.case_step.c.status == "executed")
            ),
            "outbox": conn.execute(select(func.count()).select_from(schema.outbox)),
        }
        store = {name: int(result.scalar_one()) for name, result in stored.items()}
    engine.dispose()
    assert store["cases_opened"] == 40
    reports = [json.loads(out) for code, out, _ in results if code == 0]
    refused = [err for code, _, err in results if code != 0]
    assert len(reports) + len(refused) == 2 and reports, results
    assert all("another cycle run for portfolio 'default' is writing" in e for e in refused)
    opened = [r.get("case_changes", {}).get("open", 0) for r in reports]
    assert sum(opened) == store["cases_opened"], opened  # no run reports cases it did not open
    winner = [r for r in reports if r.get("written", True) and r.get("cases_opened")]
    assert len(winner) == 1
    assert {k: winner[0][k] for k in store} == store
    for loser in (r for r in reports if r is not winner[0]):
        assert loser["written"] is False and loser["steps"] == []
        assert not any(loser[k] for k in store)
