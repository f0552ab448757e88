"""The ledger's figures for a period: receivables at its start and end, credit sales, and what
was collected, credited and written off in it, per group and currency, in integer minor units.

The measures (:mod:`arrears.kpi.dso`, :mod:`arrears.kpi.cei`, :mod:`arrears.kpi.bad_debt`,
:mod:`arrears.kpi.roll`) are all computed from these figures, and these are derived exactly
from the ledger as of any past day: no snapshot table is kept. The input is the ledger's whole
history as the propensity model reads it (``arrears.scoring.frames.History``, read by
``arrears.store.scoring.history.read_history``):

- ``instalments``: ``instalment_id``, ``debtor_id``, ``currency``, ``issue_date``,
  ``due_date``, ``amount_minor`` and any grouping column (``segment``, ...);
- ``allocations``: ``instalment_id``, ``source_kind`` (``payment``, ``credit_note``,
  ``write_off``), ``amount_minor``, ``allocated_on``, ``reversed_on`` (null: never reversed).

Point in time (the snapshot's rule, docs/aging.md): at the end of ``day`` the receivables are
the instalments issued on or before ``day``, each less its allocations dated on or before
``day`` and not reversed on or before ``day``. An instalment is *current* on ``day`` when it is
not past due (due on ``day`` or later). Currencies are never added together, except by
:func:`converted`, at rates the caller gives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from fractions import Fraction

import polars as pl

#: The amounts of :func:`period_figures`, in its column order (minor units).
AMOUNTS: tuple[str, ...] = (
    "opening",
    "sales",
    "collected",
    "credited",
    "written_off",
    "closing",
    "closing_current",
    "closing_past_due",
)

KINDS = {"collected": "payment", "credited": "credit_note", "written_off": "write_off"}


def live_on(day: date) -> pl.Expr:
    """An allocation counts at the end of ``day``: dated by then and not reversed by then."""
    reversed_on = pl.col("reversed_on")
    return (pl.col("allocated_on") <= day) & (reversed_on.is_null() | (reversed_on > day))


def open_on(instalments: pl.DataFrame, allocations: pl.DataFrame, day: date) -> pl.LazyFrame:
    """The instalments issued on or before ``day`` with ``open_minor``, their balance at its
    end (never below zero)."""
    paid = (
        allocations.lazy()
        .filter(live_on(day))
        .group_by("instalment_id")
        .agg(pl.col("amount_minor").sum().alias("_allocated"))
    )
    return (
        instalments.lazy()
        .filter(pl.col("issue_date") <= day)
        .join(paid, on="instalment_id", how="left")
        .with_columns(
            (pl.col("amount_minor") - pl.col("_allocated").fill_null(0)).clip(0).alias("open_minor")
        )
        .drop("_allocated")
    )


def period_figures(
    instalments: pl.DataFrame,
    allocations: pl.DataFrame,
    start: date,
    end: date,
    keys: Sequence[str] = (),
) -> pl.DataFrame:
    """One row per group (``keys``) and currency, ordered by them, with :data:`AMOUNTS`:

    - ``opening``: receivables at the end of the day before ``start``;
    - ``sales``: credit sales, the instalments issued from ``start`` to ``end`` (in full);
    - ``collected`` / ``credited`` / ``written_off``: payments, credit notes and write-offs
      allocated from ``start`` to ``end`` and not reversed by ``end``;
    - ``closing``: receivables at the end of ``end``; ``closing_current`` the part not past due
      on ``end`` (due on ``end`` or later), ``closing_past_due`` the rest.

    A group appears when it has any instalment issued by ``end``. ``ValueError`` when
    ``end`` is before ``start``.
    """
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    before = start - timedelta(days=1)
    amount = pl.col("amount_minor")
    in_period = (pl.col("allocated_on") >= start) & live_on(end)
    sums = (
        allocations.lazy()
        .group_by("instalment_id")
        .agg(
            amount.filter(live_on(end)).sum().alias("_by_end"),
            amount.filter(live_on(before)).sum().alias("_by_start"),
            *(
                amount.filter(in_period & (pl.col("source_kind") == kind)).sum().alias(name)
                for name, kind in KINDS.items()
            ),
        )
    )
    issued_before = pl.col("issue_date") <= before
    closing = (amount - pl.col("_by_end")).clip(0)
    rows = (
        instalments.lazy()
        .filter(pl.col("issue_date") <= end)
        .join(sums, on="instalment_id", how="left")
        .with_columns(pl.col("_by_end", "_by_start", *KINDS).fill_null(0))
        .with_columns(
            pl.when(issued_before)
            .then((amount - pl.col("_by_start")).clip(0))
            .otherwise(0)
            .alias("opening"),
            pl.when(issued_before).then(0).otherwise(amount).alias("sales"),
            closing.alias("closing"),
            pl.when(pl.col("due_date") >= end).then(closing).otherwise(0).alias("closing_current"),
        )
        .with_columns((pl.col("closing") - pl.col("closing_current")).alias("closing_past_due"))
    )
    group = [*keys, "currency"]
    figures = rows.group_by(group).agg(pl.col(name).sum().cast(pl.Int64()) for name in AMOUNTS)
    return figures.sort(group, nulls_last=True).collect()


def days_in(start: date, end: date) -> int:
    """The days of the period, both ends included."""
    return (end - start).days + 1


def converted(
    frame: pl.DataFrame,
    amounts: Sequence[str],
    factors: Mapping[str, Fraction],
    to: str,
    keys: Sequence[str] = (),
    counts: Sequence[str] = (),
) -> pl.DataFrame:
    """``frame``'s ``amounts`` stated in ``to``, a group's currencies added into one row.

    ``factors[c]`` turns minor units of ``c`` into minor units of ``to`` (the workspace's
    ``[rates]``, as ``arrears aging --in``); each amount is converted and rounded to the nearest
    minor unit (half to even) before the rows are added; ``counts`` are added as they are.
    Columns: ``keys``, ``currency`` (``to``), ``counts`` and ``amounts``. ``ValueError`` names
    the currencies without a factor.
    """
    missing = sorted(set(frame["currency"].to_list()) - set(factors))
    if missing:
        raise ValueError(f"no rate for {', '.join(missing)}")
    currencies = frame["currency"].to_list()
    stated = frame.with_columns(
        pl.Series(
            name,
            [round(v * factors[c]) for v, c in zip(frame[name], currencies, strict=True)],
            dtype=pl.Int64(),
        )
        for name in amounts
    )
    sums = [pl.col(name).sum() for name in (*counts, *amounts)]
    grouped = (
        stated.group_by(list(keys), maintain_order=True).agg(sums) if keys else stated.select(sums)
    )
    columns = [*keys, "currency", *counts, *amounts]
    return grouped.with_columns(pl.lit(to).alias("currency")).select(columns)
