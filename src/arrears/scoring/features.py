"""The scoring features: per (debtor, currency) and per open invoice, from a :class:`View`.

Every feature is computed from the view alone (the portfolio as of one day), so a feature never
sees anything dated after that day. Payment-history features describe how the debtor pays, over
every currency, from the instalments settled in the 365 days up to the day.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from arrears.scoring.frames import View

KEY = ["debtor_id", "currency"]

#: Features of a debtor, with the monotonic constraint of each on the propensity to pay
#: (+1: more never lowers it; -1: more never raises it; 0: free).
DEBTOR_FEATURES: dict[str, int] = {
    "log_open": 0,
    "log_overdue": 0,
    "overdue_share": 0,
    "open_invoices": 0,
    "overdue_invoices": 0,
    "days_past_due": -1,
    "max_days_overdue_mean": -1,
    "disputed_open": 0,
    "settled_365d": 0,
    "late_rate_365d": -1,
    "late_rate_90d": -1,
    "avg_days_late_365d": -1,
    "avg_days_late_90d": -1,
    "avg_days_to_settle": 0,
    "days_since_settlement": 0,
    "tenure_days": 0,
    "issued_90d": 0,
}

#: Features of one open invoice (plus every debtor feature), with constraints on paying on time.
INVOICE_OWN_FEATURES: dict[str, int] = {
    "log_amount": 0,
    "term_days": 0,
    "age_days": 0,
    "days_to_due": 0,
    "disputed": 0,
    "amount_vs_typical": 0,
}
INVOICE_FEATURES: dict[str, int] = {**INVOICE_OWN_FEATURES, **DEBTOR_FEATURES}


def _days(later: pl.Expr, earlier: pl.Expr) -> pl.Expr:
    return (later - earlier).dt.total_days().cast(pl.Float64())


def _history(view: View) -> pl.LazyFrame:
    """Per debtor (every currency): how it paid the instalments settled in the last year."""
    d = view.as_of
    late = _days(pl.col("settled_on"), pl.col("due_date")).clip(0)
    recent = pl.col("settled_on") > d - timedelta(days=90)
    return (
        view.settled.lazy()
        .group_by("debtor_id")
        .agg(
            pl.len().cast(pl.Float64()).alias("settled_365d"),
            (late > 0).mean().alias("late_rate_365d"),
            (late > 0).filter(recent).mean().alias("late_rate_90d"),
            late.mean().alias("avg_days_late_365d"),
            late.filter(recent).mean().alias("avg_days_late_90d"),
            _days(pl.col("settled_on"), pl.col("issue_date")).mean().alias("avg_days_to_settle"),
            _days(pl.lit(d), pl.col("settled_on").max()).alias("days_since_settlement"),
        )
    )


def _issued(view: View) -> pl.LazyFrame:
    d = view.as_of
    inst = view.instalments.lazy()
    return inst.group_by("debtor_id").agg(
        _days(pl.lit(d), pl.col("issue_date").min()).alias("tenure_days"),
        (pl.col("issue_date") > d - timedelta(days=90))
        .sum()
        .cast(pl.Float64())
        .alias("issued_90d"),
        pl.col("amount_minor").median().cast(pl.Float64()).alias("_typical_amount"),
    )


def debtor_features(view: View) -> pl.DataFrame:
    """One row per (debtor_id, currency) with an open balance, every debtor feature, and
    ``overdue_minor`` / ``open_minor`` (money, for the outcome and the expected recovery)."""
    d = view.as_of
    open_inst = view.instalments.lazy().filter(pl.col("open_minor") > 0)
    past_due = pl.col("due_date") < d
    overdue_days = _days(pl.lit(d), pl.col("due_date"))
    balances = open_inst.group_by(KEY).agg(
        pl.col("open_minor").sum().alias("open_minor"),
        pl.col("open_minor").filter(past_due).sum().alias("overdue_minor"),
        pl.col("invoice_id").n_unique().cast(pl.Float64()).alias("open_invoices"),
        pl.col("invoice_id")
        .filter(past_due)
        .n_unique()
        .cast(pl.Float64())
        .alias("overdue_invoices"),
        overdue_days.max().clip(0).alias("days_past_due"),
        overdue_days.filter(past_due).mean().alias("max_days_overdue_mean"),
        pl.col("disputed").any().cast(pl.Float64()).alias("disputed_open"),
    )
    frame = (
        balances.join(_history(view), on="debtor_id", how="left")
        .join(_issued(view), on="debtor_id", how="left")
        .with_columns(
            pl.col("open_minor").cast(pl.Float64()).log1p().alias("log_open"),
            pl.col("overdue_minor").cast(pl.Float64()).log1p().alias("log_overdue"),
            (pl.col("overdue_minor") / pl.col("open_minor")).alias("overdue_share"),
            pl.col("max_days_overdue_mean").fill_null(0.0),
            pl.col("settled_365d").fill_null(0.0),
        )
    )
    return (
        frame.select(*KEY, "open_minor", "overdue_minor", "_typical_amount", *DEBTOR_FEATURES)
        .collect()
        .sort(KEY)
    )


def invoice_features(view: View, invoice_ids: pl.Series | None = None) -> pl.DataFrame:
    """One row per open invoice (or only ``invoice_ids``): its own features and its debtor's.

    ``due_date`` is the latest instalment's; ``open_minor`` the invoice's open balance.
    """
    d = view.as_of
    inst = view.instalments.lazy().filter(pl.col("open_minor") > 0)
    if invoice_ids is not None:
        inst = inst.filter(pl.col("invoice_id").is_in(invoice_ids.implode()))
    invoices = inst.group_by("invoice_id").agg(
        pl.col("debtor_id").first(),
        pl.col("currency").first(),
        pl.col("issue_date").first(),
        pl.col("due_date").max(),
        pl.col("amount_minor").sum(),
        pl.col("open_minor").sum().alias("invoice_open_minor"),
        pl.col("disputed").any(),
    )
    debtors = debtor_features(view).drop("open_minor", "overdue_minor").lazy()
    frame = invoices.join(debtors, on=KEY, how="left").with_columns(
        pl.col("amount_minor").cast(pl.Float64()).log1p().alias("log_amount"),
        _days(pl.col("due_date"), pl.col("issue_date")).alias("term_days"),
        _days(pl.lit(d), pl.col("issue_date")).alias("age_days"),
        _days(pl.col("due_date"), pl.lit(d)).alias("days_to_due"),
        pl.col("disputed").cast(pl.Float64()),
        (pl.col("amount_minor") / pl.col("_typical_amount")).alias("amount_vs_typical"),
    )
    return (
        frame.select(
            "invoice_id", *KEY, "issue_date", "due_date", "invoice_open_minor", *INVOICE_FEATURES
        )
        .collect()
        .sort("invoice_id")
    )
