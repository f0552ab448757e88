"""The shipped policies (examples/policies) as a user runs them: `arrears policy check` passes
on each; the B2B policy compares amounts in the common unit of the workspace's [rates] (a
COP debtor is not a key account for owing 60 million pesos), and holds credit in every stage
after the first overdue stage (a debtor placed with the agency is on credit hold)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from arrears.cli.app import main
from arrears.cycle.compiled import CompiledPolicy, compile_policy
from arrears.cycle.decide import decide
from arrears.policy.loading import parse_policy
from cycle_book import Book

SHIPPED = Path(__file__).resolve().parents[1] / "examples" / "policies"


def shipped(name: str) -> CompiledPolicy:
    path = SHIPPED / name
    policy, _, problems = parse_policy(path.read_text(encoding="utf-8"), str(path))
    assert policy is not None and problems == [], problems
    return compile_policy(policy)


def d(month: int, day: int) -> date:
    return date(2026, month, day)


@pytest.mark.parametrize("name", ["b2b.yaml", "us-consumer.yaml", "co-cobranza.yaml"])
def test_policy_check_passes_on_every_shipped_policy(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["policy", "check", str(SHIPPED / name)]) == 0
    assert f"{name}: ok" in capsys.readouterr().out


#: The workspace's [rates] in billionths of a US dollar (as arrears.toml's USD = 1,
#: EUR = 1.08, COP = 0.00025).
RATES = {"USD": 1_000_000_000, "EUR": 1_080_000_000, "COP": 250_000}


def test_b2b_segments_compare_balances_in_the_common_unit() -> None:
    book = Book(rates=dict(RATES))
    owed = {
        "COP-15K": ("60000000.00", "COP"),  # 15,000 USD: standard (not 60 million "units")
        "COP-62K": ("250000000.00", "COP"),  # 62,500 USD: a key account
        "USD-60K": ("60000.00", "USD"),
        "USD-1K": ("1000.00", "USD"),
        "EUR-50K": ("50000.00", "EUR"),  # 54,000 USD
        "BRL-60K": ("60000.00", "BRL"),  # no rate: its own amount
    }
    for name, (amount, currency) in owed.items():
        debtor = book.debtor(name, currency=currency, country="CO" if currency == "COP" else "US")
        book.invoice(debtor, amount, d(1, 31), currency=currency)
    features = decide(book.input(d(2, 5)), shipped("b2b.yaml"), d(2, 5)).features
    names = {r["debtor_id"]: r["debtor_external_id"] for r in book.debtors}
    segments = {names[i]: s for i, s in features.select("debtor_id", "segment").iter_rows()}
    assert segments == {
        "COP-15K": "standard",
        "COP-62K": "key_accounts",
        "USD-60K": "key_accounts",
        "USD-1K": "standard",
        "EUR-50K": "key_accounts",
        "BRL-60K": "key_accounts",
    }


def test_b2b_holds_credit_in_every_later_stage_so_a_placed_debtor_is_on_hold() -> None:
    # 25,000 USD due 5 January, first seen on 20 March (74 days: pre_legal). The ERP sets the
    # credit active again after the pre-legal hold; entering the agency stage holds it again,
    # and the case is placed; legal (approved) holds it once more.
    policy = shipped("b2b.yaml")
    book = Book(rates=dict(RATES))
    debtor = book.debtor("PLACED")
    book.invoice(debtor, "25000.00", d(1, 5))
    row = book.debtors[0]
    held: list[str] = []

    def walk(first: date, last: date) -> None:
        day = first
        while day <= last:
            steps = book.run(policy, day).steps.filter(
                (pl.col("status") == "executed") & (pl.col("action") == "credit_hold")
            )
            for step in steps["step_id"]:
                row["credit_status"] = "on_hold"  # as the store's commit does
                held.append(f"{day} {step}")
            day += timedelta(days=1)

    walk(d(3, 20), d(3, 25))
    row["credit_status"] = "active"  # re-opened by an ERP import
    walk(d(3, 26), d(5, 5))
    book.approve(debtor, "legal", d(5, 5))
    row["credit_status"] = "active"
    walk(d(5, 6), d(5, 6))
    assert held == [
        "2026-03-20 credit-hold-pre-legal",
        "2026-04-05 credit-hold-agency",
        "2026-05-06 credit-hold-legal",
    ]
    placed = [line for line in book.log if "place-agency" in line]
    assert placed == ["2026-04-05 PLACED executed place-agency"]
    [case] = book.cases
    assert (case["stage"], case["agency"]) == ("legal", "default_agency")
    assert row["credit_status"] == "on_hold"
