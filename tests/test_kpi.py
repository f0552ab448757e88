"""Every measure of ``arrears.kpi`` against a small book computed by hand (docs/kpi.md).

The book (amounts in dollars; ids are instalments, one per invoice), period 2026-01-01 to
2026-03-31 (90 days), buckets 0,30,60,90::

    id debtor segment   cur  issued      due         amount  allocations
    1  D1     retail    USD  2025-12-01  2025-12-31  100.00  payment 100.00 on 01-20
    2  D1     retail    USD  2026-01-15  2026-02-14  200.00  payment 50.00 on 02-20, bounced 02-25;
                                                             payment 200.00 on 03-20
    3  D2     retail    USD  2025-11-15  2025-12-15  300.00  payment 100.00 on 2025-12-20;
                                                             write-off 200.00 on 03-15
    4  D1     retail    USD  2026-03-01  2026-03-31  150.00
    5  D3     wholesale USD  2026-02-10  2026-03-12  250.00  credit note 50.00 on 03-01
    6  D3     wholesale EUR  2026-01-10  2026-02-09   80.00  payment 30.00 on 04-02 (after the end)

USD: opening (2025-12-31) = 100 (#1) + 200 (#3) = 300; sales = 200 + 150 + 250 = 600;
collected 100 + 200 = 300 (the bounced 50 does not count); credited 50; written off 200;
closing = 150 (#4, due on 03-31: current) + 200 (#5, 19 days late) = 350.
DSO = 350/600 × 90 = 52.5; BPDSO = 150/600 × 90 = 22.5; ADD = 200/600 × 90 = 30;
CEI = (300 + 600 − 350)/(300 + 600 − 150) × 100 = 550/750 × 100 = 73.33; bad debt = 200/600.
Countback: March's sales (150) are used up whole (31 days), 200 is left of February's 250:
200/250 × 28 = 22.4 days; 53.4 days.
EUR: sales 80, closing 80 all past due: DSO = ADD = 90, BPDSO 0, CEI 0; countback: March and
February have no sales (31 + 28 days), January's 80 is used up whole (31): 90.

Debtors month by month (state, balance), USD:
    2025-12-31  D1 current 100 (#1 due that day)   D2 1-30 200 (#3, 16 days)
    2026-01-31  D1 current 200 (#2)                 D2 31-60 200 (47 days)
    2026-02-28  D1 1-30 200 (#2, 14 days; the 50 bounced)  D2 61-90 200 (75)  D3 current 250
    2026-03-31  D1 current 150 (#4)   D2 nothing, written off in March   D3 1-30 200 (19)
EUR, D3: 01-31 current 80; 02-28 1-30 (19 days); 03-31 31-60 (50 days).
"""

from __future__ import annotations

import csv
import os
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert, text

from arrears.domain.columns import Kind
from arrears.io.batches import ReadOptions
from arrears.io.ibm import convert
from arrears.io.importer import import_files
from arrears.kpi.aging import aging
from arrears.kpi.dso import month_ends_back
from arrears.kpi.figures import open_on, period_figures
from arrears.kpi.roll import month_ends
from arrears.kpi.summary import PROMISES, measures
from arrears.scoring.frames import History, view_at
from arrears.store import schema
from arrears.store.cycle.snapshot import read_snapshot
from arrears.store.database import connect, upgrade
from arrears.store.portfolios import ensure_portfolio
from arrears.store.scoring.history import read_history, read_promises
from test_ledger_support import Book

START, END = date(2026, 1, 1), date(2026, 3, 31)
EDGES = (0, 30, 60, 90)
D = date


def book() -> tuple[pl.DataFrame, pl.DataFrame]:
    instalments = pl.DataFrame(
        [
            (1, 1, 1, "retail", "USD", D(2025, 12, 1), D(2025, 12, 31), 100_00),
            (2, 2, 1, "retail", "USD", D(2026, 1, 15), D(2026, 2, 14), 200_00),
            (3, 3, 2, "retail", "USD", D(2025, 11, 15), D(2025, 12, 15), 300_00),
            (4, 4, 1, "retail", "USD", D(2026, 3, 1), D(2026, 3, 31), 150_00),
            (5, 5, 3, "wholesale", "USD", D(2026, 2, 10), D(2026, 3, 12), 250_00),
            (6, 6, 3, "wholesale", "EUR", D(2026, 1, 10), D(2026, 2, 9), 80_00),
        ],
        schema={
            "instalment_id": pl.Int64(),
            "invoice_id": pl.Int64(),
            "debtor_id": pl.Int64(),
            "segment": pl.String(),
            "currency": pl.String(),
            "issue_date": pl.Date(),
            "due_date": pl.Date(),
            "amount_minor": pl.Int64(),
        },
        orient="row",
    ).with_columns(pl.lit(False).alias("disputed"), pl.lit(None, pl.Date()).alias("disputed_on"))
    allocations = pl.DataFrame(
        [
            (1, "payment", 100_00, D(2026, 1, 20), None),
            (2, "payment", 50_00, D(2026, 2, 20), D(2026, 2, 25)),
            (2, "payment", 200_00, D(2026, 3, 20), None),
            (3, "payment", 100_00, D(2025, 12, 20), None),
            (3, "write_off", 200_00, D(2026, 3, 15), None),
            (5, "credit_note", 50_00, D(2026, 3, 1), None),
            (6, "payment", 30_00, D(2026, 4, 2), None),
        ],
        schema={
            "instalment_id": pl.Int64(),
            "source_kind": pl.String(),
            "amount_minor": pl.Int64(),
            "allocated_on": pl.Date(),
            "reversed_on": pl.Date(),
        },
        orient="row",
    )
    return instalments, allocations


FIGURES = ["opening", "sales", "collected", "credited", "written_off", "closing"]


def test_period_figures_by_currency() -> None:
    figures = period_figures(*book(), START, END)
    assert figures.select("currency", *FIGURES, "closing_current", "closing_past_due").rows() == [
        ("EUR", 0, 80_00, 0, 0, 0, 80_00, 0, 80_00),
        ("USD", 300_00, 600_00, 300_00, 50_00, 200_00, 350_00, 150_00, 200_00),
    ]


def test_open_balances_are_the_scoring_views() -> None:
    """The measures' point-in-time balances are those the propensity model learns from."""
    instalments, allocations = book()
    history = History(instalments.drop("segment"), allocations)
    for day in (D(2025, 12, 31), D(2026, 2, 25), D(2026, 2, 24), END, D(2026, 4, 2)):
        ours = open_on(instalments, allocations, day).select("instalment_id", "open_minor")
        theirs = view_at(history, day).instalments.select("instalment_id", "open_minor")
        assert ours.collect().sort("instalment_id").equals(theirs.sort("instalment_id"))


def test_headline_measures_by_currency() -> None:
    headline = measures(*book(), START, END, EDGES).headline
    eur, usd = headline.to_dicts()
    assert usd["dso"] == pytest.approx(52.5)
    assert usd["best_possible_dso"] == pytest.approx(22.5)
    assert usd["average_days_delinquent"] == pytest.approx(30.0)
    assert usd["countback_dso"] == pytest.approx(53.4)
    assert usd["cei"] == pytest.approx(550 / 750 * 100)
    assert usd["bad_debt_ratio"] == pytest.approx(200 / 600)
    assert (usd["delinquent"], usd["cured"], usd["cure_rate"]) == (800_00, 200_00, 0.25)
    assert eur["dso"] == pytest.approx(90.0)
    assert eur["best_possible_dso"] == 0.0
    assert eur["average_days_delinquent"] == pytest.approx(90.0)
    assert eur["countback_dso"] == pytest.approx(90.0)
    assert eur["cei"] == 0.0
    assert eur["bad_debt_ratio"] == 0.0
    assert (eur["delinquent"], eur["cured"], eur["cure_rate"]) == (80_00, 0, 0.0)


def test_roll_rates_month_by_month() -> None:
    roll = measures(*book(), START, END, EDGES).roll
    rows = roll.select("month", "currency", "from_bucket", "to_bucket", "count", "amount")
    assert rows.rows() == [
        (D(2026, 1, 31), "USD", "current", "current", 1, 100_00),
        (D(2026, 1, 31), "USD", "1-30", "31-60", 1, 200_00),
        (D(2026, 2, 28), "EUR", "current", "1-30", 1, 80_00),
        (D(2026, 2, 28), "USD", "current", "1-30", 1, 200_00),
        (D(2026, 2, 28), "USD", "31-60", "61-90", 1, 200_00),
        (D(2026, 3, 31), "EUR", "1-30", "31-60", 1, 80_00),
        (D(2026, 3, 31), "USD", "current", "1-30", 1, 250_00),
        (D(2026, 3, 31), "USD", "1-30", "current", 1, 200_00),
        (D(2026, 3, 31), "USD", "61-90", "written off", 1, 200_00),
    ]
    assert set(roll["rate"].to_list()) == {1.0}  # one debtor per bucket each month


def test_roll_matrix_of_the_period() -> None:
    matrix = measures(*book(), START, END, EDGES).matrix.filter(pl.col("currency") == "USD")
    assert matrix.select("from_bucket", "to_bucket", "amount").rows() == [
        ("current", "current", 100_00),
        ("current", "1-30", 450_00),
        ("1-30", "current", 200_00),
        ("1-30", "31-60", 200_00),
        ("31-60", "61-90", 200_00),
        ("61-90", "written off", 200_00),
    ]
    assert matrix["rate"].to_list() == pytest.approx([100 / 550, 450 / 550, 0.5, 0.5, 1, 1])


def test_a_debtor_that_pays_everything_is_settled() -> None:
    """D1 pays #2 and #4 in full in March: it leaves 1-30 as settled, a cure."""
    instalments, allocations = book()
    paid = pl.DataFrame(
        [(4, "payment", 150_00, D(2026, 3, 25), None)], schema=allocations.schema, orient="row"
    )
    roll = measures(instalments, pl.concat([allocations, paid]), START, END, EDGES).roll
    march = roll.filter((pl.col("month") == END) & (pl.col("from_bucket") == "1-30"))
    assert march.select("currency", "to_bucket", "amount").rows() == [
        ("EUR", "31-60", 80_00),
        ("USD", "settled", 200_00),
    ]


def test_by_segment() -> None:
    headline = measures(*book(), START, END, EDGES, keys=["segment"]).headline
    rows = headline.select("segment", "currency", "opening", "sales", "closing").rows()
    assert rows == [
        ("retail", "USD", 300_00, 350_00, 150_00),
        ("wholesale", "EUR", 0, 80_00, 80_00),
        ("wholesale", "USD", 0, 250_00, 200_00),
    ]
    retail, _, wholesale = headline.to_dicts()
    # retail: 150/350 × 90; everything left is current; CEI 500/500
    assert retail["dso"] == pytest.approx(150 / 350 * 90)
    assert retail["average_days_delinquent"] == 0.0
    assert retail["cei"] == pytest.approx(100.0)
    assert retail["bad_debt_ratio"] == pytest.approx(200 / 350)
    # wholesale USD: 200/250 × 90 = 72, all of it late; CEI (250 − 200)/250 = 20 %
    assert wholesale["dso"] == pytest.approx(72.0)
    assert wholesale["best_possible_dso"] == 0.0
    assert wholesale["cei"] == pytest.approx(20.0)


def test_in_one_currency_converts_the_amounts_before_the_ratios() -> None:
    """1 EUR = 1.10 USD: the EUR book's 80.00 becomes 88.00 USD."""
    factors = {"USD": Fraction(1), "EUR": Fraction(11, 10)}
    result = measures(*book(), START, END, EDGES, factors=factors, to="USD")
    [row] = result.headline.to_dicts()
    assert (row["currency"], row["sales"], row["closing"]) == ("USD", 688_00, 438_00)
    assert row["closing_past_due"] == 288_00
    assert row["dso"] == pytest.approx(438 / 688 * 90)
    # countback: March 150 (31 days), February 250 (28), then 38 of January's 288
    assert row["countback_dso"] == pytest.approx(31 + 28 + 38 / 288 * 31)
    assert (row["delinquent"], row["cured"]) == (888_00, 200_00)
    feb = result.roll.filter(pl.col("month") == D(2026, 2, 28), pl.col("from_bucket") == "current")
    assert feb.select("to_bucket", "count", "amount", "rate").rows() == [("1-30", 2, 288_00, 1.0)]


def test_without_a_rate() -> None:
    with pytest.raises(ValueError, match="no rate for EUR"):
        measures(*book(), START, END, EDGES, factors={"USD": Fraction(1)}, to="USD")


def test_a_period_without_sales_has_no_dso() -> None:
    row = measures(*book(), D(2026, 4, 1), D(2026, 4, 30), EDGES).headline.to_dicts()[0]
    assert row["currency"] == "EUR" and row["sales"] == 0 and row["collected"] == 30_00
    assert row["dso"] is None and row["bad_debt_ratio"] is None
    assert row["cei"] == pytest.approx(30 / 80 * 100)  # (80 + 0 − 50)/(80 + 0 − 0)


def test_month_ends() -> None:
    assert month_ends(D(2026, 1, 15), D(2026, 3, 30)) == [D(2026, 1, 31), D(2026, 2, 28)]
    assert month_ends_back(D(2026, 3, 31), D(2026, 1, 1)) == [
        D(2026, 3, 31),
        D(2026, 2, 28),
        D(2026, 1, 31),
        D(2025, 12, 31),
    ]
    assert month_ends_back(D(2026, 3, 30), D(2026, 2, 1))[1:] == [D(2026, 2, 28), D(2026, 1, 30)]


def test_a_period_that_ends_before_it_starts() -> None:
    with pytest.raises(ValueError, match="ends"):
        period_figures(*book(), END, START)


# --- the IBM accounts-receivable sample ------------------------------------------------------
#
# Its README (shared/data/README.md) publishes late-payment figures (35.6 % of invoices late,
# mean DaysLate 3.44), no DSO or aging. So the measures on the real sample, imported through the
# normal importer and read back as the History, are checked against the same formulas applied
# by hand to the raw file (csv + Decimal, an invoice open from its InvoiceDate until its
# SettledDate) and against the aging report (the snapshot's other read path); and ADD against
# the published mean DaysLate: in a steady book, past-due receivables are about the daily sales
# times the average days late (Little's law), so ADD is about the mean days late. The period is
# the middle year of the sample: the file holds only settled invoices, so its last months lack
# the invoices that were still open then (at the end of 2013 the receivables are 761.90 only).

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "ibm-accounts-receivable.csv"
YEAR = (D(2012, 7, 1), D(2013, 6, 30))


@pytest.fixture(scope="module")
def ibm(tmp_path_factory: pytest.TempPathFactory) -> tuple[History, pl.DataFrame]:
    """The sample's history and its snapshot at the end of YEAR (SQLite, imported once)."""
    if not SAMPLE.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{SAMPLE} is missing: CI checks out shared/ beside main")
        pytest.skip("the IBM sample is not checked out beside main")
    tmp = tmp_path_factory.mktemp("ibm")
    url = f"sqlite:///{tmp / 'ibm.db'}"
    upgrade(url)
    engine = connect(url)
    with engine.begin() as conn:
        ensure_portfolio(conn, "default", name=None, base_currency="USD", actor="t")
    files = convert(SAMPLE, tmp / "files")
    for kind in (Kind.DEBTORS, Kind.INVOICES, Kind.PAYMENTS):
        assert import_files(engine, kind, [files[kind]], ReadOptions(), actor="t").committed
    history = read_history(engine, portfolio="default")
    snapshot = read_snapshot(engine, portfolio="default", as_of=YEAR[1])
    engine.dispose()
    return history, snapshot.instalments


def _raw_figures(start: date, end: date) -> dict[str, int]:
    """The period's figures from the raw file, by hand: cents of each invoice."""

    def day(text: str) -> date:
        month, dom, year = (int(part) for part in text.split("/"))
        return date(year, month, dom)

    figures = dict.fromkeys(("opening", "sales", "collected", "closing", "closing_current"), 0)
    before = start - timedelta(days=1)
    with SAMPLE.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            cents = int(Decimal(row["InvoiceAmount"]) * 100)
            issued, due, settled = (day(row[k]) for k in ("InvoiceDate", "DueDate", "SettledDate"))
            figures["opening"] += cents if issued <= before < settled else 0
            figures["sales"] += cents if start <= issued <= end else 0
            figures["collected"] += cents if start <= settled <= end else 0
            if issued <= end < settled:
                figures["closing"] += cents
                figures["closing_current"] += cents if due >= end else 0
    return figures


@pytest.mark.slow
def test_ibm_sample_dso_and_add_against_the_raw_file(ibm: tuple[History, pl.DataFrame]) -> None:
    history, snapshot = ibm
    raw = _raw_figures(*YEAR)
    result = measures(history.instalments, history.allocations, *YEAR, (0, 30, 60, 90))
    [row] = result.headline.to_dicts()
    assert {name: row[name] for name in raw} == raw
    assert row["credited"] == row["written_off"] == 0
    past_due = raw["closing"] - raw["closing_current"]
    assert row["dso"] == pytest.approx(raw["closing"] / raw["sales"] * 365)
    assert row["best_possible_dso"] == pytest.approx(raw["closing_current"] / raw["sales"] * 365)
    assert row["average_days_delinquent"] == pytest.approx(past_due / raw["sales"] * 365)
    collectable = raw["opening"] + raw["sales"] - raw["closing_current"]
    assert row["cei"] == pytest.approx(raw["collected"] / collectable * 100)
    # the aging report of the same day, read by the snapshot, has the same receivables
    [aged] = aging(snapshot, YEAR[1], (0, 30, 60, 90)).to_dicts()
    assert (aged["total"], aged["current"]) == (raw["closing"], raw["closing_current"])
    # measured: DSO 23.7, countback 26.3, BPDSO 19.9, ADD 3.87 days; CEI 99.0 %
    assert (round(row["dso"], 1), round(row["countback_dso"], 1)) == (23.7, 26.3)
    assert row["average_days_delinquent"] == pytest.approx(3.44, abs=0.5)  # published DaysLate


# --- properties ----------------------------------------------------------------------------

DAY0 = D(2026, 1, 1)
BOOK_COLUMNS = ["instalment_id", "invoice_id", "debtor_id", "currency", "issue_date"]
BOOK_COLUMNS += ["due_date", "amount_minor"]


@st.composite
def books(draw: st.DrawFn) -> tuple[pl.DataFrame, pl.DataFrame, date, date]:
    """A random small book; allocations never before their instalment's issue day and never
    more than its amount (as the ledger keeps them)."""
    instalments, allocations = [], []
    for i in range(draw(st.integers(1, 8))):
        issued = DAY0 + timedelta(days=draw(st.integers(0, 150)))
        due = issued + timedelta(days=draw(st.integers(0, 60)))
        amount = draw(st.integers(1, 10_000))
        debtor, currency = draw(st.integers(1, 3)), draw(st.sampled_from(["USD", "EUR"]))
        instalments.append((i, i, debtor, currency, issued, due, amount))
        left = amount
        for _ in range(draw(st.integers(0, 2))):
            if left == 0:
                break
            part = draw(st.integers(1, left))
            left -= part
            on = issued + timedelta(days=draw(st.integers(0, 120)))
            back = draw(st.none() | st.integers(0, 60))
            reversed_on = None if back is None else on + timedelta(days=back)
            kind = draw(st.sampled_from(["payment", "credit_note", "write_off"]))
            allocations.append((i, kind, part, on, reversed_on))
    start = DAY0 + timedelta(days=draw(st.integers(0, 200)))
    end = start + timedelta(days=draw(st.integers(0, 120)))
    inst = pl.DataFrame(
        instalments,
        schema=BOOK_COLUMNS,
        orient="row",
    )
    alloc = pl.DataFrame(allocations, schema=book()[1].schema, orient="row")
    return inst, alloc, start, end


@given(books())
@settings(max_examples=60, deadline=None)
def test_what_left_the_receivables_is_what_was_allocated(
    case: tuple[pl.DataFrame, pl.DataFrame, date, date],
) -> None:
    inst, alloc, start, end = case
    result = measures(inst, alloc, start, end, EDGES)
    before = start - timedelta(days=1)
    for row in result.headline.to_dicts():
        mine = alloc.join(inst.filter(pl.col("currency") == row["currency"]), on="instalment_id")
        reversed_on = pl.col("reversed_on")
        in_period = mine.filter(
            pl.col("allocated_on").is_between(start, end)
            & (reversed_on.is_null() | (reversed_on > end))
        )
        undone = mine.filter(
            (pl.col("allocated_on") <= before) & reversed_on.is_between(start, end)
        )
        removed = int(in_period["amount_minor"].sum()) - int(undone["amount_minor"].sum())
        assert row["opening"] + row["sales"] - row["closing"] == removed
        assert row["collected"] + row["credited"] + row["written_off"] == int(
            in_period["amount_minor"].sum()
        )
        if row["dso"] is not None:
            assert row["dso"] == pytest.approx(
                row["best_possible_dso"] + row["average_days_delinquent"]
            )
        assert row["countback_dso"] >= 0
        if row["closing"] == 0:
            assert row["countback_dso"] == 0


@given(books())
@settings(max_examples=60, deadline=None)
def test_each_month_moves_every_balance_owed_at_its_start(
    case: tuple[pl.DataFrame, pl.DataFrame, date, date],
) -> None:
    inst, alloc, start, end = case
    roll = measures(inst, alloc, start, end, EDGES).roll
    for last in month_ends(start, end):
        before = last.replace(day=1) - timedelta(days=1)
        owed = open_on(inst, alloc, before).filter(pl.col("open_minor") > 0).collect()
        moves = roll.filter(pl.col("month") == last)
        assert int(moves["amount"].sum()) == int(owed["open_minor"].sum())
        assert int(moves["count"].sum()) == owed.select("debtor_id", "currency").n_unique()
        for rates in moves.group_by("currency", "from_bucket"):
            assert rates[1]["rate"].sum() == pytest.approx(1.0)


@given(books())
@settings(max_examples=30, deadline=None)
def test_at_par_the_currencies_add_up(case: tuple[pl.DataFrame, pl.DataFrame, date, date]) -> None:
    inst, alloc, start, end = case
    apart = measures(inst, alloc, start, end, EDGES).headline
    par = {"USD": Fraction(1), "EUR": Fraction(1)}
    [row] = measures(inst, alloc, start, end, EDGES, factors=par, to="USD").headline.to_dicts()
    for name in FIGURES:
        assert row[name] == apart[name].sum()


# --- promises ------------------------------------------------------------------------------


def promises() -> pl.DataFrame:
    """Judged by the cycle: D1's 150.00 kept on 03-24, D3's 200.00 broken on 03-14, D2's 100.00
    kept in part (40.00) on 02-10; D3's 50.00 EUR kept after the period; D1's 70.00 not yet."""
    return pl.DataFrame(
        [
            (1, "retail", "USD", 150_00, "kept", 150_00, D(2026, 3, 24)),
            (3, "wholesale", "USD", 200_00, "broken", 0, D(2026, 3, 14)),
            (2, "retail", "USD", 100_00, "partial", 40_00, D(2026, 2, 10)),
            (3, "wholesale", "EUR", 50_00, "kept", 50_00, D(2026, 4, 5)),
            (1, "retail", "USD", 70_00, None, 0, None),
        ],
        schema={
            "debtor_id": pl.Int64(),
            "segment": pl.String(),
            "currency": pl.String(),
            "amount_minor": pl.Int64(),
            "outcome": pl.String(),
            "kept_minor": pl.Int64(),
            "outcome_on": pl.Date(),
        },
        orient="row",
    )


def test_promise_kept_rates() -> None:
    """USD: 3 judged in the period (kept, partial, broken): 1/3 kept, 1/3 in part, and 190.00
    paid of 450.00 promised (42.2 %). EUR: none judged in the period."""
    eur, usd = measures(*book(), START, END, EDGES, promises=promises()).headline.to_dicts()
    assert [usd[name] for name in PROMISES[:6]] == [3, 1, 1, 1, 450_00, 190_00]
    assert usd["promise_kept_rate"] == pytest.approx(1 / 3)
    assert usd["promise_partial_rate"] == pytest.approx(1 / 3)
    assert usd["promise_paid_rate"] == pytest.approx(190 / 450)
    assert (eur["promises_judged"], eur["promise_kept_rate"]) == (0, None)
    by_segment = measures(
        *book(), START, END, EDGES, keys=["segment"], promises=promises()
    ).headline
    assert by_segment.select(
        "segment", "currency", "promises_judged", "promise_paid_rate"
    ).rows() == [
        ("retail", "USD", 2, 190 / 250),
        ("wholesale", "EUR", 0, None),
        ("wholesale", "USD", 1, 0.0),
    ]
    par = {"USD": Fraction(1), "EUR": Fraction(11, 10)}
    april = measures(
        *book(), D(2026, 4, 1), D(2026, 4, 30), EDGES, factors=par, to="USD", promises=promises()
    )
    [row] = april.headline.to_dicts()
    assert (row["promises_judged"], row["promised"], row["promise_kept_rate"]) == (1, 55_00, 1.0)


def test_read_promises_gives_each_outcome_as_recorded(engine: Engine) -> None:
    """The store's read of the promises (SQLite and PostgreSQL): not cancelled, the outcome
    and its day null until judged, what was paid towards it 0 until then."""
    with engine.begin() as conn:
        book = Book(conn)
        debtor = book.debtor("D1")
        pid = conn.execute(text("SELECT id FROM portfolio WHERE code = 'default'")).scalar_one()
        base = {"portfolio_id": pid, "debtor_id": debtor, "currency": "USD", "actor": "t"}
        base |= {"made_on": D(2026, 3, 1), "due_on": D(2026, 3, 10), "status": "open"}
        base |= {"created_at": datetime(2026, 3, 1, tzinfo=UTC), "cancelled_on": None}
        base |= {"outcome": None, "kept_minor": None, "outcome_on": None}
        judged = {"outcome": "partial", "kept_minor": 50_00, "outcome_on": D(2026, 3, 14)}
        cancelled = {"status": "cancelled", "cancelled_on": D(2026, 3, 2)}
        rows = [
            {**base, "amount_minor": 100_00},
            {**base, "amount_minor": 200_00, **judged},
            {**base, "amount_minor": 300_00, **cancelled},
        ]
        conn.execute(insert(schema.promise), rows)
    found = read_promises(engine, portfolio="default").sort("amount_minor")
    assert found.select("amount_minor", "outcome", "kept_minor", "outcome_on").rows() == [
        (100_00, None, 0, None),
        (200_00, "partial", 50_00, D(2026, 3, 14)),
    ]
    assert found["made_on"].to_list() == [D(2026, 3, 1)] * 2


def test_a_debtor_without_a_segment_is_a_group_of_its_own() -> None:
    """D3 has no segment: its rows are the wholesale ones of test_by_segment, under null."""
    instalments, allocations = book()
    unsegmented = instalments.with_columns(
        pl.when(pl.col("debtor_id") == 3).then(None).otherwise(pl.col("segment")).alias("segment")
    )
    headline = measures(unsegmented, allocations, START, END, EDGES, keys=["segment"]).headline
    rows = headline.select("segment", "currency", "sales", "dso", "countback_dso").rows()
    assert rows == [
        ("retail", "USD", 350_00, pytest.approx(150 / 350 * 90), pytest.approx(31.0)),
        (None, "EUR", 80_00, pytest.approx(90.0), pytest.approx(90.0)),
        (None, "USD", 250_00, pytest.approx(72.0), pytest.approx(31 + 22.4)),
    ]
