"""Demo payments: each instalment's payments drawn from its debtor's behaviour archetype.

:func:`make_payments` is vectorized over instalments (see :mod:`arrears.demo.archetypes` for
the model). Every payment pays one instalment (``invoice_id``, ``instalment``) with
``allocated_amount`` equal to its amount; the payments of an instalment never exceed it; dates
fall between the issue date and ``end`` (later ones are not written: they have not happened).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import numpy.typing as npt
import polars as pl

from arrears.demo import archetypes
from arrears.demo.invoices import EPOCH

LATE_SHAPE = 1.5
"""Gamma shape of days late (the IBM sample's late days have mean 9.7, sd 7.1)."""
ON_TIME_BETA = (5.0, 2.0)
"""An on-time payment comes at this Beta fraction of the term (about 5/7 of it)."""
PART_GAP_DAYS = (7, 22)
"""Days between the parts of a partial payment (uniform, upper bound excluded)."""
METHODS = ("transfer", "card", "direct_debit", "cheque", "cash")
METHOD_P = (0.55, 0.2, 0.15, 0.07, 0.03)

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


def _param(name: str, arch: Ints, disputed: npt.NDArray[np.bool_]) -> Floats:
    plain = archetypes.parameter(name)[arch]
    if not hasattr(archetypes.ARCHETYPES[0], f"dispute_{name}"):
        return plain
    return np.where(disputed, archetypes.parameter(f"dispute_{name}")[arch], plain)


def _first_payment_day(
    rng: np.random.Generator, inst: pl.DataFrame, arch: Ints, disputed: npt.NDArray[np.bool_]
) -> Ints:
    """Day number of each instalment's first payment: on time, or late by a Gamma draw."""
    n = inst.height
    issue = inst["issue_date"].cast(pl.Int32).to_numpy().astype(np.int64)
    due = inst["due_date"].cast(pl.Int32).to_numpy().astype(np.int64)
    term = inst["term"].to_numpy().astype(np.int64)
    early = np.floor(term * (1.0 - rng.beta(*ON_TIME_BETA, n))).astype(np.int64)
    on_time = np.maximum(due - early, issue)
    mean_late = _param("late_days", arch, disputed)
    scale = np.maximum(mean_late - 1.0, 0.0) / LATE_SHAPE
    late_by = 1 + np.round(rng.gamma(LATE_SHAPE, 1.0, n) * scale).astype(np.int64)
    late = rng.random(n) < _param("p_late", arch, disputed)
    return np.where(late, due + late_by, on_time)


def _parts(
    rng: np.random.Generator, amount: Ints, arch: Ints, disputed: npt.NDArray[np.bool_]
) -> tuple[Ints, Ints, Ints, Ints]:
    """(payment -> instalment, part number, amount, days after the first payment)."""
    n = amount.size
    partial = rng.random(n) < _param("p_partial", arch, disputed)
    count = np.where(partial, 2 + (rng.random(n) < 0.4), 1).astype(np.int64)
    weights = rng.integers(50, 151, (n, 3)).astype(np.int64)
    weights[count == 2, 2] = 0
    weights[count == 1, 1:] = 0
    cuts = np.cumsum(weights, axis=1) * amount[:, None] // weights.sum(axis=1)[:, None]
    shares = np.diff(cuts, axis=1, prepend=0)  # integer parts summing exactly to the amount
    gaps = np.zeros((n, 3), dtype=np.int64)
    gaps[:, 1:] = np.cumsum(rng.integers(*PART_GAP_DAYS, (n, 2)), axis=1)
    stop = rng.random(n) < _param("p_stop", arch, disputed)
    keep = np.arange(3)[None, :] < (count - (stop & partial))[:, None]
    keep &= shares > 0
    row, part = np.nonzero(keep)
    return row, part + 1, shares[row, part], gaps[row, part]


def make_payments(
    rng: np.random.Generator, instalments: pl.DataFrame, *, end: date, first: int
) -> pl.DataFrame:
    """Payments of ``instalments`` made up to ``end``, numbered from ``first`` in date order."""
    arch = instalments["archetype"].to_numpy().astype(np.int64)
    disputed = instalments["disputed"].to_numpy()
    n = instalments.height
    paying = rng.random(n) >= _param("p_unpaid", arch, disputed)
    first_day = _first_payment_day(rng, instalments, arch, disputed)
    amount = instalments["amount_minor"].to_numpy()
    row, _part, paid, gap = _parts(rng, amount, arch, disputed)
    day = first_day[row] + gap
    written = paying[row] & (day <= (end - EPOCH).days)
    row, paid, day = row[written], paid[written], day[written]
    return payment_rows(rng, instalments, row, paid, day, first=first)


def payment_rows(
    rng: np.random.Generator,
    owners: pl.DataFrame,
    row: Ints,
    paid: Ints,
    day: Ints,
    *,
    first: int,
) -> pl.DataFrame:
    """The payments table: ``paid`` minor units on ``day`` (days since EPOCH) against row ``row``
    of ``owners`` (an invoice or instalment table), allocated explicitly to it, numbered from
    ``first`` in date order; method and reference are drawn from ``rng``."""
    order = np.lexsort((row, day))
    row, paid, day = row[order], paid[order], day[order]
    method = rng.choice(len(METHODS), row.size, p=METHOD_P)
    reference = rng.integers(10**9, 10**10, row.size)
    frame = pl.DataFrame(
        {
            "seq": np.arange(first, first + row.size, dtype=np.int64) + 1,
            "day": day.astype(np.int32),
            "paid": paid,
            "method": pl.Series(METHODS).gather(method),
            "ref": reference,
        }
    )
    owner = owners.select("debtor_id", "currency", "invoice_id", "instalment")[row]
    return pl.concat([frame, owner], how="horizontal").select(
        payment_id=pl.lit("PAY-") + pl.col("seq").cast(pl.String).str.zfill(10),
        debtor_id="debtor_id",
        date=pl.col("day").cast(pl.Date),
        amount_minor="paid",
        currency="currency",
        method="method",
        reference=pl.lit("TRX") + pl.col("ref").cast(pl.String),
        invoice_id="invoice_id",
        instalment="instalment",
        allocated_amount_minor="paid",
        portfolio=pl.lit(None, dtype=pl.String),
    )
