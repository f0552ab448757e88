"""Money: the one module that owns ``Decimal`` amounts and their currencies.

Amounts in the domain are :class:`Money` (a ``Decimal`` plus an ISO 4217 code). Columnar code
(Polars frames, the database) stores integer *minor units* (cents); :func:`to_minor` and
:func:`from_minor` are the only conversions between the two. Nothing here ever uses ``float``.
Currency exponents (minor-unit digits) come from ISO 4217 (the ``iso4217`` package, ISO's own
list), not from CLDR: stored minor units must keep their meaning across library upgrades, and
CLDR gives the digits people use in cash (Babel 2.17 made COP, HUF and IDR whole units while
ISO 4217 keeps their two decimals). A code ISO does not list (a historical one CLDR knows) or
lists without minor units (gold, XAU) takes CLDR's digits.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import cache

from babel.numbers import get_currency_precision, list_currencies
from iso4217 import Currency

from arrears.domain.errors import InvalidInput


class MoneyError(InvalidInput):
    """An amount or currency that cannot be represented (a user-input problem, not a bug)."""


@cache
def _iso_exponents() -> dict[str, int | None]:
    return {c.code: c.exponent for c in Currency}


@cache
def known_currencies() -> frozenset[str]:
    """Currency codes known to ISO 4217 or to CLDR (upper case)."""
    return frozenset(_iso_exponents()) | frozenset(c.upper() for c in list_currencies())


def is_currency(code: str) -> bool:
    return code in known_currencies()


@cache
def exponent(currency: str) -> int:
    """Number of minor-unit digits of ``currency`` (2 for USD and EUR, 0 for JPY and CLP...)."""
    if not is_currency(currency):
        raise MoneyError(f"unknown currency {currency!r}")
    iso = _iso_exponents().get(currency)
    return iso if iso is not None else int(get_currency_precision(currency))


def to_minor(amount: Decimal, currency: str) -> int:
    """Exact conversion to integer minor units; more decimals than the currency has is an error."""
    exp = exponent(currency)
    scaled = amount.scaleb(exp)
    if scaled != scaled.to_integral_value():
        raise MoneyError(f"{amount} has more than {exp} decimals for {currency}")
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    exp = exponent(currency)
    return Decimal(minor).scaleb(-exp).quantize(Decimal(1).scaleb(-exp))


def parse_decimal(text: str) -> Decimal:
    """Parse a plain decimal written with a point (``"1234.50"``); raises :class:`MoneyError`."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation as exc:
        raise MoneyError(f"{text!r} is not a number") from exc
    if not value.is_finite():
        raise MoneyError(f"{text!r} is not a finite number")
    return value


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in one currency. Arithmetic and ordering (``<``, ``<=``, ``>``, ``>=``) across
    currencies are an error (:class:`MoneyError`), never a conversion; amounts in two currencies
    are simply unequal (``==`` is False)."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise TypeError("Money.amount must be a Decimal")
        exponent(self.currency)  # validates the code

    @classmethod
    def of(cls, amount: str | int | Decimal, currency: str) -> Money:
        value = parse_decimal(amount) if isinstance(amount, str) else Decimal(amount)
        return cls(value.quantize(Decimal(1).scaleb(-exponent(currency))), currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls.from_minor(0, currency)

    @classmethod
    def from_minor(cls, minor: int, currency: str) -> Money:
        return cls(from_minor(minor, currency), currency)

    @property
    def minor(self) -> int:
        return to_minor(self.amount, self.currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise MoneyError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def _compared(self, other: Money) -> Decimal:
        if other.currency != self.currency:
            raise MoneyError(f"cannot compare {self.currency} with {other.currency}")
        return other.amount

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        return self.amount < self._compared(other)

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        return self.amount <= self._compared(other)

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        return self.amount > self._compared(other)

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        return self.amount >= self._compared(other)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def is_zero(self) -> bool:
        return self.amount == 0

    def is_positive(self) -> bool:
        return self.amount > 0

    def rounded(self) -> Money:
        exp = Decimal(1).scaleb(-exponent(self.currency))
        return Money(self.amount.quantize(exp, rounding=ROUND_HALF_EVEN), self.currency)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"
