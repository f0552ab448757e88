"""Properties of the engine over random portfolios (hypothesis): running a day twice equals
running it once; no step of a case is recorded twice; no message is sent twice to a debtor on
one day; the decisions for any subset of debtors
equal the full run's decisions restricted to that subset (how the engine will run partitioned)."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arrears.cycle.decide import decide
from cycle_book import Book
from test_cycle_scenarios import P

START = date(2026, 1, 1)


@st.composite
def books(draw: st.DrawFn) -> tuple[Book, list[date]]:
    book = Book()
    for n in range(draw(st.integers(1, 6))):
        debtor = book.debtor(f"D{n}", tags=["key"] if draw(st.booleans()) else [])
        for _ in range(draw(st.integers(1, 3))):
            due = START + timedelta(days=draw(st.integers(0, 60)))
            cents = draw(st.integers(100, 3_000_000))
            invoice = book.invoice(debtor, f"{cents / 100:.2f}", due)
            if draw(st.booleans()):
                paid = draw(st.integers(1, cents))
                on = due + timedelta(days=draw(st.integers(-10, 60)))
                payment = book.pay(invoice, f"{paid / 100:.2f}", on)
                if draw(st.integers(0, 4)) == 0:
                    book.reverse(payment, on + timedelta(days=draw(st.integers(1, 20))))
            if draw(st.integers(0, 5)) == 0:
                book.dispute(invoice)
        if draw(st.integers(0, 3)) == 0:
            made = START + timedelta(days=draw(st.integers(0, 80)))
            book.promise(debtor, "500.00", made, made + timedelta(days=draw(st.integers(0, 15))))
        if draw(st.integers(0, 4)) == 0:
            start = START + timedelta(days=draw(st.integers(0, 80)))
            book.hold(debtor, start, start + timedelta(days=draw(st.integers(1, 20))), "asked")
    offsets = draw(st.lists(st.integers(0, 120), min_size=2, max_size=7, unique=True))
    return book, [START + timedelta(days=o) for o in sorted(offsets)]


def _restricted(frame: pl.DataFrame, ids: pl.Series) -> pl.DataFrame:
    return frame.filter(pl.col("debtor_id").is_in(ids.implode())).sort(frame.columns)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(books(), st.data())
def test_engine_properties_hold_day_after_day(
    case: tuple[Book, list[date]], data: st.DataObject
) -> None:
    book, days = case
    for day in days:
        full_input = book.input(day)
        decisions = decide(full_input, P, day)
        # any subset of debtors decides the same for itself as the full run
        all_ids = full_input.debtors["debtor_id"]
        subset = pl.Series(data.draw(st.lists(st.sampled_from(all_ids.to_list()), unique=True)))
        part = decide(full_input.for_debtors(subset), P, day)
        for name in ("features", "cases", "steps"):
            assert _restricted(getattr(part, name), subset).equals(
                _restricted(getattr(decisions, name), subset)
            ), name
        # the same message (channel and template) goes to a debtor at most once a day
        sent = decisions.steps.filter(
            (pl.col("status") == "executed") & (pl.col("action") == "send")
        ).select(
            "debtor_id", "currency", "channel", pl.col("params").str.json_path_match("$.template")
        )
        assert sent.is_unique().all(), sent
        book.apply(decisions, day)
        # running the same day again changes nothing
        again = decide(book.input(day), P, day)
        assert again.steps.is_empty()
        assert set(again.cases["change"]) <= {"stay"}
    # no step occurrence of a case was ever recorded twice
    done = pl.DataFrame(book.steps_done)
    if not done.is_empty():
        assert done.select("case_id", "step_id", "occurrence").is_unique().all()
