"""The transparent rules score: used when there is too little history to train a model.

A propensity to pay in ``[0.02, 0.98]`` built from a few points anyone can check:

- start from the debtor's on-time rate over the last year (``1 - late_rate_365d``), or 0.5 when
  fewer than 3 instalments were settled in that year;
- minus up to 0.30 for days past due (0.30 at 90 days or more);
- minus 0.10 when an open invoice is disputed;
- plus 0.05 when the debtor settled something in the last 30 days.

Expected days to pay an open invoice: its days to due (0 when past due) plus the debtor's
average days late over the last year (0 without history).
"""

from __future__ import annotations

from datetime import date

import polars as pl

MIN_SETTLED = 3
BASE = 0.5


def _parts() -> dict[str, pl.Expr]:
    known = pl.col("settled_365d") >= MIN_SETTLED
    return {
        "payment history": pl.when(known)
        .then(1.0 - pl.col("late_rate_365d").fill_null(0.5))
        .otherwise(BASE)
        - BASE,
        "days past due": -0.30 * (pl.col("days_past_due").fill_null(0.0).clip(0, 90) / 90.0),
        "disputed invoice": -0.10 * pl.col("disputed_open").fill_null(0.0),
        "recent payment": pl.when(pl.col("days_since_settlement").fill_null(1e9) <= 30)
        .then(0.05)
        .otherwise(0.0),
    }


def rules_score(features: pl.DataFrame) -> pl.Series:
    """The rules score of each row of a debtor (or invoice) feature frame."""
    total = pl.lit(BASE) + pl.sum_horizontal(list(_parts().values()))
    return features.select(total.clip(0.02, 0.98).alias("score"))["score"]


def rules_score_frame(
    instalments: pl.DataFrame, settled: pl.DataFrame, as_of: date
) -> pl.DataFrame:
    """The rules score of every (debtor_id, currency) with an open balance, straight from the
    daily cycle's frames (``CycleInput.instalments`` and ``.settled``): ``debtor_id``,
    ``currency``, ``score``, ``overdue_minor``, sorted by debtor and currency.

    The same rows and values as :func:`rules_score` of ``debtor_features(view,
    rules_only=True)`` for the view of those frames (``view_from_cycle_input``; a test compares
    them), computing only the five features the rules read: at 1M debtors that is about a tenth
    of the work, and it does not need the model's module (scikit-learn takes seconds to load).
    """
    d = pl.lit(as_of)
    issued = instalments.lazy().filter(pl.col("issue_date") <= d)
    days = (d - pl.col("due_date")).dt.total_days().cast(pl.Float64())
    balances = (
        issued.filter(pl.col("open_minor") > 0)
        .group_by("debtor_id", "currency")
        .agg(
            pl.when(pl.col("due_date") < d)
            .then(pl.col("open_minor"))
            .otherwise(0)
            .sum()
            .alias("overdue_minor"),
            days.max().clip(0).alias("days_past_due"),
            pl.col("disputed").any().cast(pl.Float64()).alias("disputed_open"),
        )
    )
    # the view keeps the settled instalments issued by the day (the settled frame's rows are
    # instalments of the frame: leaving out those issued later is the view's join), settled by it
    later = instalments.filter(pl.col("issue_date") > as_of)["instalment_id"]
    kept = pl.col("settled_on") <= d
    if not later.is_empty():
        kept &= ~pl.col("instalment_id").is_in(later.implode())
    late = (pl.col("settled_on") - pl.col("due_date")).dt.total_days().cast(pl.Float64()).clip(0)
    history = (
        settled.lazy()
        .filter(kept)
        .group_by("debtor_id")
        .agg(
            pl.len().cast(pl.Float64()).alias("settled_365d"),
            (late > 0).cast(pl.Float64()).mean().alias("late_rate_365d"),
            pl.col("settled_on").max().alias("_last_settled"),
        )
        .with_columns(
            (d - pl.col("_last_settled"))
            .dt.total_days()
            .cast(pl.Float64())
            .alias("days_since_settlement")
        )
    )
    total = pl.lit(BASE) + pl.sum_horizontal(list(_parts().values()))
    return (
        balances.join(history, on="debtor_id", how="left")
        .with_columns(pl.col("settled_365d").fill_null(0.0))
        .select("debtor_id", "currency", total.clip(0.02, 0.98).alias("score"), "overdue_minor")
        .sort("debtor_id", "currency")
        .collect()
    )


def rules_reasons(features: pl.DataFrame, top: int = 3) -> list[list[str]]:
    """Per row, the rules' largest contributions as text (``"days past due: -0.20"``)."""
    parts = features.select([e.alias(n) for n, e in _parts().items()])
    out = []
    for row in parts.iter_rows(named=True):
        items = sorted(((n, v) for n, v in row.items() if v), key=lambda nv: -abs(nv[1]))
        out.append([f"{n}: {v:+.2f}" for n, v in items[:top]] or ["no history: base 0.50"])
    return out


def rules_days_to_pay(invoices: pl.DataFrame) -> pl.Series:
    """Expected days from the view's day until an open invoice is paid, by the rules."""
    days = pl.col("days_to_due").clip(0) + pl.col("avg_days_late_365d").fill_null(0.0)
    return invoices.select(days.alias("days"))["days"]


def naive_days_to_pay(invoices: pl.DataFrame) -> pl.Series:
    """The naive baseline: every invoice is paid on its due date (today when past due)."""
    return invoices.select(pl.col("days_to_due").clip(0).alias("days"))["days"]
