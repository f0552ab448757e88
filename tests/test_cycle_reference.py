"""The engine's feature table equals an independent DuckDB reference (benchmarks/cycle_reference.py,
one hand-written SQL query over the same frames): on every scenario book of
test_cycle_scenarios.py at a sample of its days, and on random books (hypothesis)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import cycle_book
import test_cycle_scenarios as scenarios
from arrears.cycle.compiled import CompiledPolicy
from arrears.cycle.decide import _current_cases, decide
from arrears.cycle.features import feature_table
from arrears.cycle.frames import CycleInput, Decisions
from arrears.policy.features import CATALOGUE
from cycle_book import Book
from test_cycle_properties import books
from test_cycle_scenarios import P


def _load_reference() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "cycle_reference.py"
    spec = importlib.util.spec_from_file_location("cycle_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("cycle_reference", module)
    spec.loader.exec_module(module)
    return module


reference = _load_reference()

KEY = ["debtor_id", "currency"]
PUBLIC = KEY + [f.name for f in CATALOGUE if f.name != "currency"]
MEANS = [f.name for f in CATALOGUE if f.name.startswith(("share_paid_late_", "avg_days_late_"))]


def engine_features(data: CycleInput, policy: CompiledPolicy, as_of: date) -> pl.DataFrame:
    """The feature table exactly as ``decide`` builds it (on the cases it keeps)."""
    current = _current_cases(data, policy, as_of)
    table: pl.DataFrame = feature_table(current, as_of, list(policy.policy.buckets))
    return table


def assert_reference_equal(data: CycleInput, policy: CompiledPolicy, as_of: date) -> None:
    expected = engine_features(data, policy, as_of).select(PUBLIC).sort(KEY)
    actual = (
        reference.reference_features(
            data,
            as_of,
            list(policy.policy.buckets),
            reopen_within_days=policy.policy.reopen_within_days,
        )
        .select(PUBLIC)
        .sort(KEY)
    )
    assert actual.height == expected.height, f"as of {as_of}"
    # integers, text, booleans, dates and decimals: exactly
    assert_frame_equal(actual.drop(MEANS), expected.drop(MEANS), check_exact=True)
    # shares and averages (means of floats): to a tiny tolerance
    assert_frame_equal(
        actual.select(MEANS), expected.select(MEANS), check_exact=False, rel_tol=0, abs_tol=1e-9
    )


def test_reference_features_cover_the_catalogue_in_order() -> None:
    book, _, _ = scenarios.one_invoice()
    frame = reference.reference_features(book.input(date(2026, 2, 10)), date(2026, 2, 10), [30])
    assert frame.columns == PUBLIC


# -- (i) every scenario book at a sample of its days -------------------------------------------
SCENARIOS = sorted(n for n in dir(scenarios) if n.startswith("test_"))
EVERY = 10  # compare on every 10th day a scenario decides (and on each direct call)


@pytest.mark.parametrize("name", SCENARIOS)
def test_reference_equals_the_engine_on_scenario_books(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[date] = []

    def checking(
        data: CycleInput, policy: CompiledPolicy, as_of: date, **kwargs: bool
    ) -> Decisions:
        if as_of.toordinal() % EVERY == 0 or not compared:
            assert_reference_equal(data, policy, as_of)
            compared.append(as_of)
        return decide(data, policy, as_of, **kwargs)

    monkeypatch.setattr(cycle_book, "decide", checking)
    monkeypatch.setattr(scenarios, "decide", checking)
    scenario: Callable[[], None] = getattr(scenarios, name)
    scenario()
    assert compared


# -- (ii) random books --------------------------------------------------------------------------
START = date(2026, 1, 1)
CHANNELS = ("email", "sms", "whatsapp", "call", "letter")


@st.composite
def varied_books(draw: st.DrawFn) -> tuple[Book, list[date]]:
    """The property tests' books, plus what they lack: other currencies (EUR, JPY with no minor
    unit digits) for invoices and debtors, credit limits, regions, and hand-made contacts of
    every channel; and days that fall on month ends (calendar-month windows)."""
    book, days = draw(books())
    for debtor in book.debtors:
        debtor["currency"] = draw(st.sampled_from(["USD", "EUR", "JPY"]))
        debtor["credit_limit_minor"] = draw(st.none() | st.integers(0, 10**12))
        debtor["region"] = draw(st.none() | st.sampled_from(["NY", "CA"]))
        if draw(st.booleans()):
            due = START + timedelta(days=draw(st.integers(-90, 60)))
            currency = draw(st.sampled_from(["EUR", "JPY"]))
            invoice = book.invoice(int(debtor["debtor_id"]), "1234.50", due, currency=currency)  # type: ignore[call-overload]
            if draw(st.booleans()):
                book.pay(invoice, "1234.50", due + timedelta(days=draw(st.integers(-5, 40))))
        for _ in range(draw(st.integers(0, 3))):
            book.contacts.append(
                {
                    "debtor_id": debtor["debtor_id"],
                    "channel": draw(st.sampled_from(CHANNELS)),
                    "occurred_on": START + timedelta(days=draw(st.integers(-10, 120))),
                    "outcome": draw(st.sampled_from(["delivered", "no_answer"])),
                }
            )
    extra = draw(st.lists(st.sampled_from([date(2026, 3, 31), date(2026, 4, 30)]), max_size=1))
    # rates to a common unit for some currencies (billionths, up to 10,000 units per unit)
    rated = draw(st.lists(st.sampled_from(["USD", "EUR", "JPY"]), unique=True))
    book.rates = {c: draw(st.integers(1, 10**13)) for c in rated}
    return book, sorted(set(days[:2]) | set(extra))  # a few days keep the test quick


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(varied_books())
def test_reference_equals_the_engine_on_random_books(case: tuple[Book, list[date]]) -> None:
    book, days = case
    for day in days:
        data = book.input(day)
        assert_reference_equal(data, P, day)
        book.apply(decide(data, P, day), day)


def test_ref_features_convert_exactly_at_the_workspace_rates() -> None:
    book = Book()
    eur = book.debtor("EU", currency="EUR")
    jpy = book.debtor("JP", currency="JPY")
    gbp = book.debtor("GB", currency="GBP")
    book.invoice(eur, "1234.50", date(2026, 1, 31), currency="EUR")
    book.invoice(jpy, "12.35", date(2026, 1, 31), currency="JPY")  # the book's minor: 1235 yen
    book.invoice(gbp, "10.00", date(2026, 1, 31), currency="GBP")
    day = date(2026, 3, 1)
    book.rates = {"EUR": 1_080_000_000, "JPY": 6_712_345}  # 1.08 and 0.006712345; GBP: none
    data = book.input(day)
    table = engine_features(data, P, day).sort("currency")
    assert table.select("currency", "overdue_balance", "overdue_balance_ref").rows() == [
        ("EUR", Decimal("1234.5000"), Decimal("1333.2600")),
        ("GBP", Decimal("10.0000"), None),
        ("JPY", Decimal("1235.0000"), Decimal("8.2897")),  # 8.289746075: toward zero
    ]
    assert_reference_equal(data, P, day)


def test_history_windows_are_calendar_months_on_both_sides() -> None:
    # settled 5 Feb, 5 days late: inside "the last 3m" until 5 May exclusive of 5 Feb itself
    book = Book()
    debtor = book.debtor("ACME")
    book.pay(book.invoice(debtor, "100.00", date(2026, 1, 31)), "100.00", date(2026, 2, 5))
    book.invoice(debtor, "50.00", date(2026, 5, 31))
    for day in (date(2026, 5, 4), date(2026, 5, 5), date(2026, 5, 31), date(2026, 8, 5)):
        assert_reference_equal(book.input(day), P, day)
    late = reference.reference_features(book.input(date(2026, 5, 5)), date(2026, 5, 5), [30])
    assert late["avg_days_late_3m"].to_list() == [None]
    assert late["avg_days_late_6m"].to_list() == [5.0]
