"""Days sales outstanding: how many days of credit sales the receivables stand for.

Over a period of ``days`` days (both ends included), with the figures of
:func:`arrears.kpi.figures.period_figures`:

- standard DSO = receivables at the end / credit sales in the period × days;
- best-possible DSO (BPDSO) = current receivables at the end / credit sales × days: the DSO if
  nothing were past due;
- average days delinquent (ADD) = DSO − BPDSO = past-due receivables at the end / credit
  sales × days;
- countback DSO (:func:`countback_dso`): the receivables at the end are matched against the
  credit sales of the most recent months, one month at a time going back, until they are used
  up; DSO is the days of the months used up whole plus the used part of the last one.

Standard DSO, BPDSO and ADD are null for a period without credit sales; countback counts a month
without sales whole while receivables are left. The results are days (floats); the amounts they
come from stay integer minor units.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import date

import polars as pl


def _per_sales(amount: str, days: int) -> pl.Expr:
    sales = pl.col("sales")
    return pl.when(sales > 0).then(pl.col(amount) / sales * days).otherwise(None)


def standard_dso(days: int) -> pl.Expr:
    """``closing / sales × days`` (null without sales)."""
    return _per_sales("closing", days).alias("dso")


def best_possible_dso(days: int) -> pl.Expr:
    """``closing_current / sales × days`` (null without sales)."""
    return _per_sales("closing_current", days).alias("best_possible_dso")


def average_days_delinquent(days: int) -> pl.Expr:
    """``closing_past_due / sales × days`` = DSO − BPDSO (null without sales)."""
    return _per_sales("closing_past_due", days).alias("average_days_delinquent")


def month_ends_back(end: date, first: date) -> list[date]:
    """``end`` and the same day of each month before it, back to the first on or before
    ``first``: the ends of the countback's months, newest first.

    When ``end`` is the last day of its month, every end is a month's last day (calendar
    months); otherwise the same day of the month, or the month's last day if it is shorter.
    """
    last_of_month = end.day == calendar.monthrange(end.year, end.month)[1]
    ends = [end]
    year, month = end.year, end.month
    while ends[-1] > first:
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        length = calendar.monthrange(year, month)[1]
        ends.append(date(year, month, length if last_of_month else min(end.day, length)))
    return ends


def monthly_sales(instalments: pl.DataFrame, end: date, keys: Sequence[str] = ()) -> pl.DataFrame:
    """Credit sales of each month back from ``end`` (:func:`month_ends_back`), per group and
    currency: ``keys``, ``currency``, ``month`` (0 = the month ending on ``end``, 1 the one
    before, ...), ``days`` (the month's days) and ``sales`` (minor units, 0 when none). Every
    group has every month back to its first sale."""
    group = [*keys, "currency"]
    issued = instalments.filter(pl.col("issue_date") <= end)
    if issued.is_empty():
        schema = {**{k: issued.schema[k] for k in group}, "month": pl.Int64(), "days": pl.Int64()}
        return pl.DataFrame(schema={**schema, "sales": pl.Int64()})
    first = issued["issue_date"].min()
    assert isinstance(first, date)
    ends = month_ends_back(end, first)  # newest first
    ascending = pl.Series(ends[::-1], dtype=pl.Date())
    # an issue day d falls in month k when ends[k + 1] < d <= ends[k]
    position = ascending.search_sorted(issued["issue_date"], side="left")
    month = (len(ends) - 1 - position).alias("month")
    sales = (
        issued.with_columns(month)
        .group_by([*group, "month"])
        .agg(pl.col("amount_minor").sum().cast(pl.Int64()).alias("sales"))
    )
    months = pl.DataFrame(
        {
            "month": range(len(ends) - 1),
            "days": [(ends[k] - ends[k + 1]).days for k in range(len(ends) - 1)],
        },
        schema={"month": pl.Int64(), "days": pl.Int64()},
    )
    oldest = sales.group_by(group).agg(pl.col("month").max().alias("_oldest"))
    grid = oldest.join(months, how="cross").filter(pl.col("month") <= pl.col("_oldest"))
    return (
        grid.join(sales, on=[*group, "month"], how="left", nulls_equal=True)
        .with_columns(pl.col("sales").fill_null(0))
        .select(*group, "month", "days", "sales")
        .sort([*group, "month"], nulls_last=True)
    )


def countback_dso(
    receivables: pl.DataFrame, sales: pl.DataFrame, keys: Sequence[str] = ()
) -> pl.DataFrame:
    """Countback DSO per group and currency: ``keys``, ``currency``, ``countback_dso``.

    ``receivables``: ``keys``, ``currency``, ``closing`` (the receivables at the end);
    ``sales``: :func:`monthly_sales`. Going back from month 0, a month whose sales are used up
    whole by what is left of the receivables counts all its days; the month where they run out
    counts ``left / sales × days``. Receivables of 0 give 0 days; receivables larger than all
    the sales (impossible in one ledger) count every month.
    """
    group = [*keys, "currency"]
    walk = (
        receivables.select(*group, "closing")
        .join(sales, on=group, how="left", nulls_equal=True)
        .sort([*group, "month"], nulls_last=True)
        .with_columns(pl.col("sales").cum_sum().over(group).alias("_through"))
        .with_columns((pl.col("_through") - pl.col("sales")).alias("_before"))
    )
    left = pl.col("closing") - pl.col("_before")
    whole = (pl.col("_before") < pl.col("closing")) & (pl.col("_through") <= pl.col("closing"))
    part = (pl.col("_before") < pl.col("closing")) & (pl.col("_through") > pl.col("closing"))
    counted = (
        pl.when(whole)
        .then(pl.col("days").cast(pl.Float64()))
        .when(part)
        .then(left / pl.col("sales") * pl.col("days"))
        .otherwise(0.0)
    )
    return (
        walk.group_by(group, maintain_order=True)
        .agg(counted.sum().alias("countback_dso"))
        .sort(group, nulls_last=True)
    )
