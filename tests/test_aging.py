"""Aging as a pure function of instalment frames, checked against hand-computed reports."""

from __future__ import annotations

from datetime import date, timedelta

import hypothesis.strategies as st
import polars as pl
import pytest
from hypothesis import given, settings

from arrears.kpi.aging import aging, bucket_labels, days_past_due, top, validate_edges

AS_OF = date(2026, 6, 30)


def instalments(*rows: tuple[str, str, str, int, int]) -> pl.DataFrame:
    """Rows of (debtor, invoice, currency, days past due, open minor units)."""
    ids: dict[str, int] = {}
    return pl.DataFrame(
        {
            "invoice_id": [ids.setdefault(r[1], len(ids)) for r in rows],
            "invoice_external_id": [r[1] for r in rows],
            "debtor_id": [ord(r[0][0]) for r in rows],
            "debtor_external_id": [r[0] for r in rows],
            "currency": [r[2] for r in rows],
            "due_date": [AS_OF - timedelta(days=r[3]) for r in rows],
            "open_minor": [r[4] for r in rows],
            "disputed": [r[1] == "INV-D" for r in rows],
            "segment": ["smb" if r[0] == "B" else None for r in rows],
        },
        schema={
            "invoice_id": pl.Int64,
            "invoice_external_id": pl.String,
            "debtor_id": pl.Int64,
            "debtor_external_id": pl.String,
            "currency": pl.String,
            "due_date": pl.Date,
            "open_minor": pl.Int64,
            "disputed": pl.Boolean,
            "segment": pl.String,
        },
    )


#   debtor invoice   cur    dpd    open     bucket
BOUNDARIES = instalments(
    ("A", "INV-1", "USD", -15, 100_00),  # current
    ("A", "INV-1", "USD", 0, 1_00),  # current: due today is not late
    ("A", "INV-2", "USD", 1, 2_00),  # 1-30
    ("A", "INV-2", "USD", 30, 3_00),  # 1-30
    ("A", "INV-3", "USD", 31, 4_00),  # 31-60
    ("B", "INV-4", "USD", 120, 5_00),  # 91-120
    ("B", "INV-5", "USD", 121, 6_00),  # 120+
    ("B", "INV-6", "USD", 400, 0),  # paid: not counted
    ("B", "INV-D", "EUR", 61, 7_00),  # 61-90, another currency
)


def test_bucket_labels() -> None:
    assert bucket_labels((0, 30, 60, 90, 120)) == (
        "current", "1-30", "31-60", "61-90", "91-120", "120+",
    )  # fmt: skip
    assert bucket_labels((15, 45)) == ("current", "1-15", "16-45", "45+")
    assert validate_edges((30,)) == (0, 30)


@pytest.mark.parametrize(
    ("edges", "message"),
    [
        ((30, 0, 60), "increasing order"),
        ((0, 30, 30), "unique"),
        ((-1, 30), "negative"),
        ((0,), "at least one bucket edge above 0"),
        ((), "at least one bucket edge above 0"),
        ((0, 1.5), "whole numbers"),
    ],
)
def test_bad_edges_are_value_errors(edges: tuple[int, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bucket_labels(edges)


def test_days_past_due() -> None:
    assert days_past_due(BOUNDARIES, AS_OF).to_list() == [-15, 0, 1, 30, 31, 120, 121, 400, 61]


def test_total_by_currency_at_the_boundaries() -> None:
    report = aging(BOUNDARIES, AS_OF)
    assert report.columns == [
        "currency", "count", "current", "1-30", "31-60", "61-90", "91-120", "120+", "total",
        "share",
    ]  # fmt: skip
    assert report.rows() == [
        # cur   count current 1-30  31-60 61-90 91-120 120+  total   share
        ("EUR", 1, 0, 0, 0, 7_00, 0, 0, 7_00, 1.0),
        ("USD", 7, 101_00, 5_00, 4_00, 0, 5_00, 6_00, 121_00, 1.0),
    ]


def test_by_debtor_with_oldest_days_past_due_and_share() -> None:
    report = aging(BOUNDARIES, AS_OF, by="debtor")
    columns = ("debtor_external_id", "currency", "total", "oldest_days_past_due")
    assert report.select(columns).rows() == [
        ("B", "EUR", 7_00, 61),
        ("A", "USD", 110_00, 31),
        ("B", "USD", 11_00, 121),
    ]  # fmt: skip
    shares = report.filter(pl.col("currency") == "USD")["share"].to_list()
    assert shares == pytest.approx([110 / 121, 11 / 121])


def test_by_invoice_carries_disputed_and_clips_not_yet_due_to_zero() -> None:
    report = aging(BOUNDARIES, AS_OF, by="invoice", edges=(0, 30))
    rows = report.select(
        "invoice_external_id", "disputed", "count", "current", "1-30", "30+", "oldest_days_past_due"
    ).rows()
    assert rows == [
        # invoice disputed count current 1-30   30+   oldest dpd
        ("INV-D", True, 1, 0, 0, 7_00, 61),
        ("INV-1", False, 2, 101_00, 0, 0, 0),
        ("INV-5", False, 1, 0, 0, 6_00, 121),
        ("INV-2", False, 2, 0, 5_00, 0, 30),  # ties on total: by invoice id
        ("INV-4", False, 1, 0, 0, 5_00, 120),
        ("INV-3", False, 1, 0, 0, 4_00, 31),
    ]


def test_by_segment_and_currency_filter() -> None:
    report = aging(BOUNDARIES, AS_OF, by="segment", currency="USD")
    assert report.select("segment", "currency", "count", "total").rows() == [
        (None, "USD", 5, 110_00),
        ("smb", "USD", 2, 11_00),
    ]
    assert report["share"].to_list() == pytest.approx([110 / 121, 11 / 121])


def test_top_keeps_the_largest_per_currency() -> None:
    report = top(aging(BOUNDARIES, AS_OF, by="debtor"), 1)
    assert report.select("debtor_external_id", "currency").rows() == [("B", "EUR"), ("A", "USD")]


def test_nothing_open_is_an_empty_report() -> None:
    report = aging(BOUNDARIES.with_columns(pl.lit(0).alias("open_minor")), AS_OF, by="debtor")
    assert report.height == 0 and "120+" in report.columns


def test_unknown_grouping_and_missing_columns() -> None:
    with pytest.raises(ValueError, match="cannot age by 'region'"):
        aging(BOUNDARIES, AS_OF, by="region")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs the column"):
        aging(BOUNDARIES.drop("segment"), AS_OF, by="segment")


rows = st.lists(
    st.tuples(
        st.sampled_from(["A", "B", "C"]),
        st.sampled_from(["USD", "EUR", "JPY"]),
        st.integers(-60, 400),
        st.integers(0, 10**12),
    ),
    max_size=60,
)
edge_sets = st.lists(st.integers(1, 365), min_size=1, max_size=6, unique=True).map(sorted)


@settings(max_examples=150, deadline=None)
@given(rows=rows, edges=edge_sets, by=st.sampled_from(["total", "debtor", "segment"]))
def test_buckets_add_up_to_the_open_balance_per_currency(
    rows: list[tuple[str, str, int, int]], edges: list[int], by: str
) -> None:
    frame = instalments(
        *[(d, f"INV-{i}", c, dpd, amount) for i, (d, c, dpd, amount) in enumerate(rows)]
    )
    report = aging(frame, AS_OF, edges=edges, by=by)  # type: ignore[arg-type]
    labels = list(bucket_labels(edges))
    assert (report.select(pl.sum_horizontal(labels)).to_series() == report["total"]).all()
    per_currency = dict(report.group_by("currency").agg(pl.col("total").sum()).rows())
    expected: dict[str, int] = {}
    for _, currency, _, amount in rows:
        if amount > 0:
            expected[currency] = expected.get(currency, 0) + amount
    assert per_currency == expected
    if report.height:
        shares = report.group_by("currency").agg(pl.col("share").sum())["share"]
        assert shares.to_list() == pytest.approx([1.0] * shares.len())
