"""The scoring features: per (debtor, currency) and per open invoice, from a :class:`View`.

Every feature is computed from the view alone (the portfolio as of one day), so a feature never
sees anything dated after that day. Payment-history features describe how the debtor pays, over
every currency, from the instalments settled in the 365 days up to the day.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from arrears.scoring.frames import HISTORY_DAYS, History, View, disputed_by

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
    "disputed_share_365d": 0,
    "avg_days_to_settle_undisputed": 0,
    # what a lender knows (issue 18): the share of what fell due in the last 90 days that is
    # paid by the day (a minimum-payment roller pays a small share of each statement), and,
    # where the debtors file gives a credit limit, the limit and the balance's use of it
    "paid_share_90d": 1,
    "log_credit_limit": 0,
    "utilisation": 0,
    # promise and dispute history (issue 18 item 3): promises to pay made in the last 12
    # months, of those judged by the day how many were broken (or only partly kept) and the
    # share kept in full (null: none judged yet), and the disputes opened in the last 12
    # months (the dispute records, open or resolved since; an undated first load's from the day
    # after it was loaded); every currency of the debtor, nothing made or judged after the day
    "promises_made_12m": 0,
    "promises_broken_12m": -1,
    "promise_kept_rate": 1,
    "disputes_12m": 0,
}

#: The promise and dispute history features (the rules score reads none).
PROMISE_FEATURES = ("promises_made_12m", "promises_broken_12m", "promise_kept_rate")

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

#: Debtor features that tell *when* more than *how* a debtor pays: they grow with the calendar
#: (the days since the first invoice of the history or since the last payment; the invoices of
#: the last 90 days are few at the start of a history), so the days the score is used on lie
#: beyond those it learned from (``tenure_days``: 72 % of a generated portfolio's debtors on
#: the last day of the history, 99 % six months after training). The debtor model, whose
#: reasons collectors read, does not learn from them; the invoice models do (without them the
#: IBM sample's days late grow worse), and the rules read ``days_since_settlement``. See
#: docs/scoring.md, "Features that act as a clock".
CLOCK_FEATURES = ("tenure_days", "issued_90d", "days_since_settlement")

#: What the debtor model (the score) learns from, with the monotonic constraints.
MODEL_DEBTOR_FEATURES: dict[str, int] = {
    name: c for name, c in DEBTOR_FEATURES.items() if name not in CLOCK_FEATURES
}

#: Debtor columns the rules score (``arrears.scoring.rules``) never reads.
NOT_FOR_RULES = (
    "open_invoices",
    "overdue_invoices",
    "tenure_days",
    "issued_90d",
    "_typical_amount",
    "paid_share_90d",
    *PROMISE_FEATURES,
    "disputes_12m",
)


def _days(later: pl.Expr, earlier: pl.Expr) -> pl.Expr:
    return (later - earlier).dt.total_days().cast(pl.Float64())


F64 = pl.Float64()
I64 = pl.Int64()


def _debtor_features(
    inst: pl.LazyFrame,
    settled: pl.LazyFrame,
    d: pl.Expr,
    point: list[str],
    *,
    limits: pl.LazyFrame | None = None,
    promises: pl.LazyFrame | None = None,
    known: pl.Expr | None = None,
    rules_only: bool = False,
) -> pl.LazyFrame:
    """The debtor features, per ``point`` columns (none for one view) and :data:`KEY`.

    ``inst``: the instalments issued by the day, ``open_minor`` as of it; ``settled``: those
    settled in the year up to it; ``d``: the day. Conditions are applied per row before the
    group-by (``when/then``: nulls are left out of a mean), so every aggregation is a plain
    one: per-group filters are far slower. Means are of whole days or of 0/1, so no order of
    summation changes a value. ``rules_only``: the features the rules score does not read
    (:data:`NOT_FOR_RULES`) are left null and not computed. ``limits``: the debtors' credit
    limits (:data:`arrears.scoring.frames.LIMIT_SCHEMA`); ``utilisation`` is the open balance
    over the limit, for the balance in the limit's currency (null in another, or without one).
    ``promises``: the debtors' promises (:data:`arrears.scoring.frames.PROMISE_HISTORY_SCHEMA`,
    with the ``point`` columns when there are points), as known by ``known`` (default ``d``:
    the state day of an issue-day example is the day before).
    """
    past_due = pl.col("due_date") < d
    overdue_days = _days(d, pl.col("due_date"))
    balances = (
        inst.filter(pl.col("open_minor") > 0)
        .with_columns(
            pl.when(past_due).then(pl.col("open_minor")).otherwise(0).alias("_overdue_minor"),
            # null for an instalment not yet due: counted once by n_unique, then taken off
            pl.when(past_due).then(pl.col("invoice_id")).alias("_overdue_invoice"),
            (~past_due).alias("_not_due"),
            overdue_days.alias("_days"),
            pl.when(past_due).then(overdue_days).alias("_overdue_days"),
        )
        .group_by(*point, *KEY)
        .agg(
            pl.col("open_minor").sum().alias("open_minor"),
            pl.col("_overdue_minor").sum().alias("overdue_minor"),
            *(
                []
                if rules_only
                else [
                    pl.col("invoice_id").n_unique().cast(F64).alias("open_invoices"),
                    (
                        pl.col("_overdue_invoice").n_unique()
                        - pl.col("_not_due").any().cast(pl.UInt32())
                    )
                    .cast(F64)
                    .alias("overdue_invoices"),
                ]
            ),
            pl.col("_days").max().clip(0).alias("days_past_due"),
            pl.col("_overdue_days").mean().alias("max_days_overdue_mean"),
            pl.col("disputed").any().cast(F64).alias("disputed_open"),
        )
    )
    on = [*point, "debtor_id"]
    frame = balances.join(_history(settled, d, point), on=on, how="left")
    if rules_only:
        frame = frame.with_columns(pl.lit(None, F64).alias(n) for n in NOT_FOR_RULES)
    else:
        frame = frame.join(_issued(inst, d, point), on=on, how="left")
        if promises is None:
            frame = frame.with_columns(
                pl.lit(0.0).alias("promises_made_12m"),
                pl.lit(0.0).alias("promises_broken_12m"),
                pl.lit(None, F64).alias("promise_kept_rate"),
                pl.lit(0.0).alias("disputes_12m"),
            )
        else:
            kept = _promise_history(promises, d, d if known is None else known, point)
            frame = frame.join(kept, on=on, how="left").with_columns(
                pl.col("promises_made_12m").fill_null(0.0),
                pl.col("promises_broken_12m").fill_null(0.0),
                pl.col("disputes_12m").fill_null(0.0),
            )
    if limits is None:
        frame = frame.with_columns(pl.lit(None, I64).alias("credit_limit_minor"))
    else:
        frame = frame.join(
            limits.rename({"limit_currency": "currency"}), on=["debtor_id", "currency"], how="left"
        )
    frame = frame.with_columns(
        pl.col("open_minor").cast(F64).log1p().alias("log_open"),
        pl.col("overdue_minor").cast(F64).log1p().alias("log_overdue"),
        (pl.col("overdue_minor") / pl.col("open_minor")).alias("overdue_share"),
        pl.col("max_days_overdue_mean").fill_null(0.0),
        pl.col("settled_365d").fill_null(0.0),
        pl.col("credit_limit_minor").cast(F64).log1p().alias("log_credit_limit"),
        (pl.col("open_minor") / pl.col("credit_limit_minor")).alias("utilisation"),
    )
    return frame.select(
        *point, *KEY, "open_minor", "overdue_minor", "_typical_amount", *DEBTOR_FEATURES
    )


def _history(settled: pl.LazyFrame, d: pl.Expr, point: list[str]) -> pl.LazyFrame:
    """Per debtor (every currency): how it paid the instalments settled in the last year."""
    late = _days(pl.col("settled_on"), pl.col("due_date")).clip(0)
    recent = pl.col("settled_on") > d - timedelta(days=90)
    return (
        settled.with_columns(late.alias("_late"), (late > 0).cast(F64).alias("_is_late"))
        .with_columns(
            pl.when(recent).then(pl.col("_is_late")).alias("_recent_is_late"),
            pl.when(recent).then(pl.col("_late")).alias("_recent_late"),
            _days(pl.col("settled_on"), pl.col("issue_date")).alias("_to_settle"),
            pl.col("disputed").cast(F64).alias("_disputed"),
        )
        .with_columns(pl.when(~pl.col("disputed")).then(pl.col("_to_settle")).alias("_undisputed"))
        .group_by(*point, "debtor_id")
        .agg(
            pl.len().cast(F64).alias("settled_365d"),
            pl.col("_is_late").mean().alias("late_rate_365d"),
            pl.col("_recent_is_late").mean().alias("late_rate_90d"),
            pl.col("_late").mean().alias("avg_days_late_365d"),
            pl.col("_recent_late").mean().alias("avg_days_late_90d"),
            pl.col("_to_settle").mean().alias("avg_days_to_settle"),
            pl.col("_disputed").mean().alias("disputed_share_365d"),
            pl.col("_undisputed").mean().alias("avg_days_to_settle_undisputed"),
            pl.col("settled_on").max().alias("_last_settled"),
        )
        .with_columns(_days(d, pl.col("_last_settled")).alias("days_since_settlement"))
    )


def _promise_history(
    promises: pl.LazyFrame, d: pl.Expr, known: pl.Expr, point: list[str]
) -> pl.LazyFrame:
    """Per debtor: the promises made in the 12 months up to ``d`` (and known by ``known``), the
    broken ones and the share kept of those judged by ``known``; the disputes opened in those
    12 months (``event`` ``dispute``, open or resolved since, counted from their ``made_on``;
    :data:`arrears.scoring.frames.DEBTOR_EVENT_SCHEMA`)."""
    made = (pl.col("made_on") <= known) & (pl.col("made_on") > d - timedelta(days=HISTORY_DAYS))
    if "event" in promises.collect_schema().names():
        promise = pl.col("event") == "promise"
    else:
        promise = pl.lit(True)
    judged = made & promise & (pl.col("judged_on") <= known) & pl.col("kept").is_not_null()
    return (
        promises.filter(made)
        .with_columns(
            promise.cast(F64).alias("_promise"),
            (~promise).cast(F64).alias("_dispute"),
            judged.cast(F64).alias("_judged"),
            (judged & pl.col("kept")).cast(F64).alias("_kept"),
        )
        .group_by(*point, "debtor_id")
        .agg(
            pl.col("_promise").sum().alias("promises_made_12m"),
            pl.col("_dispute").sum().alias("disputes_12m"),
            (pl.col("_judged") - pl.col("_kept")).sum().alias("promises_broken_12m"),
            pl.col("_kept").sum().alias("_kept"),
            pl.col("_judged").sum().alias("_judged"),
        )
        .with_columns(
            pl.when(pl.col("_judged") > 0)
            .then(pl.col("_kept") / pl.col("_judged"))
            .alias("promise_kept_rate")
        )
        .drop("_kept", "_judged")
    )


def _issued(inst: pl.LazyFrame, d: pl.Expr, point: list[str]) -> pl.LazyFrame:
    fell_due = (pl.col("due_date") < d) & (pl.col("due_date") >= d - timedelta(days=90))
    return (
        inst.with_columns(
            (pl.col("issue_date") > d - timedelta(days=90)).alias("_recent"),
            pl.when(fell_due).then(pl.col("amount_minor")).otherwise(0).alias("_billed"),
            pl.when(fell_due).then(pl.col("open_minor")).otherwise(0).alias("_unpaid"),
        )
        .group_by(*point, "debtor_id")
        .agg(
            pl.col("issue_date").min().alias("_first_issue"),
            pl.col("_recent").sum().cast(F64).alias("issued_90d"),
            pl.col("amount_minor").median().cast(F64).alias("_typical_amount"),
            pl.col("_billed").sum().alias("_billed"),
            pl.col("_unpaid").sum().alias("_unpaid"),
        )
        .with_columns(
            _days(d, pl.col("_first_issue")).alias("tenure_days"),
            pl.when(pl.col("_billed") > 0)
            .then(1.0 - pl.col("_unpaid").cast(F64) / pl.col("_billed").cast(F64))
            .alias("paid_share_90d"),
        )
        .drop("_billed", "_unpaid")
    )


def _invoice_features(
    inst: pl.LazyFrame, debtors: pl.LazyFrame, d: pl.Expr, point: list[str]
) -> pl.LazyFrame:
    """The features of the open invoices of ``inst`` with their debtors' (``debtors``: the
    frame of :func:`_debtor_features` at the same points)."""
    invoices = (
        inst.filter(pl.col("open_minor") > 0)
        .group_by(*point, "invoice_id")
        .agg(
            pl.col("debtor_id").first(),
            pl.col("currency").first(),
            pl.col("issue_date").first(),
            pl.col("due_date").max(),
            pl.col("amount_minor").sum(),
            pl.col("open_minor").sum().alias("invoice_open_minor"),
            pl.col("disputed").any(),
        )
    )
    frame = invoices.join(
        debtors.drop("open_minor", "overdue_minor"), on=[*point, *KEY], how="left"
    ).with_columns(
        pl.col("amount_minor").cast(F64).log1p().alias("log_amount"),
        _days(pl.col("due_date"), pl.col("issue_date")).alias("term_days"),
        _days(d, pl.col("issue_date")).alias("age_days"),
        _days(pl.col("due_date"), d).alias("days_to_due"),
        pl.col("disputed").cast(F64),
        (pl.col("amount_minor") / pl.col("_typical_amount")).alias("amount_vs_typical"),
    )
    return frame.select(
        *point,
        "invoice_id",
        *KEY,
        "issue_date",
        "due_date",
        "invoice_open_minor",
        *INVOICE_FEATURES,
    )


def debtor_features(view: View, *, rules_only: bool = False) -> pl.DataFrame:
    """One row per (debtor_id, currency) with an open balance, every debtor feature, and
    ``overdue_minor`` / ``open_minor`` (money, for the outcome and the expected recovery).

    ``rules_only``: leave null (and skip) the features the rules score does not read
    (:data:`NOT_FOR_RULES`; the median amount is the costliest of all)."""
    d = pl.lit(view.as_of)
    frame = _debtor_features(
        view.instalments.lazy(),
        view.settled.lazy(),
        d,
        [],
        limits=view.limits.lazy(),
        promises=view.promises.lazy(),
        rules_only=rules_only,
    )
    return frame.collect().sort(KEY)


def invoice_features(
    view: View, invoice_ids: pl.Series | None = None, *, debtors: pl.DataFrame | None = None
) -> pl.DataFrame:
    """One row per open invoice (or only ``invoice_ids``): its own features and its debtor's.

    ``due_date`` is the latest instalment's; ``open_minor`` the invoice's open balance.
    ``debtors``: :func:`debtor_features` of the same view, when the caller has it already.
    """
    inst = view.instalments.lazy()
    if invoice_ids is not None:
        inst = inst.filter(pl.col("invoice_id").is_in(invoice_ids.implode()))
    if debtors is None:
        debtors = debtor_features(view)
    frame = _invoice_features(inst, debtors.lazy(), pl.lit(view.as_of), [])
    return frame.collect().sort("invoice_id")


# -- the same features at many days at once (training) ---------------------------------------------
#: A point in time: the day the features are computed for (``as_of``) and the day whose ledger
#: state they see (``state_day``): the same day for a snapshot (:func:`view_at`), the day before
#: for an invoice's issue-day example (:func:`issue_view`).
POINT = ["as_of", "state_day"]


def point_rows(history: History, points: pl.DataFrame) -> pl.LazyFrame:
    """The instalments each point sees, as :func:`view_at` / :func:`issue_view` would show them.

    ``points``: ``as_of`` and ``state_day`` (dates), and optionally ``debtor_id`` (then only
    that debtor's instalments). Per point: every instalment issued on or before ``as_of``, with
    ``open_minor``, ``settled_on`` and ``disputed`` as of ``state_day``; one issued after
    ``state_day`` (an issue-day example's new invoice) is open in full and has no ``settled_on``.

    Points must be distinct, with one ``state_day`` per ``as_of`` (and debtor): an instalment
    then meets each ``state_day`` once, and its allocations are summed per pair without a
    distinct pass over the (large) rows.
    """
    inst = history.instalments.lazy()
    if "debtor_id" in points.columns:
        rows = points.lazy().join(inst, on="debtor_id")
    else:
        rows = points.lazy().join(inst, how="cross")
    rows = rows.filter(pl.col("issue_date") <= pl.col("as_of"))
    known = pl.col("issue_date") <= pl.col("state_day")
    day = pl.col("state_day")
    live = (
        rows.filter(known)
        .select("instalment_id", "state_day")  # distinct: see the docstring
        .join(history.allocations.lazy(), on="instalment_id")
        .filter(
            (pl.col("allocated_on") <= day)
            & (pl.col("reversed_on").is_null() | (pl.col("reversed_on") > day))
        )
        .group_by("instalment_id", "state_day")
        .agg(
            pl.col("amount_minor").sum().alias("_paid"),
            pl.col("allocated_on").max().alias("settled_on"),
        )
    )
    return rows.join(live, on=["instalment_id", "state_day"], how="left").with_columns(
        disputed_by(day),
        pl.when(known)
        .then((pl.col("amount_minor") - pl.col("_paid").fill_null(0)).clip(0))
        .otherwise(pl.col("amount_minor"))
        .alias("open_minor"),
        pl.when(known).then(pl.col("settled_on")).alias("settled_on"),
    )


def debtor_features_at(
    rows: pl.LazyFrame,
    limits: pl.DataFrame | None = None,
    *,
    points: pl.DataFrame | None = None,
    promises: pl.DataFrame | None = None,
) -> pl.LazyFrame:
    """:func:`debtor_features` of every point of :func:`point_rows` at once, keyed by
    :data:`POINT` and :data:`KEY` (the same code: only the grouping adds the point).
    ``limits``: the history's credit limits (:attr:`History.limits`); ``promises``: its
    promises (:attr:`History.promises`), with the ``points`` given to :func:`point_rows` (each
    point sees those made and judged by its ``state_day``)."""
    settled = rows.filter(
        (pl.col("open_minor") == 0)
        & (pl.col("settled_on") > pl.col("state_day") - timedelta(days=HISTORY_DAYS))
    )
    lazy = None if limits is None else limits.lazy()
    at: pl.LazyFrame | None = None
    if promises is not None and points is not None:
        if "debtor_id" in points.columns:
            at = points.lazy().join(promises.lazy(), on="debtor_id")
        else:
            at = points.lazy().join(promises.lazy(), how="cross")
    return _debtor_features(
        rows,
        settled,
        pl.col("as_of"),
        POINT,
        limits=lazy,
        promises=at,
        known=pl.col("state_day"),
    )


def invoice_features_at(rows: pl.LazyFrame, debtors: pl.LazyFrame) -> pl.LazyFrame:
    """:func:`invoice_features` of the open invoices in ``rows`` (rows of :func:`point_rows`,
    already narrowed to the invoices wanted), with their debtors' features at the same point
    (``debtors``: :func:`debtor_features_at`), keyed by :data:`POINT` and ``invoice_id``."""
    return _invoice_features(rows, debtors, pl.col("as_of"), POINT)
