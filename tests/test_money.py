from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arrears.domain.money import Money, MoneyError, exponent, from_minor, to_minor


def test_exponents_come_from_cldr() -> None:
    assert exponent("USD") == 2
    assert exponent("JPY") == 0
    assert exponent("COP") == 2
    with pytest.raises(MoneyError):
        exponent("XYZ")


def test_minor_units_are_exact() -> None:
    assert to_minor(Decimal("1234.50"), "USD") == 123450
    assert to_minor(Decimal("1234"), "JPY") == 1234
    with pytest.raises(MoneyError, match="more than 2 decimals"):
        to_minor(Decimal("0.001"), "EUR")
    assert from_minor(123450, "USD") == Decimal("1234.50")


def test_no_arithmetic_across_currencies() -> None:
    with pytest.raises(MoneyError, match="cannot combine"):
        Money.of("1", "USD") + Money.of("1", "EUR")
    assert Money.of("1.10", "USD") + Money.of("2.20", "USD") == Money.of("3.30", "USD")


def test_no_ordering_across_currencies() -> None:
    # 5 USD < 3 EUR was a silent False (the amounts compared, the currencies ignored)
    usd, eur = Money.of("5", "USD"), Money.of("3", "EUR")
    for compare in (
        lambda: usd < eur,
        lambda: usd <= eur,
        lambda: usd > eur,
        lambda: usd >= eur,
        lambda: sorted([usd, eur]),
        lambda: max(usd, eur),
    ):
        with pytest.raises(MoneyError, match=r"cannot compare (USD with EUR|EUR with USD)"):
            compare()
    assert usd != eur and (usd == eur) is False  # unequal, not an error
    assert Money.of("3", "USD") < usd <= Money.of("5.00", "USD") < Money.of("5.01", "USD")
    assert usd > Money.of("-5", "USD") >= Money.of("-5", "USD")
    assert sorted([usd, Money.zero("USD")]) == [Money.zero("USD"), usd]
    with pytest.raises(TypeError):
        assert usd < Decimal(6)  # type: ignore[operator]


def test_money_rejects_floats() -> None:
    with pytest.raises(TypeError):
        Money(1.1, "USD")  # type: ignore[arg-type]


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from(["USD", "JPY", "BHD"]))
def test_minor_round_trip(minor: int, currency: str) -> None:
    assert to_minor(from_minor(minor, currency), currency) == minor
