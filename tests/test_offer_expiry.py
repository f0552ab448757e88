"""The cycle's plan and settlement offers expire, through the command line: a settlement offer
after its step's ``expires_after_days``, a plan offer (its step has no expiry) after the
policy's ``payment_plans.offer_expires_days``; an expired offer is logged (``offer.expired``)
and ``arrears offer list`` no longer shows it as open."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from arrears.store import schema
from arrears.store.database import connect
from test_cycle_cli import reachable, run
from test_ledger_support import cli_workspace

POLICY = """
policy: offers
stages:
  - {name: clear}
  - {name: early, when: days_past_due >= 1}
segments:
  - {name: all}
cadences:
  - stage: early
    steps:
      - {id: plan-offer, offset: 5, action: payment_plan_offer, instalments: 3,
         min_instalment: 100}
      - {id: settle-offer, offset: 10, action: settlement_offer, max_discount: 10,
         expires_after_days: 5}
payment_plans: {offer_expires_days: 7}
contact_rules:
  default: {hours: {sun: {start: "08:00", end: "20:00"}}, caps: [], holidays_closed: false}
"""


@pytest.fixture
def ws(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    owing = [(reachable("ACME", "+12125550400"), "I-1", "900.00")]
    root = cli_workspace(tmp_path / "ws", "offers.yaml", POLICY, owing)
    capsys.readouterr()
    return root


def offers(ws: Path, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, list[str]]:
    capsys.readouterr()
    assert run(ws, "offer", "list", "--format", "json", *args) == 0
    return {o["kind"]: [o["status"], o["expires"]] for o in json.loads(capsys.readouterr().out)}


def test_offers_expire_and_are_logged(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for day in ("2026-02-01", "2026-02-05", "2026-02-06", "2026-02-10", "2026-02-12"):
        assert run(ws, "run", "--as-of", day, "--policy", str(ws / "offers.yaml")) == 0
    assert offers(ws, capsys) == {
        "payment plan": ["open", "2026-02-12"],  # made 5 Feb, 7 days
        "settlement": ["open", "2026-02-15"],  # made 10 Feb, its step's 5 days
    }
    assert run(ws, "run", "--as-of", "2026-02-13", "--policy", str(ws / "offers.yaml")) == 0
    assert offers(ws, capsys) == {"settlement": ["open", "2026-02-15"]}
    assert run(ws, "run", "--as-of", "2026-02-16", "--policy", str(ws / "offers.yaml")) == 0
    assert offers(ws, capsys) == {}
    assert offers(ws, capsys, "--all") == {
        "payment plan": ["expired", "2026-02-12"],
        "settlement": ["expired", "2026-02-15"],
    }
    capsys.readouterr()
    assert run(ws, "offer", "list") == 0
    assert "no open offers" in capsys.readouterr().out
    engine = connect(f"sqlite:///{ws / 'arrears.db'}")
    with engine.connect() as conn:
        logged = conn.execute(
            select(schema.activity.c.payload).where(schema.activity.c.kind == "offer.expired")
        ).scalars()
        said = sorted((p["kind"], p["on"]) for p in logged)
    engine.dispose()
    assert said == [("payment_plan", "2026-02-13"), ("settlement", "2026-02-16")]
