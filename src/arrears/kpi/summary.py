"""All the period's measures at once, per group and currency (or in one currency at given rates).

The pipeline (every step pure, on the ledger's history frames, see :mod:`arrears.kpi.figures`)::

    instalments, allocations
      ├─ period_figures(start, end)   opening, sales, collected, ..., closing   (minor units)
      ├─ monthly_sales(end)           sales of each month back from end          (countback)
      ├─ roll_rates(start, end)       each month's moves between buckets         (roll, cure)
    promises
      └─ promise_figures(start, end)  promises judged in the period: kept, partial, broken
    [converted(factors, to)]          amounts in one currency, groups' currencies added
      └─ headline: figures + dso, countback_dso, best_possible_dso,
                   average_days_delinquent, cei, bad_debt_ratio, cure_rate,
                   the promises' counts and amounts, promise_kept_rate,
                   promise_partial_rate, promise_paid_rate

Conversion happens on the amounts, before any ratio: a ratio of converted sums, never a sum of
ratios.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

import polars as pl

from arrears.kpi.bad_debt import bad_debt_ratio
from arrears.kpi.cei import collection_effectiveness
from arrears.kpi.dso import (
    average_days_delinquent,
    best_possible_dso,
    countback_dso,
    monthly_sales,
    standard_dso,
)
from arrears.kpi.figures import AMOUNTS, converted, days_in, period_figures
from arrears.kpi.promises import PROMISE_AMOUNTS, PROMISE_COUNTS, promise_figures, promise_rates
from arrears.kpi.roll import cure_rates, roll_matrix, roll_rates, with_rates

#: The measures of :attr:`Measures.headline`, after the amounts, in order.
RATIOS: tuple[str, ...] = (
    "dso",
    "countback_dso",
    "best_possible_dso",
    "average_days_delinquent",
    "cei",
    "bad_debt_ratio",
    "cure_rate",
)
#: The promises' columns of :attr:`Measures.headline`, last.
PROMISES: tuple[str, ...] = (
    *PROMISE_COUNTS,
    *PROMISE_AMOUNTS,
    "promise_kept_rate",
    "promise_partial_rate",
    "promise_paid_rate",
)


@dataclass(frozen=True, slots=True)
class Measures:
    """``headline``: one row per group and currency: ``keys``, ``currency``, the figures'
    :data:`~arrears.kpi.figures.AMOUNTS`, ``delinquent`` and ``cured`` (of the cure rate),
    :data:`RATIOS` and :data:`PROMISES` (counts 0 and rates null without ``promises``).
    ``roll``: :func:`~arrears.kpi.roll.roll_rates` (each month);
    ``matrix``: :func:`~arrears.kpi.roll.roll_matrix` (the period)."""

    start: date
    end: date
    days: int
    headline: pl.DataFrame
    roll: pl.DataFrame
    matrix: pl.DataFrame


def measures(
    instalments: pl.DataFrame,
    allocations: pl.DataFrame,
    start: date,
    end: date,
    edges: Sequence[int],
    keys: Sequence[str] = (),
    factors: Mapping[str, Fraction] | None = None,
    to: str | None = None,
    promises: pl.DataFrame | None = None,
    states: pl.DataFrame | None = None,
) -> Measures:
    """Every measure of the period from ``start`` to ``end`` (both included), per ``keys`` and
    currency; with ``factors`` and ``to``, every amount in ``to`` first (see
    :func:`arrears.kpi.figures.converted`; ``ValueError`` for a currency without a factor).
    ``promises``: one row per promise (:mod:`arrears.kpi.promises`), for the promise rates.
    ``states``: the month ends' states (:func:`arrears.kpi.roll.monthly_states`, the store's
    monthly snapshot, ``keys`` joined on) the roll and cure rates read instead of the ledger."""
    days = days_in(start, end)
    figures = period_figures(instalments, allocations, start, end, keys)
    sales = monthly_sales(instalments, end, keys)
    roll = roll_rates(instalments, allocations, start, end, edges, keys, states)
    judged = None if promises is None else promise_figures(promises, start, end, keys)
    if factors is not None and to is not None:
        figures = converted(figures, AMOUNTS, factors, to, keys)
        sales = converted(sales, ["sales"], factors, to, [*keys, "month", "days"])
        sales = sales.select(*keys, "currency", "month", "days", "sales")
        moves = ["month", *keys, "from_bucket", "to_bucket"]
        roll = converted(roll, ["amount"], factors, to, moves, counts=["count"])
        roll = roll.select(*moves[:-2], "currency", *moves[-2:], "count", "amount")
        roll = with_rates(roll, ["month", *keys], edges)
        if judged is not None:
            judged = converted(judged, PROMISE_AMOUNTS, factors, to, keys, counts=PROMISE_COUNTS)
    group = [*keys, "currency"]
    countback = countback_dso(figures.select(*group, "closing"), sales, keys)
    cures = cure_rates(roll, keys).select(*group, "delinquent", "cured", "cure_rate")
    headline = (
        figures.join(countback, on=group, how="left", nulls_equal=True)
        .join(cures, on=group, how="left", nulls_equal=True)
        .with_columns(pl.col("delinquent", "cured").fill_null(0))
        .with_columns(
            standard_dso(days),
            best_possible_dso(days),
            average_days_delinquent(days),
            collection_effectiveness(),
            bad_debt_ratio(),
        )
    )
    if judged is None:
        headline = headline.with_columns(
            pl.lit(0, pl.Int64()).alias(name) for name in (*PROMISE_COUNTS, *PROMISE_AMOUNTS)
        )
    else:
        headline = headline.join(judged, on=group, how="left", nulls_equal=True).with_columns(
            pl.col(*PROMISE_COUNTS, *PROMISE_AMOUNTS).fill_null(0)
        )
    headline = headline.with_columns(promise_rates()).select(
        *group, *AMOUNTS, "delinquent", "cured", *RATIOS, *PROMISES
    )
    return Measures(start, end, days, headline, roll, roll_matrix(roll, keys, edges))
