"""An imported backlog's first run, through the front door (``arrears import``, ``plan``, ``run``,
``approve-waiting``) with the shipped B2B policy, on SQLite and PostgreSQL: the cases already past
the agency stage's threshold wait for approval instead of being placed on day one, and their
credit is held."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from arrears.cli.app import main
from arrears.store import schema
from arrears.store.database import connect

DEBTORS = """\
debtor_id,name,kind,country,timezone,language,currency,email,credit_status
OLD,Old Backlog Inc.,company,US,America/New_York,en,USD,ap@old.example.com,active
ANCIENT,Ancient Debts LLC,company,US,America/New_York,en,USD,ap@ancient.example.com,active
RECENT,Recent Trading Co.,company,US,America/New_York,en,USD,ap@recent.example.com,active
"""
# on 1 June 2026: OLD is 100 days past due (the agency stage), ANCIENT 200 days with 30,000
# overdue (agency and legal), RECENT 10 days (early)
INVOICES = """\
invoice_id,debtor_id,issue_date,due_date,amount,currency
I-OLD,OLD,2026-01-22,2026-02-21,5000.00,USD
I-ANCIENT,ANCIENT,2025-10-14,2025-11-13,30000.00,USD
I-RECENT,RECENT,2026-04-22,2026-05-22,800.00,USD
"""
DAY, NEXT = "2026-06-01", "2026-06-02"


@pytest.fixture
def ws(tmp_path: Path, store_url: str, capsys: pytest.CaptureFixture[str]) -> Path:
    """A workspace on SQLite or PostgreSQL (``store_url``) with the backlog imported."""
    root = tmp_path / "ws"
    assert main(["init", str(root), "--database-url", store_url]) == 0
    (tmp_path / "debtors.csv").write_text(DEBTORS)
    (tmp_path / "invoices.csv").write_text(INVOICES)
    for kind in ("debtors", "invoices"):
        assert run(root, "import", kind, str(tmp_path / f"{kind}.csv")) == 0
    capsys.readouterr()
    return root


def run(ws: Path, *args: str) -> int:
    return main(["-w", str(ws), *args])


def state(url: str) -> dict[str, tuple[str, str | None, str | None, str]]:
    """Each debtor's case: (stage, awaiting approval, agency, credit status)."""
    engine = connect(url)
    c, d = schema.collection_case, schema.debtor
    with engine.connect() as conn:
        rows = conn.execute(
            select(d.c.external_id, c.c.stage, c.c.awaiting_approval, c.c.agency, d.c.credit_status)
            .join(c, c.c.debtor_id == d.c.id)
            .where(c.c.closed_on.is_(None))
        ).all()
    engine.dispose()
    return {r[0]: tuple(r[1:]) for r in rows}  # type: ignore[misc]


def executed(url: str, step_id: str) -> int:
    engine = connect(url)
    s = schema.case_step
    with engine.connect() as conn:
        rows = conn.execute(
            select(s.c.id).where(s.c.step_id == step_id, s.c.status == "executed")
        ).all()
    engine.dispose()
    return len(rows)


def one_line(text: str) -> str:
    return " ".join(text.split())


def test_a_backlog_waits_for_approval_then_proceeds(
    ws: Path, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(ws, "plan", "--as-of", DAY) == 0
    out = one_line(capsys.readouterr().out)
    assert (
        "waiting for approval: 2 cases would enter agency (1) or legal (1) on their first "
        "run and wait for approval instead; after checking them, `arrears approve-waiting "
        "agency` lets them all proceed on the next run (`arrears approve DEBTOR agency`: one)"
    ) in out, out

    assert run(ws, "run", "--as-of", DAY, "--format", "json") == 0
    done = json.loads(capsys.readouterr().out)
    assert done["cases_opened"] == 3 and "waiting for approval" in done
    assert state(store_url) == {
        "OLD": ("pre_legal", "agency", None, "on_hold"),
        "ANCIENT": ("pre_legal", "legal", None, "on_hold"),
        "RECENT": ("early", None, None, "active"),
    }
    assert executed(store_url, "place-agency") == 0
    assert run(ws, "explain", "OLD", "--as-of", DAY) == 0
    out = one_line(capsys.readouterr().out)
    assert "awaiting_approval: agency" in out
    assert "(stays in pre_legal until a person approves: arrears approve OLD agency)" in out

    # a day later without approval: still waiting, nothing placed
    assert run(ws, "run", "--as-of", NEXT) == 0
    capsys.readouterr()
    assert executed(store_url, "place-agency") == 0

    assert run(ws, "approve-waiting", "agency", "--on", NEXT) == 0
    assert "entering 'agency' approved for 2 cases" in one_line(capsys.readouterr().out)
    assert run(ws, "approve-waiting", "agency", "--on", NEXT) == 0
    assert "approved for 0 cases" in capsys.readouterr().out

    assert run(ws, "run", "--as-of", "2026-06-03") == 0
    capsys.readouterr()
    assert state(store_url) == {
        "OLD": ("agency", None, "default_agency", "on_hold"),
        "ANCIENT": ("agency", "legal", "default_agency", "on_hold"),
        "RECENT": ("early", None, None, "active"),
    }
    assert executed(store_url, "place-agency") == 2


def test_one_case_approved_with_arrears_approve(
    ws: Path, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(ws, "run", "--as-of", DAY) == 0
    assert run(ws, "approve", "OLD", "agency", "--on", DAY) == 0
    assert run(ws, "run", "--as-of", NEXT) == 0
    out = one_line(capsys.readouterr().out)
    assert "waiting for approval: 1 case waits for approval to enter legal (1);" in out, out
    assert state(store_url)["OLD"][:3] == ("agency", None, "default_agency")
    assert state(store_url)["ANCIENT"][:3] == ("pre_legal", "legal", None)


def test_onboarding_proceed_places_the_backlog_on_the_first_run(
    ws: Path, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = ws / "policies" / "b2b.yaml"
    text = policy.read_text()
    assert "escalations: approve" in text
    policy.write_text(text.replace("escalations: approve", "escalations: proceed"))
    assert main(["policy", "check", str(policy)]) == 0
    assert run(ws, "plan", "--as-of", DAY) == 0
    assert "waiting for approval" not in capsys.readouterr().out
    assert run(ws, "run", "--as-of", DAY) == 0
    assert state(store_url) == {
        "OLD": ("agency", None, "default_agency", "on_hold"),
        "ANCIENT": ("agency", "legal", "default_agency", "on_hold"),
        "RECENT": ("early", None, None, "active"),
    }
    assert executed(store_url, "place-agency") == 2
