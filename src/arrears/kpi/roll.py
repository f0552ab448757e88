"""Roll rates between aging buckets, month over month (the roll matrix), and the cure rate.

Each debtor is followed in each currency it owes in. At a month's end its *state* is the aging
bucket (:func:`arrears.kpi.aging.bucket_labels`) of its most past-due open instalment, and its
balance the sum of its open instalments (:func:`arrears.kpi.figures.open_on`). For each calendar
month whose last day is in the period, every debtor with a balance at the end of the month
before is followed to the end of the month, where it is in a bucket again, or, owing nothing
more, ``settled`` (paid or credited) or ``written off`` (some write-off of its was allocated in
the month). Debtors that owed nothing at the start of a month are not in that month's rows.

The roll rate from bucket A to state B in a month is the balance, at the start of the month,
of the debtors that went from A to B, over the balance of all the debtors in A then (rates by
amount, the usual measure; counts of debtors are given beside them). The matrix of a period
adds its months' amounts before dividing.

Cure rate: of the balance past due at the start of a month (any bucket but ``current``), the
part whose debtors were ``current`` or ``settled`` at its end; a write-off is not a cure.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import date, timedelta

import polars as pl

from arrears.kpi.aging import CURRENT, bucket_index, bucket_labels
from arrears.kpi.figures import live_on, open_on

SETTLED = "settled"
WRITTEN_OFF = "written off"


def month_ends(start: date, end: date) -> list[date]:
    """The last days of the calendar months that end from ``start`` to ``end``."""
    ends: list[date] = []
    year, month = start.year, start.month
    while True:
        last = date(year, month, calendar.monthrange(year, month)[1])
        if last > end:
            return ends
        if last >= start:
            ends.append(last)
        year, month = (year, month + 1) if month < 12 else (year + 1, 1)


def states(
    instalments: pl.DataFrame,
    allocations: pl.DataFrame,
    day: date,
    edges: Sequence[int],
    keys: Sequence[str] = (),
) -> pl.LazyFrame:
    """Each debtor owing something at the end of ``day``, per currency: ``debtor_id``,
    ``keys`` (debtor attributes such as ``segment``), ``currency``, ``bucket`` (position in
    ``bucket_labels(edges)``) and ``balance`` (minor units)."""
    dpd = (pl.lit(day) - pl.col("due_date")).dt.total_days()
    return (
        open_on(instalments, allocations, day)
        .filter(pl.col("open_minor") > 0)
        .with_columns(bucket_index(dpd, edges))
        .group_by("debtor_id", *keys, "currency")
        .agg(pl.col("bucket").max(), pl.col("open_minor").sum().alias("balance"))
    )


def roll_rates(
    instalments: pl.DataFrame,
    allocations: pl.DataFrame,
    start: date,
    end: date,
    edges: Sequence[int],
    keys: Sequence[str] = (),
    states: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The moves of each month ending from ``start`` to ``end``: ``month`` (its last day),
    ``keys``, ``currency``, ``from_bucket``, ``to_bucket`` (labels), ``count`` (debtors),
    ``amount`` (their balance at the start of the month, minor units) and ``rate`` (of the
    ``from_bucket``'s balance that month). Ordered by month, group, from and to.

    With ``states`` (:func:`monthly_states` rows of every month end needed, the end of the
    month before ``start``'s included, ``keys`` joined on), the month ends are read from them
    instead of being derived from ``instalments`` and ``allocations``."""
    lasts = month_ends(start, end)
    if not lasts:
        return _empty(instalments, keys)
    # every day a state is needed: the end of the month before the first, then each month end
    days = [lasts[0].replace(day=1) - timedelta(days=1), *lasts]
    if states is not None:
        return _moves_from_states(states, days, edges, keys)
    wide = _wide_states(instalments, allocations, days, edges, keys)
    return _moves(wide, lasts, edges, keys)


def _moves_from_states(
    states: pl.DataFrame, days: Sequence[date], edges: Sequence[int], keys: Sequence[str]
) -> pl.DataFrame:
    """:func:`_moves` from :func:`monthly_states`' rows: each month's debtors owing at its
    start joined to their rows at its end (one join per month, no wide frame)."""
    labels = bucket_labels(edges)
    targets = [*labels, SETTLED, WRITTEN_OFF]
    group = [*keys, "currency"]
    on = ["debtor_id", *group]
    late = pl.col("oldest_days")
    by_day = {
        key[0]: frame
        for key, frame in states.with_columns(
            pl.when(late.is_not_null()).then(bucket_index(late, edges)).alias("bucket")
        )
        .partition_by("month_end", as_dict=True)
        .items()
    }
    empty = states.clear().with_columns(pl.lit(None, pl.Int32()).alias("bucket"))
    months = []
    for k in range(1, len(days)):
        before, after = by_day.get(days[k - 1], empty), by_day.get(days[k], empty)
        moved = (
            before.lazy()
            .filter(pl.col("balance_minor") > 0)
            .select(*on, "bucket", "balance_minor")
            .join(
                after.lazy().select(
                    *on,
                    pl.col("bucket").alias("_end"),
                    (pl.col("written_off_minor") > 0).alias("_w"),
                ),
                on=on,
                how="left",
                nulls_equal=True,
            )
            .with_columns(
                pl.coalesce(
                    pl.col("_end"),
                    pl.when(pl.col("_w").fill_null(False))
                    .then(len(labels) + 1)
                    .otherwise(len(labels)),
                ).alias("_to")
            )
            .group_by(*group, "bucket", "_to")
            .agg(
                pl.len().cast(pl.Int64()).alias("count"),
                pl.col("balance_minor").sum().cast(pl.Int64()).alias("amount"),
            )
            .with_columns(pl.lit(days[k]).alias("month"))
        )
        months.append(moved)
    return _named_moves(pl.concat(months), targets, keys, edges)


def _named_moves(
    moves: pl.LazyFrame, targets: Sequence[str], keys: Sequence[str], edges: Sequence[int]
) -> pl.DataFrame:
    """``moves`` (``bucket`` and ``_to``: indexes into ``targets``) as :func:`with_rates`'
    rows: ``from_bucket`` and ``to_bucket`` named."""
    names = dict(enumerate(targets))
    frame = (
        moves.with_columns(
            pl.col("bucket").replace_strict(names, return_dtype=pl.String()).alias("from_bucket"),
            pl.col("_to").replace_strict(names, return_dtype=pl.String()).alias("to_bucket"),
        )
        .select("month", *keys, "currency", "from_bucket", "to_bucket", "count", "amount")
        .collect()
    )
    return with_rates(frame, ["month", *keys], edges)


def _moves(
    wide: pl.DataFrame, lasts: Sequence[date], edges: Sequence[int], keys: Sequence[str]
) -> pl.DataFrame:
    """The months' moves from :func:`_wide_states`' columns (day 0: the month before the
    first of ``lasts``)."""
    labels = bucket_labels(edges)
    targets = [*labels, SETTLED, WRITTEN_OFF]
    group = [*keys, "currency"]
    months = []
    for k, last in enumerate(lasts, start=1):
        to = pl.coalesce(
            pl.col(f"_b{k}"),
            pl.when(pl.col(f"_w{k}")).then(len(labels) + 1).otherwise(len(labels)),
        )
        months.append(
            wide.filter(pl.col(f"_o{k - 1}") > 0)
            .group_by(*group, pl.col(f"_b{k - 1}").alias("bucket"), to.alias("_to"))
            .agg(
                pl.len().cast(pl.Int64()).alias("count"),
                pl.col(f"_o{k - 1}").sum().cast(pl.Int64()).alias("amount"),
            )
            .with_columns(pl.lit(last).alias("month"))
        )
    return _named_moves(pl.concat(months).lazy(), targets, keys, edges)


#: The columns of :func:`monthly_states` (the store's ``kpi_monthly_snapshot``, less the
#: portfolio and the stage).
STATE_SCHEMA: dict[str, pl.DataType] = {
    "month_end": pl.Date(),
    "debtor_id": pl.Int64(),
    "currency": pl.String(),
    "balance_minor": pl.Int64(),
    "overdue_minor": pl.Int64(),
    "oldest_days": pl.Int32(),
    "written_off_minor": pl.Int64(),
}


def _allocated(days: Sequence[date]) -> list[pl.Expr]:
    """Per instalment (an aggregation of its allocations): ``_a{k}``, the amount allocated to it
    and live at the end of ``days[k]``."""
    return [
        pl.col("amount_minor").filter(live_on(day)).sum().alias(f"_a{k}")
        for k, day in enumerate(days)
    ]


def _balances(days: Sequence[date]) -> list[pl.Expr]:
    """Per instalment joined to its :func:`_allocated` columns: ``_o{k}``, its open amount at the
    end of ``days[k]`` (0 before it was issued)."""
    return [
        pl.when(pl.col("issue_date") <= day)
        .then((pl.col("amount_minor") - pl.col(f"_a{k}").fill_null(0)).clip(0))
        .otherwise(0)
        .alias(f"_o{k}")
        for k, day in enumerate(days)
    ]


def monthly_states(
    instalments: pl.DataFrame, allocations: pl.DataFrame, days: Sequence[date]
) -> pl.DataFrame:
    """Each debtor's state at the end of each month end of ``days`` (each the last day of its
    month), per currency (:data:`STATE_SCHEMA`): ``balance_minor``, the sum of its open
    instalments (:func:`~arrears.kpi.figures.open_on`); ``overdue_minor``, the part past due
    (due before the day); ``oldest_days``, the days past due of its most past-due open
    instalment (null: nothing open; its aging bucket for any edges is that of these days);
    ``written_off_minor``, the write-offs allocated in the month (after the month before's last
    day) and live at its end. One row per debtor, currency and day where the balance or the
    write-offs are not 0. What the roll and cure rates need of a month end, derived exactly from
    the ledger: :func:`roll_rates` gives the same moves from these rows as from the ledger."""
    if not days:
        return pl.DataFrame(schema=STATE_SCHEMA)
    days = sorted(days)
    amount = pl.col("amount_minor")
    write_off = pl.col("source_kind") == "write_off"
    opened = [day.replace(day=1) - timedelta(days=1) for day in days]
    paid = (
        allocations.lazy()
        .group_by("instalment_id")
        .agg(
            *_allocated(days),
            *(
                amount.filter(write_off & (pl.col("allocated_on") > opened[k]) & live_on(day))
                .sum()
                .alias(f"_x{k}")
                for k, day in enumerate(days)
            ),
        )
    )
    rows = (
        instalments.lazy()
        .join(paid, on="instalment_id", how="left")
        .with_columns(_balances(days))
        .with_columns(
            *(
                pl.when(pl.col(f"_o{k}") > 0)
                .then((pl.lit(day) - pl.col("due_date")).dt.total_days())
                .otherwise(None)
                .alias(f"_d{k}")
                for k, day in enumerate(days)
            ),
        )
        .with_columns(
            pl.when(pl.col(f"_d{k}") > 0).then(pl.col(f"_o{k}")).otherwise(0).alias(f"_p{k}")
            for k in range(len(days))
        )
        .group_by("debtor_id", "currency")
        .agg(
            *(pl.col(f"_{c}{k}").sum() for k in range(len(days)) for c in ("o", "p")),
            *(pl.col(f"_x{k}").fill_null(0).sum() for k in range(len(days))),
            *(pl.col(f"_d{k}").max() for k in range(len(days))),
        )
        .collect()
    )
    return pl.concat(
        [
            rows.filter((pl.col(f"_o{k}") > 0) | (pl.col(f"_x{k}") > 0)).select(
                pl.lit(day).alias("month_end"),
                pl.col("debtor_id").cast(pl.Int64()),
                "currency",
                pl.col(f"_o{k}").cast(pl.Int64()).alias("balance_minor"),
                pl.col(f"_p{k}").cast(pl.Int64()).alias("overdue_minor"),
                pl.col(f"_d{k}").cast(pl.Int32()).alias("oldest_days"),
                pl.col(f"_x{k}").cast(pl.Int64()).alias("written_off_minor"),
            )
            for k, day in enumerate(days)
        ]
    ).sort("month_end", "debtor_id", "currency")


def _wide_states(
    instalments: pl.DataFrame,
    allocations: pl.DataFrame,
    days: Sequence[date],
    edges: Sequence[int],
    keys: Sequence[str],
) -> pl.DataFrame:
    """:func:`states` of every day of ``days`` at once, one row per debtor and currency (and
    ``keys``): ``_o{k}`` its balance at the end of ``days[k]`` (0: owed nothing), ``_b{k}`` the
    bucket of its most past-due open instalment then (null: nothing open), and for k >= 1
    ``_w{k}``: a write-off of its was allocated after ``days[k - 1]`` and was live on
    ``days[k]``. One pass over the allocations and one over the instalments, whatever the
    number of days (not one per day)."""
    write_off = pl.col("source_kind") == "write_off"
    paid = (
        allocations.lazy()
        .group_by("instalment_id")
        .agg(
            *_allocated(days),
            *(
                (write_off & (pl.col("allocated_on") > days[k - 1]) & live_on(days[k]))
                .any()
                .alias(f"_w{k}")
                for k in range(1, len(days))
            ),
        )
    )
    rows = (
        instalments.lazy()
        .filter(pl.col("issue_date") <= days[-1])
        .join(paid, on="instalment_id", how="left")
        .with_columns(_balances(days))
        .with_columns(
            pl.when(pl.col(f"_o{k}") > 0)
            .then(bucket_index((pl.lit(day) - pl.col("due_date")).dt.total_days(), edges))
            .otherwise(None)
            .alias(f"_b{k}")
            for k, day in enumerate(days)
        )
    )
    return (
        rows.group_by("debtor_id", *keys, "currency")
        .agg(
            *(pl.col(f"_o{k}").sum() for k in range(len(days))),
            *(pl.col(f"_b{k}").max() for k in range(len(days))),
            *(pl.col(f"_w{k}").fill_null(False).any() for k in range(1, len(days))),
        )
        .collect()
    )


def with_rates(frame: pl.DataFrame, keys: Sequence[str], edges: Sequence[int]) -> pl.DataFrame:
    """``frame`` (moves with ``amount``) with ``rate`` recomputed, each ``from_bucket``'s
    amounts over their sum within ``keys`` and currency, in bucket order."""
    targets = {name: i for i, name in enumerate([*bucket_labels(edges), SETTLED, WRITTEN_OFF])}
    whole = pl.col("amount").sum().over(*keys, "currency", "from_bucket")
    order = [*keys, "currency", "_from", "_to"]
    return (
        frame.drop("rate", strict=False)
        .with_columns(
            pl.when(whole > 0).then(pl.col("amount") / whole).otherwise(None).alias("rate"),
            pl.col("from_bucket").replace_strict(targets).alias("_from"),
            pl.col("to_bucket").replace_strict(targets).alias("_to"),
        )
        .sort(order, nulls_last=True)
        .drop("_from", "_to")
    )


def roll_matrix(rates: pl.DataFrame, keys: Sequence[str], edges: Sequence[int]) -> pl.DataFrame:
    """The moves of all the months of :func:`roll_rates` added up, per group and currency:
    ``keys``, ``currency``, ``from_bucket``, ``to_bucket``, ``count``, ``amount``, ``rate``."""
    group = [*keys, "currency", "from_bucket", "to_bucket"]
    summed = rates.group_by(group, maintain_order=True).agg(pl.col("count", "amount").sum())
    return with_rates(summed, keys, edges)


def cure_rates(rates: pl.DataFrame, keys: Sequence[str] = ()) -> pl.DataFrame:
    """Per group and currency, from :func:`roll_rates` (any months): ``delinquent`` (balance
    past due at the start of the months, minor units), ``delinquent_count`` (debtor-months),
    ``cured`` and ``cured_count`` (those that were current or settled at the months' ends) and
    ``cure_rate`` (``cured / delinquent``, null when nothing was past due)."""
    group = [*keys, "currency"]
    late = rates.filter(pl.col("from_bucket") != CURRENT)
    cured = pl.col("to_bucket").is_in([CURRENT, SETTLED])
    return (
        late.group_by(group)
        .agg(
            pl.col("amount").sum().alias("delinquent"),
            pl.col("count").sum().alias("delinquent_count"),
            pl.col("amount").filter(cured).sum().alias("cured"),
            pl.col("count").filter(cured).sum().alias("cured_count"),
        )
        .with_columns(
            pl.when(pl.col("delinquent") > 0)
            .then(pl.col("cured") / pl.col("delinquent"))
            .otherwise(None)
            .alias("cure_rate")
        )
        .sort(group, nulls_last=True)
    )


def _empty(instalments: pl.DataFrame, keys: Sequence[str]) -> pl.DataFrame:
    schema: dict[str, pl.DataType] = {"month": pl.Date()}
    schema |= {k: instalments.schema[k] for k in (*keys, "currency")}
    schema |= {"from_bucket": pl.String(), "to_bucket": pl.String()}
    schema |= {"count": pl.Int64(), "amount": pl.Int64(), "rate": pl.Float64()}
    return pl.DataFrame(schema=schema)
