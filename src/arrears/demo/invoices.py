"""Demo invoices: issue dates over the months before the end date, lognormal amounts, terms.

:func:`make_invoices` returns one row per instalment (the shape of invoices.csv) with
``amount_minor`` in integer minor units and the internal columns the payment generator needs
(``archetype``, ``term``, dates as ``pl.Date``). Everything is vectorized over invoices.
"""

from __future__ import annotations

import calendar
from datetime import date

import numpy as np
import numpy.typing as npt
import polars as pl

from arrears.domain.money import exponent

#: Invoices per debtor per month, by segment.
MONTHLY_RATE = {"consumer": 0.5, "smb": 1.2, "enterprise": 3.0}
#: Median invoice amount in US dollars and the lognormal sigma, by segment.
AMOUNT = {"consumer": (120.0, 0.9), "smb": (1_500.0, 1.0), "enterprise": (12_000.0, 1.0)}
#: Amounts are multiples of this many minor units (Colombian invoices in whole 100 pesos).
ROUNDING_MINOR = {"COP": 10_000}
SPLIT_SHARE = 0.04
"""Share of invoices due in 2 or 3 instalments, 30 days apart."""
EPOCH = date(1970, 1, 1)

Ints = npt.NDArray[np.int64]


def months_before(end: date, months: int) -> date:
    """``end`` moved back ``months`` calendar months (the day clamped to the month's length)."""
    total = end.year * 12 + end.month - 1 - months
    year, month = divmod(total, 12)
    day = min(end.day, calendar.monthrange(year, month + 1)[1])
    return date(year, month + 1, day)


def _per_debtor(debtors: pl.DataFrame, table: dict[str, float]) -> npt.NDArray[np.float64]:
    return debtors["segment"].replace_strict(table, return_dtype=pl.Float64).to_numpy()


def _minor_steps(debtors: pl.DataFrame) -> tuple[Ints, Ints]:
    """Per debtor: minor units per major unit, and the rounding step of amounts."""
    currency = debtors["currency"]
    scale = currency.replace_strict(
        {c: 10 ** exponent(c) for c in currency.unique()}, return_dtype=pl.Int64
    )
    step = currency.replace_strict(ROUNDING_MINOR, default=1, return_dtype=pl.Int64)
    return scale.to_numpy(), step.to_numpy()


def amounts(rng: np.random.Generator, debtors: pl.DataFrame, owner: Ints) -> Ints:
    """Lognormal amounts, scaled per segment and currency, rounded once to minor units."""
    median = _per_debtor(debtors, {k: v[0] for k, v in AMOUNT.items()})[owner]
    sigma = _per_debtor(debtors, {k: v[1] for k, v in AMOUNT.items()})[owner]
    rate = debtors["usd_rate"].to_numpy()[owner]
    scale, step = (a[owner] for a in _minor_steps(debtors))
    major = median * rate * np.exp(sigma * rng.standard_normal(owner.size))
    steps = np.round(major * scale / step).astype(np.int64)
    amount: Ints = np.maximum(steps, 1) * step
    return amount


def _split(amount: Ints, parts: Ints, step: Ints) -> tuple[Ints, Ints, Ints]:
    """(row -> invoice, instalment number, instalment amount): equal parts, remainder last."""
    owner = np.repeat(np.arange(amount.size), parts)
    starts = np.repeat(np.cumsum(parts) - parts, parts)
    number = np.arange(owner.size) - starts + 1
    base = amount // parts // step * step
    last = amount - base * (parts - 1)
    return owner, number, np.where(number == parts[owner], last[owner], base[owner])


def make_invoices(
    rng: np.random.Generator,
    debtors: pl.DataFrame,
    *,
    months: int,
    end: date,
    first: int,
    p_dispute: npt.NDArray[np.float64],
) -> pl.DataFrame:
    """Invoices of ``debtors`` numbered from ``first`` (ids ``INV-000000001``...).

    One row per instalment, sorted by debtor, issue date and invoice id.
    """
    start = months_before(end, months)
    span = (end - start).days
    counts = rng.poisson(_per_debtor(debtors, MONTHLY_RATE) * months)
    owner = np.repeat(np.arange(debtors.height), counts)
    issue = (end - EPOCH).days - rng.integers(0, span, owner.size)
    order = np.lexsort((issue, owner))
    owner, issue = owner[order], issue[order]
    amount = amounts(rng, debtors, owner)
    step = _minor_steps(debtors)[1][owner]
    split = (rng.random(owner.size) < SPLIT_SHARE) & (amount >= 30 * step)
    parts = np.where(split, 2 + (rng.random(owner.size) < 0.4), 1).astype(np.int64)
    archetype = debtors["archetype"].to_numpy()[owner]
    disputed = rng.random(owner.size) < p_dispute[archetype]
    company = (debtors["kind"] == "company").to_numpy()[owner]
    reference = np.where(company, rng.integers(100_000, 1_000_000, owner.size), -1)
    row, number, each = _split(amount, parts, step)
    invoice = pl.DataFrame(
        {
            "seq": np.arange(first, first + owner.size, dtype=np.int64) + 1,
            "owner": owner,
            "issue": issue.astype(np.int32),
            "disputed": disputed,
            "ref": reference,
        }
    )
    return _instalment_frame(debtors, invoice[row], number, each)


def _instalment_frame(
    debtors: pl.DataFrame, rows: pl.DataFrame, number: Ints, amount: Ints
) -> pl.DataFrame:
    owner = debtors.select("debtor_id", "currency", "archetype", "term")[rows["owner"]]
    frame = pl.concat([rows, owner], how="horizontal").with_columns(
        instalment=pl.Series(number, dtype=pl.Int32), amount_minor=pl.Series(amount)
    )
    issue = pl.col("issue").cast(pl.Date)
    return frame.select(
        invoice_id=pl.lit("INV-") + pl.col("seq").cast(pl.String).str.zfill(9),
        debtor_id="debtor_id",
        issue_date=issue,
        due_date=issue + pl.duration(days=pl.col("term") + 30 * (pl.col("instalment") - 1)),
        amount_minor="amount_minor",
        currency="currency",
        number=pl.lit(None, dtype=pl.String),
        instalment="instalment",
        disputed="disputed",
        reference=pl.when(pl.col("ref") >= 0).then(pl.lit("PO-") + pl.col("ref").cast(pl.String)),
        portfolio=pl.lit(None, dtype=pl.String),
        archetype="archetype",
        term="term",
    )
