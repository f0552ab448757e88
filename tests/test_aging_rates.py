"""Aging in one currency (``converted``, ``aging --in``) and by bucket (``--by bucket``)."""

from datetime import date
from fractions import Fraction

import polars as pl
import pytest

from arrears.kpi.aging import aging, converted

EDGES = (0, 30)
AS_OF = date(2026, 11, 23)


def _book() -> pl.DataFrame:
    """Two debtors: D1 owes 100.00 EUR (10 days late) and 4,000.00 COP (current); D2 10.00 USD."""
    return pl.DataFrame(
        {
            "debtor_id": [1, 1, 2],
            "debtor_external_id": ["D1", "D1", "D2"],
            "currency": ["EUR", "COP", "USD"],
            "due_date": [date(2026, 11, 13), date(2026, 12, 1), date(2026, 8, 1)],
            "open_minor": [10_000, 400_000, 1_000],
        }
    )


#: Minor units of each currency in US cents: 1 EUR = 1.10 USD, 1 COP = 0.00025 USD.
TO_USD = {"EUR": Fraction("1.1"), "COP": Fraction(1, 4000), "USD": Fraction(1)}


def test_by_bucket_counts_and_sums_each_bucket_per_currency() -> None:
    report = aging(_book(), AS_OF, EDGES, by="bucket")
    assert report.select("bucket", "currency", "count", "total").rows() == [
        ("current", "COP", 1, 400_000),
        ("1-30", "EUR", 1, 10_000),
        ("30+", "USD", 1, 1_000),
    ]


def test_converted_adds_the_currencies_of_a_group_at_the_rates() -> None:
    by_debtor = converted(aging(_book(), AS_OF, EDGES, by="debtor"), TO_USD, "USD", EDGES)
    # D1: 100.00 EUR = 110.00 USD late, 4,000.00 COP = 1.00 USD current
    assert by_debtor.select(
        "debtor_external_id", "currency", "current", "1-30", "total"
    ).rows() == [
        ("D1", "USD", 100, 11_000, 11_100),
        ("D2", "USD", 0, 0, 1_000),
    ]
    assert by_debtor["share"].sum() == pytest.approx(1.0)
    buckets = converted(aging(_book(), AS_OF, EDGES, by="bucket"), TO_USD, "USD", EDGES)
    assert buckets.select("bucket", "count", "total").rows() == [
        ("current", 1, 100),
        ("1-30", 1, 11_000),
        ("30+", 1, 1_000),
    ]


def test_converted_names_the_currencies_without_a_rate() -> None:
    with pytest.raises(ValueError, match="no rate for COP, EUR"):
        converted(aging(_book(), AS_OF, EDGES), {"USD": Fraction(1)}, "USD", EDGES)
