"""The feature table: every catalogue feature per (debtor, currency), as of a date, in one pass.

One row per debtor and currency that has an open balance or a case the engine must look at.
Built only with Polars joins and group-bys over the :class:`~arrears.cycle.frames.CycleInput`
frames: no Python loop per debtor, no clock, no I/O. The catalogue
(:mod:`arrears.policy.features`) says what each feature means; ``docs/cycle.md`` says how each
is computed. Money features are in major units as decimals (``pl.Decimal``); internal columns
that the engine needs start with an underscore (``_overdue_minor``, ``_oldest_due``...).
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from arrears.cycle.frames import RATE_DIGITS, CycleInput
from arrears.domain.money import exponent
from arrears.kpi.aging import bucket_index, bucket_labels
from arrears.policy.features import SCORING_HISTORY

#: Money features: decimals with room for any currency's minor units.
MONEY = pl.Decimal(38, 4)
#: The payment-history windows of the catalogue, in calendar months.
WINDOWS = {"3m": 3, "6m": 6, "12m": 12}
CHANNELS = ("email", "sms", "whatsapp", "call", "letter")
KEY = ["debtor_id", "currency"]


def months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier (clamped to the month's last day)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    for d in range(day.day, 0, -1):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def _days(later: pl.Expr | date, earlier: pl.Expr | date) -> pl.Expr:
    a = pl.lit(later) if isinstance(later, date) else later
    b = pl.lit(earlier) if isinstance(earlier, date) else earlier
    return (a - b).dt.total_days().cast(pl.Int32())


def _money(minor: str | pl.Expr, currency_exponent: str | int = "_exp") -> pl.Expr:
    amount = pl.col(minor) if isinstance(minor, str) else minor
    exp = pl.col(currency_exponent) if isinstance(currency_exponent, str) else currency_exponent
    return amount.cast(MONEY) / pl.lit(10, pl.Int64()).pow(exp).cast(pl.Decimal(38, 0))


#: Decimal digits of the ``*_ref`` features (those of :data:`MONEY`).
REF_DIGITS = 4


def _to_ref(minor: str) -> pl.Expr:
    """An amount in minor units of its currency -> the common unit of the rates, in units of
    10 ** -REF_DIGITS, rounded toward zero, exactly (integers: minor x rate in billionths, then
    one division; ``_rate`` null: null)."""
    scale = pl.lit(10, pl.Int128()).pow(pl.col("_exp") + RATE_DIGITS - REF_DIGITS)
    return pl.col(minor).cast(pl.Int128()) * pl.col("_rate").cast(pl.Int128()) // scale


def exponents(currencies: pl.Series) -> pl.DataFrame:
    """Each currency's minor-unit digits (one row per distinct code: a handful)."""
    codes = sorted(c for c in currencies.unique().to_list() if c is not None)
    return pl.DataFrame(
        {"currency": codes, "_exp": [exponent(c) for c in codes]},
        schema={"currency": pl.String(), "_exp": pl.Int32()},
    )


def feature_table(
    data: CycleInput,
    as_of: date,
    buckets: list[int],
    *,
    promise_grace_days: int = 0,
    disputes: str = "invoices",
) -> pl.DataFrame:
    """Every catalogue feature per (debtor_id, currency) as of ``as_of``.

    Rows: each (debtor, currency) with an open instalment, plus each with a case in
    ``data.cases``. The case columns (``case_id``, ``opened_on``, ``closed_on``...) come along
    prefixed ``case_`` for the engine.

    ``disputes`` (the policy's ``disputes.pause``): ``invoices``, the disputed instalments are
    out of collection: they count in no balance, invoice count or due date (``disputed`` says
    there are some); ``case``: they count like the others
    (the whole case pauses instead).
    """
    # Each group of features is aggregated on its own (the group-bys run together), then attached
    # to the sorted keys by a join on the keys alone and a horizontal stack: a chain of joins
    # would gather every column attached so far at each step. The debtor's wide text and list
    # columns are attached last.
    inst = data.instalments.lazy().filter(pl.col("issue_date") <= as_of)
    open_inst = inst.filter(pl.col("open_minor") > 0)
    in_dispute = open_inst.filter(pl.col("disputed"))
    if disputes == "invoices":  # only the undisputed debt is collected
        open_inst = open_inst.filter(~pl.col("disputed"))
    past_due = pl.col("due_date") < as_of
    # conditional aggregations as when/then (nulls are ignored) rather than filters: much faster
    # in a group-by, same values
    overdue_invoice = pl.when(past_due).then(pl.col("invoice_id"))
    balances = open_inst.group_by(KEY).agg(
        pl.col("open_minor").sum().alias("_balance_minor"),
        pl.when(past_due).then(pl.col("open_minor")).otherwise(0).sum().alias("_overdue_minor"),
        pl.col("due_date").min().alias("_oldest_due"),
        pl.when(pl.col("due_date") >= as_of).then(pl.col("due_date")).min().alias("_next_due"),
        pl.col("invoice_id").n_unique().alias("open_invoices"),
        # n_unique counts null (a row not past due) as one value
        (overdue_invoice.n_unique() - overdue_invoice.null_count().clip(0, 1)).alias(
            "overdue_invoices"
        ),
    )
    # few rows (the open disputes' instalments): their own group-by, attached after balances
    disputed = in_dispute.group_by(KEY).agg(pl.lit(True).alias("disputed"))
    tenure = inst.group_by("debtor_id").agg(pl.col("issue_date").min().alias("_first_issue"))
    parts = pl.collect_all(
        [
            balances,
            disputed,
            tenure,
            _history(data, as_of),
            _payments(data, as_of),
            _promises(data, as_of, promise_grace_days),
            _contact_counts(data, as_of),
            _last_contacts(data, as_of),
        ],
        engine="streaming",  # measured: a third of the in-memory engine's CPU for these group-bys
    )
    balances_df, disputed_df, tenure_df, history_df, payments_df, promises_df = parts[:6]
    counts_df, last_df = parts[6:]
    promises_df = _with_agreements(promises_df, data, as_of)  # plans, settlements (issue 15)

    cases = data.cases.select(
        "debtor_id", "currency", *[pl.col(c).alias(f"case_{c}") for c in _CASE_COLUMNS]
    )
    debtors = data.debtors.select(
        "debtor_id",
        pl.col("credit_limit_minor").alias("_credit_limit_minor"),
        pl.col("currency").alias("_debtor_currency"),
    )
    # a debtor owing only disputed debt has a row only if it has a case (which then pauses)
    keys = (
        pl.concat([balances_df.select(KEY), cases.select(KEY)], how="vertical")
        .unique()  # a debtor may have a case and no open balance (it is being cured)
        .join(debtors, on="debtor_id", how="inner")
        .sort(KEY)
    )
    frame = _attach(_attach(keys, balances_df, KEY), disputed_df, KEY)
    frame = _attach(frame, cases, KEY)
    frame = _attach(frame, tenure_df, ["debtor_id"])
    frame = _attach(frame, history_df, ["debtor_id"])
    frame = _attach(frame, payments_df, KEY)
    frame = _attach(frame, promises_df, KEY).with_columns(
        pl.col("promises_made").fill_null(0),
        pl.col("promises_kept").fill_null(0),
        pl.col("promises_broken").fill_null(0),
        pl.col("promise_open").fill_null(False),
    )
    frame = _attach(frame, counts_df, ["debtor_id"]).with_columns(pl.col(_COUNT_NAMES).fill_null(0))
    frame = _attach(frame, last_df, ["debtor_id"])
    # and the scoring history features: those the policy reads come with the scores
    # (services.insight.scoring.with_scoring_history), the others are null
    scores = data.scores.select(
        *KEY,
        "score",
        "expected_days_to_pay",
        pl.col("expected_recovery_minor").alias("_er_minor"),
        *(
            pl.col(f.name)
            if f.name in data.scores.columns
            else pl.lit(None, pl.Float64()).alias(f.name)
            for f in SCORING_HISTORY
        ),
    )
    frame = _attach(frame, scores, KEY)
    frame = _attach(
        frame, data.rates.select("currency", pl.col("rate_nano").alias("_rate")), ["currency"]
    )

    currency_exp = exponents(
        pl.concat([data.instalments["currency"], data.debtors["currency"], data.cases["currency"]])
    )
    digits = dict(zip(currency_exp["currency"], currency_exp["_exp"], strict=True))
    labels = bucket_labels([0, *buckets])
    dpd = _days(as_of, pl.col("_oldest_due"))
    narrow = (
        frame.lazy()
        .with_columns(
            pl.col("currency")
            .replace_strict(digits, default=None, return_dtype=pl.Int32())
            .alias("_exp"),
            pl.col("_debtor_currency")
            .replace_strict(digits, default=None, return_dtype=pl.Int32())
            .alias("_debtor_exp"),
        )
        .with_columns(
            pl.col("_balance_minor").fill_null(0),
            pl.col("_overdue_minor").fill_null(0),
            pl.col("open_invoices").fill_null(0).cast(pl.Int32()),
            pl.col("overdue_invoices").fill_null(0).cast(pl.Int32()),
            pl.col("disputed").fill_null(False),
            dpd.alias("days_past_due"),
        )
        .with_columns(
            _money("_balance_minor").alias("balance"),
            _money("_overdue_minor").alias("overdue_balance"),
            _money("_credit_limit_minor", "_debtor_exp").alias("credit_limit"),
            _money("_last_payment_minor").alias("last_payment_amount"),
            _money("_er_minor").alias("expected_recovery"),
            _money(_to_ref("_overdue_minor"), REF_DIGITS).alias("overdue_balance_ref"),
            _money(_to_ref("_er_minor"), REF_DIGITS).alias("expected_recovery_ref"),
            _money(_to_ref("_balance_minor"), REF_DIGITS).alias("balance_ref"),
            _days(pl.col("_next_due"), as_of).alias("days_to_due"),
            pl.when(pl.col("days_past_due").is_null())
            .then(None)
            .otherwise(
                bucket_index(pl.col("days_past_due"), [0, *buckets]).replace_strict(
                    dict(enumerate(labels)), return_dtype=pl.String()
                )
            )
            .alias("bucket"),
            pl.col("case_stage").fill_null("clear").alias("stage"),
            _days(as_of, pl.col("case_stage_entered_on")).alias("days_in_stage"),
            pl.col("case_segment").alias("segment"),
            _days(as_of, pl.col("_first_issue")).alias("tenure_days"),
            pl.col("_plan_active").fill_null(False).alias("plan_active"),
        )
        .collect(engine="in-memory")
    )
    # and the debtor attributes the policy reads (attr_<name>, services.cycle adds them)
    attributes = [c for c in data.debtors.columns if c.startswith("attr_")]
    text = data.debtors.select("debtor_id", *_DEBTOR_TEXT, *attributes)
    wide = _attach(narrow.select("debtor_id"), text, ["debtor_id"]).drop("debtor_id")
    columns = narrow.columns
    return pl.concat(
        [narrow.select(columns[:2]), wide, narrow.select(columns[2:])], how="horizontal"
    )


def _attach(frame: pl.DataFrame, right: pl.DataFrame, on: list[str]) -> pl.DataFrame:
    """``frame`` left-joined with ``right`` on ``on``, ``frame``'s rows and order kept; the join
    runs on the keys alone and the right's columns are stacked on (a plain join if ``right`` is
    not unique on the keys)."""
    extra = frame.select(on).join(right, on=on, how="left", maintain_order="left")
    if extra.height != frame.height:
        return frame.join(right, on=on, how="left", maintain_order="left")
    return frame.hstack(extra.drop(on))


#: The debtor's descriptive columns, attached last (after the debtor and currency).
_DEBTOR_TEXT = ("kind", "country", "region", "tags", "credit_status")


_CASE_COLUMNS = (
    "case_id",
    "opened_on",
    "closed_on",
    "close_reason",
    "stage",
    "stage_entered_on",
    "stage_floor",
    "segment",
    "arm",
    "agency",
    "paused_by",
    "paused_until",
    "awaiting_approval",
)


def _history(data: CycleInput, as_of: date) -> pl.LazyFrame:
    """Share paid late and average days late of instalments settled in each window (per debtor,
    every currency: it describes how the debtor pays)."""
    settled = data.settled.lazy().filter(pl.col("settled_on") <= as_of)
    late_days = pl.max_horizontal(_days(pl.col("settled_on"), pl.col("due_date")), pl.lit(0))
    settled = settled.select("debtor_id", "settled_on", late_days.alias("_late"))
    aggs = []
    for name, months in WINDOWS.items():
        inside = pl.col("settled_on") > months_before(as_of, months)
        # when/then (mean ignores nulls) rather than a filter: faster in a group-by, same values
        aggs += [
            pl.when(inside).then(pl.col("_late") > 0).mean().alias(f"share_paid_late_{name}"),
            pl.when(inside).then(pl.col("_late")).mean().alias(f"avg_days_late_{name}"),
        ]
    return settled.group_by("debtor_id").agg(aggs)


def _payments(data: CycleInput, as_of: date) -> pl.LazyFrame:
    last = data.last_payments.lazy().filter(pl.col("last_payment_on") <= as_of)
    return last.select(
        *KEY,
        _days(as_of, pl.col("last_payment_on")).alias("last_payment_days_ago"),
        pl.col("last_payment_minor").alias("_last_payment_minor"),
    )


def promise_states(promises: pl.DataFrame, as_of: date, grace_days: int = 0) -> pl.LazyFrame:
    """Each promise made by ``as_of`` with its state: kept (paid in full by its date plus grace),
    partial (its date plus grace has passed, part of it paid), broken (passed, nothing paid) or
    open; ``_ends_on`` is the first day after its grace (the day its outcome is found). The
    grace is the promise's own or ``grace_days`` (the policy's), whichever is longer."""
    grace = pl.max_horizontal(pl.col("grace_days"), pl.lit(grace_days))
    ends_on = pl.col("due_on") + pl.duration(days=grace) + timedelta(days=1)
    kept = pl.col("paid_minor") >= pl.col("amount_minor")
    return (
        promises.lazy()
        .filter(pl.col("made_on") <= as_of)
        .with_columns(ends_on.alias("_ends_on"))
        .with_columns(
            pl.when(kept)
            .then(pl.lit("kept"))
            .when((pl.col("_ends_on") <= as_of) & (pl.col("paid_minor") > 0))
            .then(pl.lit("partial"))
            .when(pl.col("_ends_on") <= as_of)
            .then(pl.lit("broken"))
            .otherwise(pl.lit("open"))
            .alias("state")
        )
    )


def _promises(data: CycleInput, as_of: date, grace_days: int) -> pl.LazyFrame:
    states = promise_states(data.promises, as_of, grace_days).filter(
        pl.col("made_on") > months_before(as_of, 12)
    )
    broken = pl.col("state").is_in(["partial", "broken"])  # not kept: broken, or partly kept
    return states.group_by(KEY).agg(
        pl.len().cast(pl.Int32()).alias("promises_made"),
        (pl.col("state") == "kept").sum().cast(pl.Int32()).alias("promises_kept"),
        broken.sum().cast(pl.Int32()).alias("promises_broken"),
        (pl.col("state") == "open").any().alias("promise_open"),
        pl.col("_ends_on").filter(pl.col("state") == "open").max().alias("_promise_until"),
        # the last day a promise was found broken (or partly kept): on_broken_promise's anchor
        pl.col("_ends_on").filter(broken).max().alias("_broken_on"),
    )


def _agreements(data: CycleInput, as_of: date) -> pl.DataFrame:
    """Per debtor and currency: whether a payment plan or settlement pauses it on ``as_of``, and
    the last day a plan was found broken by then (on_broken_promise's anchor, like a promise)."""
    running = (pl.col("starts_on") <= as_of) & (
        pl.col("ends_on").is_null() | (pl.col("ends_on") > as_of)
    )
    broken = pl.col("broken_on").filter(pl.col("broken_on") <= as_of).max()
    return data.agreements.group_by(KEY).agg(
        running.any().alias("_plan_active"), broken.alias("_plan_broken_on")
    )


def _with_agreements(promises: pl.DataFrame, data: CycleInput, as_of: date) -> pl.DataFrame:
    """The promises' columns per debtor and currency, with ``_plan_active`` beside them and a
    broken plan's day in ``_broken_on``: joined here, on the few rows that have either, so that
    the feature table takes them in the promises' one join."""
    if data.agreements.is_empty():
        return promises.with_columns(pl.lit(None, pl.Boolean()).alias("_plan_active"))
    both = promises.join(_agreements(data, as_of), on=KEY, how="full", coalesce=True)
    broken = pl.max_horizontal("_broken_on", "_plan_broken_on").alias("_broken_on")
    return both.with_columns(broken).drop("_plan_broken_on")


_COUNT_NAMES = ["contacts_30d", "contacts_7d"] + [
    f"{c}_contacts_{w}" for c in CHANNELS for w in ("7d", "30d")
]


def _contact_counts(data: CycleInput, as_of: date) -> pl.LazyFrame:
    contacts = data.contacts.lazy().filter(
        pl.col("occurred_on").is_between(as_of - timedelta(days=29), as_of)
    )
    week = pl.col("occurred_on") > as_of - timedelta(days=7)
    aggs = [
        pl.len().cast(pl.Int32()).alias("contacts_30d"),
        week.sum().cast(pl.Int32()).alias("contacts_7d"),
    ]
    for channel in CHANNELS:
        mine = pl.col("channel") == channel
        aggs += [
            (mine & week).sum().cast(pl.Int32()).alias(f"{channel}_contacts_7d"),
            mine.sum().cast(pl.Int32()).alias(f"{channel}_contacts_30d"),
        ]
    return contacts.group_by("debtor_id").agg(aggs)


def _last_contacts(data: CycleInput, as_of: date) -> pl.LazyFrame:
    last = data.last_contacts.lazy().filter(pl.col("last_contact_on") <= as_of)
    return last.select(
        "debtor_id",
        _days(as_of, pl.col("last_contact_on")).alias("last_contact_days_ago"),
        "last_contact_outcome",
    )
