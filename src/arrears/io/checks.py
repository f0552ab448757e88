"""Checking and typing one column at a time, with Polars expressions.

For each canonical column :func:`check` returns two expressions over the cleaned text column of the
same name: its typed value and its problem (a message, or null when the cell is fine). Amounts are
parsed by splitting the digits, never through a float, into integer minor units of the row's
currency (column ``__exponent``). Phone numbers are the one per-value Python step: they are
parsed once per distinct ``(number, country)`` pair by :func:`phone_numbers`.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import replace
from functools import cache

import phonenumbers
import polars as pl
from babel import Locale

from arrears.domain.columns import Column, Type
from arrears.domain.money import known_currencies
from arrears.io.batches import ReadOptions

MAX_CHARS = 1_000
MAX_CHARS_BY_COLUMN = {"address": 2_000}
MAX_INTEGER_DIGITS = 15  # minor units must fit an Int64 with room to spare
BOOLEANS = {
    **dict.fromkeys(("yes", "y", "true", "1", "si", "sí"), True),
    **dict.fromkeys(("no", "n", "false", "0"), False),
}
_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s.]+$"
_ISO_TIME = (  # ASCII digits only: Polars' \d is any Unicode digit
    r"^([0-9]{4}-[0-9]{1,2}-[0-9]{1,2})[T ][0-9]{1,2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
    r"(Z|[+-][0-9]{2}:?[0-9]{2})?$"
)
_NOT_COUNTRIES = {"ZZ", "EU", "EZ", "UN", "QO", "XA", "XB"}


@cache
def countries() -> tuple[str, ...]:
    """ISO 3166-1 alpha-2 codes (CLDR's territories, without regions and pseudo-codes)."""
    codes = [str(code) for code in Locale("en").territories]
    return tuple(
        sorted(c for c in codes if len(c) == 2 and c.isalpha() and c not in _NOT_COUNTRIES)
    )


@cache
def timezones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def too_long(name: str, text: pl.Expr) -> pl.Expr:
    limit = MAX_CHARS_BY_COLUMN.get(name, MAX_CHARS)
    length = text.str.len_chars()
    message = pl.format(f"is {{}} characters long; the limit is {limit}: shorten it", length)
    return pl.when(length > limit).then(message)


def check(
    column: Column,
    options: ReadOptions,
    *,
    short_dates: bool = False,
    typed: bool | pl.Expr = False,
    scientific: bool = False,
) -> tuple[pl.Expr, pl.Expr]:
    """(typed value, problem message) of ``column`` in a frame of cleaned text.

    ``short_dates``: the caller knows that no cell of this column is longer than 10 bytes, so
    none can be an ISO date-time (the shortest is 13 characters) and that rewrite is skipped.
    ``typed``: whether the cells of a date or amount column were typed cells of the file (an
    Excel date or number, a Parquet date or numeric column), written by the reader as ISO dates
    and plain numbers with ``.``: ``True`` for all of them, an expression for a column of both
    kinds. The file's settings (``import.decimal_separator``...) apply to the text cells only.
    ``scientific``: whether an amount column has a cell with an ``e``, which may be a number
    in scientific notation (``1e+05``): a few more steps to read it."""
    x = pl.col(column.name)
    value, problem = _typed_or_text(column, x, options, short_dates, typed, scientific)
    if column.required:
        missing = pl.lit(f"is empty; {column.name} is required: {column.doc}")
        problem = pl.when(x.is_null()).then(missing).otherwise(problem)
    return value.alias(column.field), problem


def typed_options(options: ReadOptions) -> ReadOptions:
    """How the readers write typed cells: ISO dates, numbers with ``.`` and no grouping."""
    return replace(options, date_format="auto", decimal_separator=".", thousands_separator="")


def _typed_or_text(
    column: Column,
    x: pl.Expr,
    options: ReadOptions,
    short_dates: bool,
    typed: bool | pl.Expr,
    scientific: bool,
) -> tuple[pl.Expr, pl.Expr]:
    if column.type not in (Type.DATE, Type.AMOUNT) or typed is False:
        return _by_type(column, x, options, short_dates, scientific)
    as_typed = _by_type(column, x, typed_options(options), short_dates, scientific)
    if typed is True:
        return as_typed
    as_text = _by_type(column, x, options, short_dates, scientific)
    return (
        pl.when(typed).then(as_typed[0]).otherwise(as_text[0]),
        pl.when(typed).then(as_typed[1]).otherwise(as_text[1]),
    )


def _by_type(
    column: Column, x: pl.Expr, options: ReadOptions, short_dates: bool, scientific: bool = False
) -> tuple[pl.Expr, pl.Expr]:
    kind = column.type
    if kind is Type.DATE:
        return _date(x, options.date_format, short=short_dates)
    if kind is Type.AMOUNT:
        return amount(x, options, positive=column.name != "credit_limit", scientific=scientific)
    value: pl.Expr
    if kind is Type.INT:
        ok = x.str.contains(r"^[0-9]{1,9}$")
        value = pl.when(ok).then(x.cast(pl.Int32, strict=False))
        bad = x.is_not_null() & (value.is_null() | (value < 1))
        return value, pl.when(bad).then(pl.format("'{}' is not a whole number of 1 or more", x))
    if kind is Type.BOOL:
        value = x.str.to_lowercase().replace_strict(BOOLEANS, default=None, return_dtype=pl.Boolean)
        bad = x.is_not_null() & value.is_null()
        return value, _bad(
            bad, "'{}' is not yes or no (accepted: yes/no, y/n, true/false, 1/0, si)", x
        )
    if kind is Type.CHOICE:
        value = x.str.to_lowercase().str.replace_all(" ", "_")
        bad = x.is_not_null() & ~value.is_in(list(column.choices))
        accepted = ", ".join(column.choices)
        return value, _bad(bad, f"'{{}}' is not one of: {accepted}", x)
    if kind is Type.CURRENCY:
        value = x.str.to_uppercase()
        bad = x.is_not_null() & ~value.is_in(sorted(known_currencies()))
        return value, _bad(bad, "'{}' is not an ISO 4217 currency code (USD, EUR, COP...)", x)
    if kind is Type.COUNTRY:
        value = x.str.to_uppercase()
        bad = x.is_not_null() & ~value.is_in(list(countries()))
        return value, _bad(bad, "'{}' is not an ISO 3166 two-letter country code (US, ES...)", x)
    if kind is Type.TIMEZONE:
        bad = x.is_not_null() & ~x.is_in(list(timezones()))
        return x, _bad(bad, "'{}' is not an IANA time zone (America/Bogota, Europe/Madrid...)", x)
    if kind is Type.EMAIL:
        bad = x.is_not_null() & ~x.str.contains(_EMAIL)
        return x, _bad(bad, "'{}' is not an email address", x)
    if kind is Type.TAGS:
        tags = x.fill_null("").str.split(";").list.eval(pl.element().str.strip_chars())
        return tags.list.eval(pl.element().filter(pl.element() != "")), pl.lit(None, pl.String)
    # TEXT, and PHONE whose value and problem come from phone_numbers()
    return x, pl.lit(None, pl.String)


def _bad(condition: pl.Expr, template: str, x: pl.Expr) -> pl.Expr:
    return pl.when(condition).then(pl.format(template, x))


def _date(x: pl.Expr, date_format: str, *, short: bool = False) -> tuple[pl.Expr, pl.Expr]:
    fmt = "%Y-%m-%d" if date_format == "auto" else date_format
    if date_format == "auto" and not short:  # an ISO date-time counts as its date (ERP, Excel)
        x = x.str.replace(_ISO_TIME, "$1")
    value = x.str.to_date(fmt, strict=False)
    failed = x.is_not_null() & value.is_null()
    if date_format == "auto":
        shaped = x.str.contains(r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}$")
        message = (
            pl.when(shaped)
            .then(pl.format("'{}' is not a real date (no such day in the calendar)", x))
            .otherwise(
                pl.format(
                    "'{}' is not a date in the format YYYY-MM-DD "
                    "(set import.date_format if the file uses another)",
                    x,
                )
            )
        )
    else:
        message = pl.format(
            f"'{{}}' is not a valid date in the format {fmt} (import.date_format)", x
        )
    return value, pl.when(failed).then(message)


def amount(
    x: pl.Expr, options: ReadOptions, *, positive: bool, scientific: bool = False
) -> tuple[pl.Expr, pl.Expr]:
    """Minor units of a decimal text in the row's currency (``__exponent``), and the problem."""
    minor, problem = _amount(x, options, positive=positive, scientific=scientific)
    return amount_value(minor, problem), problem


def amount_value(minor: pl.Expr, problem: pl.Expr) -> pl.Expr:
    """The minor units where the amount has no problem (``problem`` may be the column of the
    problems already computed: Polars would otherwise compute the messages a second time)."""
    return pl.when(problem.is_null() & pl.col("__exponent").is_not_null()).then(minor)


def amount_minor(
    column: Column,
    options: ReadOptions,
    typed: bool | pl.Expr = False,
    *,
    scientific: bool = False,
) -> pl.Expr:
    """The unchecked minor units of an amount column (see ``amount_value``)."""
    x = pl.col(column.name)
    as_text = _amount(x, options, positive=True, scientific=scientific)[0]
    if typed is False:
        return as_text
    as_typed = _amount(x, typed_options(options), positive=True, scientific=scientific)[0]
    return as_typed if typed is True else pl.when(typed).then(as_typed).otherwise(as_text)


def _amount(
    x: pl.Expr, options: ReadOptions, *, positive: bool, scientific: bool = False
) -> tuple[pl.Expr, pl.Expr]:
    dec, thousands = options.decimal_separator, options.thousands_separator
    d, t = re.escape(dec), re.escape(thousands)
    # [0-9], not \d: Polars' \d is any Unicode digit (١٠٠, １００), which no cast reads
    integer = rf"([0-9]{{1,3}}({t}[0-9]{{3}})+|[0-9]+)" if thousands else r"[0-9]+"
    power = r"([eE][+-]?[0-9]{1,3})?" if scientific else ""
    shaped = x.str.contains(rf"^[+-]?{integer}({d}[0-9]+)?{power}$")
    plain = x.str.replace_all(thousands, "", literal=True) if thousands else x
    plain = plain.str.replace(dec, ".", literal=True)
    exponent = pl.col("__exponent")
    number = _scientific(plain, exponent) if scientific else _decimal(plain, exponent)
    minor, nonzero, large, too_precise = number
    negative = x.str.starts_with("-") & nonzero
    grouping = f" and '{thousands}' between thousands" if thousands else ""
    problem = (
        pl.when(x.is_null())
        .then(None)
        .when(~shaped & (x.str.len_bytes() != x.str.len_chars()))  # not ASCII (a cheap test)
        .then(
            pl.format(
                f"'{{}}' is not an amount: use the digits 0-9 (ASCII), with '{dec}' before the "
                "decimals",
                x,
            )
        )
        .when(~shaped)
        .then(
            pl.format(
                f"'{{}}' is not an amount: write digits with '{dec}' before the decimals{grouping}"
                " (see import.decimal_separator and import.thousands_separator)",
                x,
            )
        )
        .when(negative)
        .then(pl.format(f"'{{}}' is negative: {_sign_rule(positive)}", x))
        .when(large)
        .then(
            pl.format(
                f"'{{}}' is too large: at most {MAX_INTEGER_DIGITS} digits before the decimals", x
            )
        )
        .when(too_precise)
        .then(
            pl.format(
                "'{}' has more decimals than {} allows ({}): round it",
                x,
                pl.col("currency"),
                exponent,
            )
        )
    )
    if positive:
        problem = problem.when(~nonzero).then(pl.format(f"'{{}}' is zero: {_sign_rule(True)}", x))
    return minor, problem


def _decimal(plain: pl.Expr, exponent: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr, pl.Expr]:
    """Minor units, nonzero, too large, too many decimals: of a decimal text with ``.``."""
    whole = plain.str.extract(r"^[+-]?([0-9]+)", 1)
    fraction = plain.str.extract(r"\.([0-9]+)$", 1).fill_null("").str.strip_chars_end("0")
    decimals = fraction.str.len_chars().cast(pl.Int64)
    minor = whole.cast(pl.Int64, strict=False) * _power_of_ten(exponent) + fraction.replace(
        "", "0"
    ).cast(pl.Int64, strict=False) * _power_of_ten(exponent - decimals)
    large = whole.str.strip_chars_start("0").str.len_chars() > MAX_INTEGER_DIGITS
    too_precise = exponent.is_not_null() & (decimals > exponent)
    return minor, plain.str.contains(r"[1-9]"), large, too_precise


def _scientific(plain: pl.Expr, exponent: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr, pl.Expr]:
    """``_decimal`` of a text that may be in scientific notation (``1e+05``, ``1.5E3``): the
    number is ``digits * 10^-scale``, without zeros at either end of ``digits``."""
    whole = plain.str.extract(r"^[+-]?([0-9]+)", 1)
    fraction = plain.str.extract(r"\.([0-9]+)", 1).fill_null("")
    power = plain.str.extract(r"[eE]([+-]?[0-9]+)$", 1).cast(pl.Int64, strict=False).fill_null(0)
    digits = pl.concat_str(whole, fraction)
    significant = digits.str.strip_chars_end("0")
    trailing = digits.str.len_chars().cast(pl.Int64) - significant.str.len_chars().cast(pl.Int64)
    significant = significant.str.strip_chars_start("0")
    size = significant.str.len_chars().cast(pl.Int64)
    scale = fraction.str.len_chars().cast(pl.Int64) - power - trailing
    minor = significant.replace("", "0").cast(pl.Int64, strict=False) * _power_of_ten(
        exponent - scale
    )
    nonzero = size > 0
    large = nonzero & (size - scale > MAX_INTEGER_DIGITS)
    too_precise = nonzero & exponent.is_not_null() & (scale > exponent)
    return minor, nonzero, large, too_precise


def _power_of_ten(k: pl.Expr) -> pl.Expr:
    table = {i: 10**i for i in range(19)}
    return k.replace_strict(table, default=None, return_dtype=pl.Int64)


def _sign_rule(positive: bool) -> str:
    return "it must be more than 0" if positive else "it must be 0 or more"


def phone_numbers(frame: pl.DataFrame) -> pl.DataFrame:
    """E.164 number and problem for each distinct ``(phone, country)`` of ``frame``."""
    pairs = frame.select("phone", "country").unique().drop_nulls("phone")
    e164: list[str | None] = []
    problems: list[str | None] = []
    for text, country in pairs.iter_rows():
        number, problem = _phone(text, country)
        e164.append(number)
        problems.append(problem)
    return pairs.with_columns(
        pl.Series("__phone", e164, dtype=pl.String),
        pl.Series("__phone_problem", problems, dtype=pl.String),
    )


def _phone(text: str, country: str | None) -> tuple[str | None, str | None]:
    where = f" for {country}" if country else ""
    try:
        number = phonenumbers.parse(text, country)
    except phonenumbers.NumberParseException:
        return None, f"'{text}' is not a phone number{where}: write it with its country code (+...)"
    if not phonenumbers.is_valid_number(number):
        return (
            None,
            f"'{text}' is not a valid phone number{where}: check it or add its country code",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None


def attribute(x: pl.Expr, kind: str, options: ReadOptions) -> tuple[pl.Expr, pl.Expr]:
    """(value as stored, problem) of a debtor attribute cell declared of type ``kind`` in
    ``[import.columns.debtors]`` (``io.headers.ATTRIBUTE_TYPES``; undeclared: text). Values
    are stored as text written one way whatever the file's settings, which the policy's
    conditions parse back: numbers with ``.`` and no grouping (``-1234.5``), dates ISO
    (``2026-01-31``), booleans ``true``/``false``."""
    if kind == "number":
        grouping = options.thousands_separator
        plain = x.str.replace_all(grouping, "", literal=True) if grouping else x
        if options.decimal_separator != ".":
            plain = plain.str.replace(options.decimal_separator, ".", literal=True)
        plain = plain.str.strip_prefix("+")
        ok = plain.str.contains(r"^-?[0-9]{1,18}(\.[0-9]{1,10})?$")
        sep = options.decimal_separator
        return pl.when(ok).then(plain), _bad(
            x.is_not_null() & ~ok, f"'{{}}' is not a number (such as 2500{sep}50)", x
        )
    if kind == "date":
        value, problem = _date(x, options.date_format)
        return value.dt.to_string("%Y-%m-%d"), problem
    if kind == "boolean":
        value = x.str.to_lowercase().replace_strict(BOOLEANS, default=None, return_dtype=pl.Boolean)
        bad = x.is_not_null() & value.is_null()
        text = pl.when(value).then(pl.lit("true")).when(~value).then(pl.lit("false"))
        return text, _bad(
            bad, "'{}' is not yes or no (accepted: yes/no, y/n, true/false, 1/0, si)", x
        )
    return x, pl.lit(None, pl.String)
