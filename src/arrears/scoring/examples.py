"""Point-in-time training examples: features as of each snapshot day, outcomes after it.

- :func:`debtor_examples`: for each snapshot day, each (debtor, currency) with an overdue balance
  that day, its features as of that day and the outcome in the window after it: ``paid`` is
  true when payments dated in ``(day, day + window_days]`` (not reversed by the window's end)
  cover at least ``share`` of what was overdue on the day.
- :func:`invoice_examples`: each invoice on its issue day (and, optionally, each invoice still
  open on a snapshot day), its features as of that day and its outcomes: ``late`` (settled after
  its due date, or still open after it) and ``days_to_pay`` (settlement day minus the example's
  day; null while it is unsettled at the end of the history).

Features come from :func:`arrears.scoring.frames.view_at`, which sees nothing dated after the
day; outcomes are read from the whole history.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import polars as pl

from arrears.scoring.features import KEY, debtor_features, invoice_features
from arrears.scoring.frames import History, issue_view, live_allocations, view_at


def snapshot_days(start: date, end: date, every_days: int = 7) -> list[date]:
    """``start``, ``start + every_days``... up to ``end`` inclusive."""
    days = []
    day = start
    while day <= end:
        days.append(day)
        day += timedelta(days=every_days)
    return days


def debtor_examples(
    history: History, days: Iterable[date], *, window_days: int = 30, share: float = 0.5
) -> pl.DataFrame:
    """One row per (snapshot day, debtor, currency) overdue that day; see the module."""
    frames = []
    payments = history.allocations.filter(pl.col("source_kind") == "payment")
    for day in days:
        view = view_at(history, day)
        feats = debtor_features(view).filter(pl.col("overdue_minor") > 0)
        if feats.is_empty():
            continue
        overdue = view.instalments.filter(
            (pl.col("open_minor") > 0) & (pl.col("due_date") < day)
        ).select("instalment_id", *KEY)
        end = day + timedelta(days=window_days)
        paid = (
            live_allocations(payments, end)
            .filter(pl.col("allocated_on") > day)
            .join(overdue.lazy(), on="instalment_id")
            .group_by(KEY)
            .agg(pl.col("amount_minor").sum().alias("paid_minor"))
            .collect()
        )
        frames.append(
            feats.join(paid, on=KEY, how="left").with_columns(
                pl.lit(day).alias("as_of"),
                pl.col("paid_minor").fill_null(0),
                (pl.col("paid_minor").fill_null(0) >= share * pl.col("overdue_minor")).alias(
                    "paid"
                ),
            )
        )
    if not frames:
        return pl.DataFrame()
    return pl.concat(frames, how="vertical_relaxed")


def settlements(history: History) -> pl.DataFrame:
    """Per invoice: the day its balance reached zero, as the whole history stands (else null)."""
    last = history.last_day
    if last is None:
        return pl.DataFrame(schema={"invoice_id": pl.Int64(), "settled_on": pl.Date()})
    live = (
        live_allocations(history.allocations, last)
        .group_by("instalment_id")
        .agg(pl.col("amount_minor").sum().alias("_paid"), pl.col("allocated_on").max())
    )
    return (
        history.instalments.lazy()
        .join(live, on="instalment_id", how="left")
        .group_by("invoice_id")
        .agg(
            (pl.col("_paid").fill_null(0) >= pl.col("amount_minor")).all().alias("_done"),
            pl.col("allocated_on").max().alias("_last"),
        )
        .select("invoice_id", pl.when(pl.col("_done")).then(pl.col("_last")).alias("settled_on"))
        .collect()
    )


def invoice_examples(history: History, days: Iterable[date] = ()) -> pl.DataFrame:
    """Each invoice on its issue day, plus each invoice open on any of ``days``; see the module.

    ``at_issue``: whether the row is the invoice's issue-day example.
    """
    issued = history.instalments.group_by("invoice_id").agg(pl.col("issue_date").first())
    by_day: dict[date, pl.Series] = {}
    for key, group in issued.group_by("issue_date"):
        day_key = key[0]
        assert isinstance(day_key, date)
        by_day[day_key] = group["invoice_id"]
    extra = set(days)
    frames = []
    for day in sorted(set(by_day) | extra):
        ids = by_day.get(day)
        if ids is not None:
            frames.append(
                invoice_features(issue_view(history, day), ids).with_columns(
                    pl.lit(True).alias("at_issue")
                )
            )
        if day in extra:
            rows = invoice_features(view_at(history, day))
            if ids is not None:
                rows = rows.filter(~pl.col("invoice_id").is_in(ids.implode()))
            frames.append(rows.with_columns(pl.lit(False).alias("at_issue")))
        frames = [
            f if "as_of" in f.columns else f.with_columns(pl.lit(day).alias("as_of"))
            for f in frames
        ]
    if not frames:
        return pl.DataFrame()
    last = history.last_day
    days_late = (pl.col("settled_on") - pl.col("due_date")).dt.total_days().clip(0)
    return (
        pl.concat([f for f in frames if not f.is_empty()], how="vertical_relaxed")
        .join(settlements(history), on="invoice_id", how="left")
        .with_columns(
            pl.when(pl.col("settled_on").is_not_null())
            .then(pl.col("settled_on") > pl.col("due_date"))
            .when(pl.lit(last) > pl.col("due_date"))
            .then(True)
            .otherwise(None)
            .alias("late"),
            (pl.col("settled_on") - pl.col("as_of"))
            .dt.total_days()
            .cast(pl.Float64())
            .alias("days_to_pay"),
            days_late.cast(pl.Float64()).alias("days_late"),
        )
        .filter(pl.col("late").is_not_null())
        .sort("as_of", "invoice_id")
    )
