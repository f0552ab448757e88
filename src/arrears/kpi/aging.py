"""Aging: open receivables by days past due, in buckets, per currency.

A pure function of a snapshot's instalments frame (``arrears.store.cycle.snapshot``) and ``as_of``;
it imports Polars and the standard library only and never reads the clock. Amounts stay integer
minor units; currencies are never added together (every total and share is per currency), except
by :func:`converted`, which states every amount in one currency at rates the caller gives.

Buckets come from edges such as ``(0, 30, 60, 90, 120)``: ``current`` (not yet due, days past
due <= 0), ``1-30``, ``31-60``, ``61-90``, ``91-120`` and ``120+`` (more than 120 days).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from fractions import Fraction
from itertools import pairwise
from typing import Literal, get_args

import polars as pl

By = Literal["total", "debtor", "invoice", "segment", "bucket"]

DEFAULT_EDGES: tuple[int, ...] = (0, 30, 60, 90, 120)
CURRENT = "current"

#: Columns identifying a group for each ``by``, before ``currency``.
GROUP_KEYS: dict[str, tuple[str, ...]] = {
    "total": (),
    "debtor": ("debtor_id", "debtor_external_id"),
    "invoice": ("invoice_id", "invoice_external_id", "debtor_external_id", "disputed"),
    "segment": ("segment",),
    "bucket": ("bucket",),
}


def validate_edges(edges: Sequence[int]) -> tuple[int, ...]:
    """The bucket edges with the ``0`` edge (end of ``current``) in front; ``ValueError`` if bad.

    Edges are whole days, zero or positive, strictly increasing, with at least one above zero.
    """
    values = tuple(edges)
    if any(isinstance(e, bool) or not isinstance(e, int) for e in values):
        raise ValueError(f"bucket edges must be whole numbers of days, got {list(values)}")
    if any(e < 0 for e in values):
        raise ValueError(f"bucket edges must not be negative, got {list(values)}")
    if len(set(values)) != len(values):
        raise ValueError(f"bucket edges must be unique, got {list(values)}")
    if list(values) != sorted(values):
        raise ValueError(f"bucket edges must be in increasing order, got {list(values)}")
    if not any(e > 0 for e in values):
        raise ValueError("give at least one bucket edge above 0, e.g. 0,30,60,90,120")
    return values if values[0] == 0 else (0, *values)


def bucket_labels(edges: Sequence[int]) -> tuple[str, ...]:
    """``("current", "1-30", "31-60", ..., "120+")`` for edges ``(0, 30, 60, ..., 120)``."""
    bounds = validate_edges(edges)
    middle = [f"{low + 1}-{high}" for low, high in pairwise(bounds)]
    return (CURRENT, *middle, f"{bounds[-1]}+")


def days_past_due(instalments: pl.DataFrame, as_of: date) -> pl.Series:
    """Days from each instalment's ``due_date`` to ``as_of`` (negative: not yet due)."""
    return instalments.select(_dpd(as_of)).to_series()


def _dpd(as_of: date) -> pl.Expr:
    return (pl.lit(as_of) - pl.col("due_date")).dt.total_days().alias("days_past_due")


def bucket_index(dpd: pl.Expr, edges: Sequence[int]) -> pl.Expr:
    """Position in :func:`bucket_labels` of each days-past-due value: how many edges it exceeds.

    With edges ``(0, 30)``: dpd <= 0 -> 0 (current), 1..30 -> 1, 31 and more -> 2.
    """
    bounds = validate_edges(edges)
    return pl.sum_horizontal([(dpd > edge).cast(pl.Int32()) for edge in bounds]).alias("bucket")


def aging(
    instalments: pl.DataFrame,
    as_of: date,
    edges: Sequence[int] = DEFAULT_EDGES,
    by: By = "total",
    currency: str | None = None,
) -> pl.DataFrame:
    """The aging report: one row per group and currency, amounts in minor units.

    Columns: the group's keys (:data:`GROUP_KEYS`), ``currency``, ``count`` (open instalments),
    one column per bucket label, ``total``, ``share`` (of the currency's total open balance,
    a ratio in [0, 1]) and, by debtor or invoice, ``oldest_days_past_due`` (0 if none is late).
    Only instalments with ``open_minor > 0`` count. ``ValueError`` for bad edges or ``by``.

    By bucket: one row per bucket and currency, in bucket order (buckets with nothing open are
    left out), with the columns ``bucket`` (its label), ``currency``, ``count``, ``total`` and
    ``share``.
    """
    labels = bucket_labels(edges)
    keys = [*_group_keys(instalments, by), "currency"]
    frame = instalments.lazy().filter(pl.col("open_minor") > 0)
    if currency is not None:
        frame = frame.filter(pl.col("currency") == currency)
    dpd = _dpd(as_of)
    frame = frame.with_columns(dpd, bucket_index(dpd, edges))
    amounts = [
        pl.col("open_minor").filter(pl.col("bucket") == position).sum().alias(label)
        for position, label in enumerate(labels)
    ]
    aggregates = [pl.len().cast(pl.Int64()).alias("count"), *amounts]
    aggregates.append(pl.col("open_minor").sum().alias("total"))
    if by in ("debtor", "invoice"):
        oldest = pl.col("days_past_due").max().clip(lower_bound=0).cast(pl.Int64())
        aggregates.append(oldest.alias("oldest_days_past_due"))
    report = (
        frame.group_by(keys)
        .agg(aggregates)
        .with_columns((pl.col("total") / pl.col("total").sum().over("currency")).alias("share"))
    )
    if by == "bucket":
        label = pl.col("bucket").replace_strict(dict(enumerate(labels)), return_dtype=pl.String())
        ordered = report.sort(["currency", "bucket"]).with_columns(label)
        return ordered.select("bucket", "currency", "count", "total", "share").collect()
    order = ["currency"] if by == "total" else ["currency", "total", *keys[:-1]]
    descending = [False] if by == "total" else [False, True] + [False] * (len(keys) - 1)
    columns = [*keys, "count", *labels, "total", "share"]
    if by in ("debtor", "invoice"):
        columns.append("oldest_days_past_due")
    return report.sort(order, descending=descending, nulls_last=True).select(columns).collect()


def top(report: pl.DataFrame, n: int) -> pl.DataFrame:
    """The ``n`` largest rows of each currency by ``total`` (the report is in that order)."""
    ranked = report.sort(["currency", "total"], descending=[False, True], maintain_order=True)
    return ranked.filter(pl.int_range(pl.len()).over("currency") < n)


def converted(
    report: pl.DataFrame, factors: Mapping[str, Fraction], to: str, edges: Sequence[int]
) -> pl.DataFrame:
    """The report with every amount in ``to``: one row per group, whatever its currencies.

    ``factors[c]`` turns minor units of ``c`` into minor units of ``to`` (the caller's rates);
    each amount is converted and rounded to the nearest minor unit (half to even), a group's
    rows in several currencies are added together, ``total`` is the sum of the converted buckets
    and ``share`` is recomputed over the whole report. ``ValueError`` names the currencies of
    the report without a factor.
    """
    missing = sorted(set(report["currency"].to_list()) - set(factors))
    if missing:
        raise ValueError(f"no rate for {', '.join(missing)}")
    labels = bucket_labels(edges)
    amounts = [name for name in (*labels, "total") if name in report.columns]
    currencies = report["currency"].to_list()
    frame = report.with_columns(
        pl.Series(
            name,
            [round(v * factors[c]) for v, c in zip(report[name], currencies, strict=True)],
            dtype=pl.Int64(),
        )
        for name in amounts
    )
    keys = list(report.columns[: report.columns.index("currency")])
    sums = [pl.col(name).sum() for name in ("count", *amounts)]
    if "oldest_days_past_due" in report.columns:
        sums.append(pl.col("oldest_days_past_due").max())
    grouped = frame.group_by(keys, maintain_order=True).agg(sums) if keys else frame.select(sums)
    buckets = [name for name in labels if name in report.columns]
    if buckets:
        grouped = grouped.with_columns(pl.sum_horizontal(buckets).alias("total"))
    grouped = grouped.with_columns(
        pl.lit(to).alias("currency"), (pl.col("total") / pl.col("total").sum()).alias("share")
    )
    if keys == ["bucket"]:
        position = pl.col("bucket").replace_strict({b: i for i, b in enumerate(labels)})
        grouped = grouped.sort(position)
    elif keys:
        grouped = grouped.sort(["total", *keys], descending=[True] + [False] * len(keys))
    return grouped.select(report.columns)


def _group_keys(instalments: pl.DataFrame, by: str) -> tuple[str, ...]:
    if by not in GROUP_KEYS:
        raise ValueError(f"cannot age by {by!r}; choose one of {', '.join(get_args(By))}")
    # the bucket is computed from due_date
    needed = {*GROUP_KEYS[by], "currency", "due_date", "open_minor"} - {"bucket"}
    missing = sorted(needed - set(instalments.columns))
    if missing:
        raise ValueError(f"aging by {by} needs the column(s) {', '.join(missing)}")
    return GROUP_KEYS[by]
