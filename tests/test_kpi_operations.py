"""Right-party contact, plan completion, settlement acceptance, recovery by collector, stage
and agency (as of the period's start) and the cost to collect (docs/kpi.md, "Calls, plans,
settlements and the cost to collect"): the pure measures on a hand-computed small book, then
``arrears kpi --by ...`` and the dashboard over HTTP on a real store."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient

from arrears import config
from arrears.cli.app import main
from arrears.kpi.operations import (
    NOBODY,
    collectors,
    cost_figures,
    operation_figures,
    operation_rates,
)
from arrears.services.arrangements import settlements
from arrears.services.insight.kpi import parse_costs
from arrears.web import create_app
from test_agreements_scenarios import ANA, MAX, PARSED, Scenario, d
from test_dashboard_web import add_user, login, text_of
from test_ledger_support import AT

D = date


# The pure measures on a hand-computed book ------------------------------------------------

CALLS = pl.DataFrame(
    {
        "debtor_id": [1, 1, 2, 2, 3, 1],
        "on": [
            D(2026, 1, 20),
            D(2026, 2, 3),
            D(2026, 2, 4),
            D(2026, 2, 10),
            D(2026, 3, 2),
            D(2025, 12, 1),
        ],
        "actor": ["user:ana", "cli:bob", "user:ana", "user:ana", "user:bob", "user:eve"],
        "outcome": ["no_answer", "right_party", "promise", "no_answer", "refused", "spoke"],
        "currency": ["USD"] * 6,
    }
)
PLANS = pl.DataFrame(
    {
        "debtor_id": [1, 2, 3, 4],
        "currency": ["USD"] * 4,
        "status": ["completed", "broken", "expired", "active"],
        "active_on": [D(2026, 1, 5), D(2026, 2, 1), None, D(2026, 2, 20)],
        "ended_on": [D(2026, 2, 12), D(2026, 2, 25), D(2026, 2, 9), None],
    }
)
SETTLEMENTS = pl.DataFrame(
    {
        "debtor_id": [1, 2, 3],
        "currency": ["USD"] * 3,
        "status": ["paid", "expired", "lapsed"],
        "offered_on": [D(2026, 2, 1), D(2026, 1, 25), D(2026, 2, 2)],
        "accepted_on": [D(2026, 2, 2), None, D(2026, 2, 3)],
        "ended_on": [D(2026, 2, 10), D(2026, 2, 9), D(2026, 3, 5)],
    }
)
FEB = (D(2026, 2, 1), D(2026, 2, 28))


def test_operation_figures_by_hand() -> None:
    """February: 3 calls (debtor 1's right-party call, debtor 2's promise and no answer), 2
    right-party: 66.7 %. Plans: debtor 1's completed and debtor 2's broken ended in it (the
    expired one never started): completion 1 / 2. Settlements: debtor 1's and 3's accepted in
    it, debtor 2's expired unaccepted in it: acceptance 2 / 3; debtor 1's paid."""
    row = (
        operation_figures(CALLS, PLANS, SETTLEMENTS, *FEB)
        .with_columns(operation_rates())
        .row(0, named=True)
    )
    assert row["calls"] == 3 and row["right_party_calls"] == 2
    assert row["debtors_called"] == 2 and row["debtors_reached"] == 2
    assert row["right_party_contact_rate"] == pytest.approx(2 / 3)
    assert (row["plans_started"], row["plans_completed"], row["plans_failed"]) == (2, 1, 1)
    assert row["plan_completion_rate"] == 0.5
    assert row["settlements_offered"] == 2
    assert (row["settlements_accepted"], row["settlements_declined"]) == (2, 1)
    assert row["settlements_paid"] == 1
    assert row["settlement_acceptance_rate"] == pytest.approx(2 / 3)


def test_collector_is_who_called_last_within_the_window() -> None:
    """February: debtor 1's last call is bob's (02-03; eve's of 12-01 is more than 30 days
    before the start), debtor 2's ana's, debtor 3 was called after the period: nobody's."""
    found = dict(collectors(CALLS, *FEB).iter_rows())
    assert found == {1: "bob", 2: "ana"}
    assert NOBODY == "(not worked)"


def test_cost_figures_by_hand() -> None:
    """Two emails at 0.50 and one SMS at 0.10 (one email in March does not count), 3 calls of
    6 minutes at 30.00 an hour (3.00 each) and an agency commission of 12.00: 22.10 USD."""
    messages = pl.DataFrame(
        {
            "channel": ["email", "email", "sms", "email"],
            "sent_on": [D(2026, 2, 1), D(2026, 2, 2), D(2026, 2, 3), D(2026, 3, 1)],
            "currency": ["USD"] * 4,
        }
    )
    commissions = pl.DataFrame(
        {"currency": ["USD"], "collected_on": [D(2026, 2, 9)], "commission_minor": [1200]}
    )
    costs = {"email": Fraction(50), "sms": Fraction(10), "collector_hour": Fraction(3000)}
    found = cost_figures(messages, CALLS, commissions, *FEB, (), costs, "USD", Fraction(6))
    assert found.to_dicts() == [{"currency": "USD", "cost": 100 + 10 + 900 + 1200}]


def test_costs_setting_is_checked() -> None:
    assert parse_costs({"costs.currency": ""}) is None
    costs = parse_costs({"costs.currency": "usd", "costs.email": "0.5", "costs.call_minutes": "6"})
    assert costs is not None and costs.per_unit["email"] == 50 and costs.call_minutes == 6
    with pytest.raises(Exception, match=r"costs.sms = '-1'.*costs.collector_hour = 'x'"):
        parse_costs({"costs.currency": "USD", "costs.sms": "-1", "costs.collector_hour": "x"})


# Through the front doors ------------------------------------------------------------------

PERIOD = ["--from", "2026-02-02", "--to", "2026-02-28"]


@pytest.fixture
def book(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Scenario:
    """ACME owes 900.00 due 31 January; its case opens on 02-01 (stage early); the collector
    ana logs two calls (no answer on 02-03, right party on 02-04) from the command line; a
    settlement of 675.00 is offered on 02-05, accepted on 02-06 and paid on 02-15 (the case
    closes, stage clear). Costs: calls of 6 minutes at 30.00 an hour."""
    s = Scenario(tmp_path / "ws", sqlite_url, "900.00")
    config = s.root / "arrears.toml"
    config.write_text(
        config.read_text()
        + '\n[costs]\ncurrency = "USD"\nemail = "0.50"\ncollector_hour = "30"\ncall_minutes = 6\n'
    )
    s.run("2026-02-01")
    monkeypatch.setenv("USER", "ana")
    monkeypatch.setenv("LOGNAME", "ana")
    for day, outcome in (("2026-02-03", "no_answer"), ("2026-02-04", "right_party")):
        assert cli(s.root, "contact", "add", "ACME", "--channel", "call", "--outcome", outcome,
                   "--on", day) == 0  # fmt: skip
    offered = settlements.offer_settlement(
        s.uow(), ANA, portfolio="default", debtor="ACME", policy=PARSED,
        discount=Decimal(25), expires_on=d("2026-02-20"), on=d("2026-02-05"), at=AT,
    )  # fmt: skip
    settlements.approve_settlement(s.uow(), MAX, offered.settlement_id, on=d("2026-02-05"), at=AT)
    settlements.accept_settlement(s.uow(), ANA, offered.settlement_id, on=d("2026-02-06"), at=AT)
    s.run("2026-02-06")
    s.pay("2026-02-15", "P1", "675.00")
    s.run("2026-02-15", "2026-02-16")
    return s


def cli(root: Path, *args: str) -> int:
    return main(["-w", str(root), *args])


def test_kpi_by_collector_stage_and_agency(
    book: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    """By collector: ana worked ACME (her two calls), so its 675.00 collected is hers, of 900.00
    owed at the start: recovery 75.0 %; 1 right-party call of 2: 50.0 %; one settlement
    decided, accepted: 100 %; cost 2 calls x 3.00 = 6.00, 0.9 % of what was collected. By
    stage: the case's stage at the end of 02-01 (early), not today's (closed, clear)."""
    capsys.readouterr()
    assert cli(book.root, "kpi", *PERIOD, "--by", "collector", "--format", "json") == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["collector"] == "ana" and row["currency"] == "USD"
    assert (row["opening"], row["collected"]) == ("900.00", "675.00")
    assert row["recovery"] == 0.75
    assert (row["calls"], row["right_party_calls"], row["right_party_contact_rate"]) == (2, 1, 0.5)
    assert row["settlements_accepted"] == 1 and row["settlement_acceptance_rate"] == 1.0
    assert row["cost"] == "6.00" and row["cost_to_collect"] == round(600 / 67500, 4)
    assert cli(book.root, "kpi", *PERIOD, "--by", "stage", "--format", "json") == 0
    assert [(r["stage"], r["collected"]) for r in json.loads(capsys.readouterr().out)] == [
        ("early", "675.00")
    ]
    assert cli(book.root, "kpi", *PERIOD, "--by", "agency", "--format", "json") == 0
    assert [r["agency"] for r in json.loads(capsys.readouterr().out)] == ["(not placed)"]
    assert cli(book.root, "kpi", *PERIOD, "--by", "collector") == 0
    lines = {line.split("│")[1].strip(): line.split("│")[2].strip()
             for line in capsys.readouterr().out.splitlines() if line.count("│") >= 3}  # fmt: skip
    assert lines["recovery %"] == "75.0"
    assert lines["right-party contact %"] == "50.0"
    assert lines["settlements decided"] == "1" and lines["accepted %"] == "100.0"
    assert lines["cost to collect %"] == "0.9"


def test_kpi_in_spanish_names_the_new_measures(
    book: Scenario, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARREARS_LOCALE", "es_CO")
    capsys.readouterr()
    assert cli(book.root, "kpi", *PERIOD) == 0
    out = capsys.readouterr().out
    lines = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in out.splitlines()
             if line.count("│") >= 3}  # fmt: skip
    assert lines["recuperación %"] == "75,0"
    assert lines["contacto con el titular %"] == "50,0"
    assert lines["aceptadas %"] == "100,0"
    assert lines["costo"] == "6,00"


def test_dashboard_shows_recovery_by_collector_and_the_new_rates(
    book: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same figures on /dashboard, in English and Spanish."""
    add_user(book.root, monkeypatch, "boss", "manager")
    app = create_app(config.load(book.root, env={}), clock=lambda: datetime(2026, 3, 1, tzinfo=UTC))
    with TestClient(app, follow_redirects=False) as site:
        login(site, "boss")
        page = site.get("/dashboard?from=2026-02-02&to=2026-02-28")
        assert page.status_code == 200
        words = text_of(page.text)
        assert "Recovery by the collector who worked the account" in words
        assert "ana USD 900.00 USD 0.00 USD 675.00 USD 75.0" in words
        assert "Right-party contacts % of calls 50.0" in words
        assert "Settlement offers accepted % 100.0" in words
        assert "Cost to collect % 0.9" in words
        assert "Recovery by the stage of the debtor's case at the start" in words
        assert "early USD 900.00 USD" in words
        spanish = text_of(site.get("/dashboard?from=2026-02-02&to=2026-02-28",
                                   headers={"Accept-Language": "es"}).text)  # fmt: skip
        assert "Recuperación según el gestor que trabajó la cuenta" in spanish
        assert "Contacto con el titular % de llamadas 50,0" in spanish
