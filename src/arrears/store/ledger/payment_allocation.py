"""Columnar allocation of many payments (or credit notes) to many open instalments at once.

The reference rule (``arrears.domain.allocation.allocate``) applies one amount at a time. Applied
payment by payment in date order, "oldest due first" is the same as laying the payments end to
end (cumulative sums per debtor and currency, in date order) against the open balances end to end
(cumulative sums in due order) and taking the overlaps of the two sets of intervals. ``fill`` does
that for any grouping in linear time: it merges both sets of interval ends, sorted, and every
elementary segment between two consecutive ends belongs to exactly one demand and one capacity
(found by a backward fill). A property test checks it against the reference.

Demands and capacities are given *in the order they are to be served*; ``fill`` keeps that order.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from arrears.domain.allocation import AllocationRule

#: Order of a debtor's open instalments under "oldest due first" (as the reference rule).
INSTALMENT_ORDER = ("due_date", "issue_date", "invoice", "seq")
#: Order in which payments are applied: by date, then by their external id.
PAYMENT_ORDER = ("received_on", "external_id")


def fill(
    demands: pl.DataFrame,
    capacities: pl.DataFrame,
    group: Sequence[str],
    *,
    demand: str = "demand",
    capacity: str = "capacity",
) -> pl.DataFrame:
    """Serve ``demands`` (``group``, ``demand`` key, ``amount``) from ``capacities`` (``group``,
    ``capacity`` key, ``amount``) in row order within each group.

    Returns the pieces: ``demand``, ``capacity``, ``amount`` (> 0), one row per pair.
    """
    keys = list(group)
    d = demands.filter(pl.col("amount") > 0).select(
        *keys,
        pl.col(demand).alias("_d"),
        pl.col("amount").cum_sum().over(keys).alias("_pos"),
    )
    c = capacities.filter(pl.col("amount") > 0).select(
        *keys,
        pl.col(capacity).alias("_c"),
        pl.col("amount").cum_sum().over(keys).alias("_pos"),
    )
    if d.height == 0 or c.height == 0:
        return pl.DataFrame(
            schema={demand: demands.schema[demand], capacity: capacities.schema[capacity]}
            | {"amount": pl.Int64}
        )
    ends = (
        pl.concat([d, c], how="diagonal_relaxed")
        .group_by([*keys, "_pos"])
        .agg(pl.col("_d").drop_nulls().first(), pl.col("_c").drop_nulls().first())
        .sort([*keys, "_pos"])
    )
    pieces = ends.with_columns(
        pl.col("_d").fill_null(strategy="backward").over(keys),
        pl.col("_c").fill_null(strategy="backward").over(keys),
        (pl.col("_pos") - pl.col("_pos").shift(1).over(keys).fill_null(0)).alias("amount"),
    ).filter(pl.col("_d").is_not_null() & pl.col("_c").is_not_null() & (pl.col("amount") > 0))
    return (
        pieces.group_by(["_d", "_c"], maintain_order=True)
        .agg(pl.col("amount").sum())
        .rename({"_d": demand, "_c": capacity})
    )


def by_rule(
    payments: pl.DataFrame, instalments: pl.DataFrame, rule: AllocationRule
) -> pl.DataFrame:
    """Allocate payments by the workspace's rule over their debtor's open instalments.

    ``payments``: ``source_id``, ``debtor_id``, ``currency``, ``received_on``, ``external_id``,
    ``amount`` (what is left to allocate). ``instalments``: ``instalment_id``, ``debtor_id``,
    ``currency``, ``due_date``, ``issue_date``, ``invoice`` (external id), ``seq``, ``open_minor``.
    Returns ``source_id``, ``instalment_id``, ``amount``.
    """
    group = ["debtor_id", "currency"]
    empty = pl.DataFrame(
        schema={"source_id": pl.Int64, "instalment_id": pl.Int64, "amount": pl.Int64}
    )
    if rule is AllocationRule.NONE or payments.height == 0 or instalments.height == 0:
        return empty
    descending = rule is AllocationRule.NEWEST_DUE_FIRST
    demands = payments.sort([*group, *PAYMENT_ORDER]).select(
        *group, pl.col("source_id"), pl.col("amount")
    )
    capacities = (
        instalments.sort(group)
        .sort(
            [*group, *INSTALMENT_ORDER],
            descending=[False, False] + [descending] * len(INSTALMENT_ORDER),
        )
        .select(*group, pl.col("instalment_id"), pl.col("open_minor").alias("amount"))
    )
    return fill(demands, capacities, group, demand="source_id", capacity="instalment_id")


def remaining_open(instalments: pl.DataFrame, pieces: pl.DataFrame) -> pl.DataFrame:
    """``instalments`` with ``open_minor`` reduced by the ``pieces`` allocated to them."""
    used = pieces.group_by("instalment_id").agg(pl.col("amount").sum().alias("_used"))
    return (
        instalments.join(used, on="instalment_id", how="left")
        .with_columns((pl.col("open_minor") - pl.col("_used").fill_null(0)).alias("open_minor"))
        .drop("_used")
    )
