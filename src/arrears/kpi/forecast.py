"""The cash forecast: expected collections per week for the next weeks, and its backtest.

Pure functions of the ledger's history frames (:mod:`arrears.kpi.figures`: ``instalments``,
``allocations``) and a day ``as_of``; nothing dated after ``as_of`` is read by the forecast
(the backtest reads the weeks after it, to compare). Amounts go in and come out as integer minor
units per currency; in between, an *expected* amount is a probability times an integer amount,
rounded half to even to the minor unit once per week and component. Week ``k`` (1..``weeks``)
is the days ``as_of + 7(k−1) + 1`` to ``as_of + 7k``.

The pipeline (docs/kpi.md, "The cash forecast")::

    instalments, allocations (as of as_of)
      ├─ payment_curve      the book's payment and removal rates by days from the due date,
      │                     amount-weighted, over the last half year (per currency)
      ├─ open book          each open instalment, open amount × the curve from its days past
      │                     due (or: the curve's amount within the horizon on the day the
      │                     model predicts, when ``predicted_days`` gives the invoice's)
      ├─ promises           an open promise's remaining amount × the kept share replaces that
      │                     much of the debtor's open book, on the promise's day
      ├─ new invoices       the last 13 weeks' daily sales × the share paid at each day after
      │                     issue (not yet invoiced on as_of), blended with the trailing
      │                     average of collections in proportion to its share of the week
      ├─ agreements         a running plan's unpaid instalments and an accepted settlement's
      │                     amount, as scheduled (at most the debtor's open balance), replace
      │                     as much of its open book (before the promises)
    weekly(...)             per currency and week: promised, agreed, invoiced, new, expected
    [converted]             in one currency at the caller's factors

Backtest: :func:`actual_collections` (payments allocated in each week, not reversed by the day
observed to), :func:`naive_forecast` (the trailing 13 weeks' average weekly collections, the
baseline) and :func:`errors` (per week: error, absolute percentage error; per origin and
horizon: WAPE and MAPE).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import polars as pl

from arrears.kpi.figures import live_on

#: The weeks forecast by default (a quarter).
WEEKS = 13
#: Days of history the payment curve and the new invoices' payment shares learn from (half a
#: year: payment behaviour drifts; on the IBM sample customers paid faster each quarter).
LOOKBACK_DAYS = 182
#: Days of judged promises the kept share is taken from.
PROMISE_DAYS = 365
#: How far the new invoices' run rate moves towards the trailing average of collections
#: (:func:`blended`): equal weights at a week made only of new invoices.
BLEND = 0.5
#: Days of sales the new invoices' run rate is the average of (13 weeks).
SALES_DAYS = 91
#: The components of a week's forecast (minor units), then their total.
PARTS: tuple[str, ...] = ("promised", "agreed", "invoiced", "new")
AMOUNTS: tuple[str, ...] = (*PARTS, "expected")

F64 = pl.Float64()
I64 = pl.Int64()


def week_bounds(as_of: date, weeks: int) -> pl.DataFrame:
    """``week``, ``start``, ``end`` of each week after ``as_of``."""
    return pl.DataFrame(
        {
            "week": list(range(1, weeks + 1)),
            "start": [as_of + timedelta(days=7 * k + 1) for k in range(weeks)],
            "end": [as_of + timedelta(days=7 * (k + 1)) for k in range(weeks)],
        },
        schema={"week": I64, "start": pl.Date(), "end": pl.Date()},
    )


def _relative(day: str) -> pl.Expr:
    """Days from the instalment's due date to ``day``'s column."""
    return (pl.col(day) - pl.col("due_date")).dt.total_days().cast(I64)


def payment_curve(
    instalments: pl.DataFrame,
    allocations: pl.DataFrame,
    as_of: date,
    lookback_days: int = LOOKBACK_DAYS,
) -> pl.DataFrame:
    """The book's payment rates by day relative to the due date, per currency.

    Over the days ``as_of − lookback_days + 1`` to ``as_of``, for each relative day ``t`` (day
    − due date): ``at_risk`` is the balance of the instalments that were open at the start of
    their day ``t`` in that window; ``paid`` the payments allocated to them on their day ``t``
    and ``removed`` the credit notes and write-offs (allocations live at the end of
    ``as_of``). ``pay_rate`` = paid / at_risk and ``remove_rate`` = removed / at_risk (an
    amount-weighted Kaplan-Meier estimator with two ways out). Rows only for days where
    something left the book."""
    first = as_of - timedelta(days=lookback_days - 1)
    inst = (
        instalments.lazy()
        .filter(pl.col("issue_date") <= as_of)
        .select(
            "instalment_id",
            "currency",
            "amount_minor",
            _relative("issue_date").alias("_issued"),
            (pl.lit(first) - pl.col("due_date")).dt.total_days().cast(I64).alias("_first"),
            (pl.lit(as_of) - pl.col("due_date")).dt.total_days().cast(I64).alias("hi"),
        )
        .with_columns(pl.max_horizontal("_issued", "_first").alias("lo"))
        .filter(pl.col("lo") <= pl.col("hi"))
        .select("instalment_id", "currency", "amount_minor", "lo", "hi")
    )
    live = (
        allocations.lazy()
        .filter(live_on(as_of))
        .join(instalments.lazy().select("instalment_id", "due_date"), on="instalment_id")
        .select(
            "instalment_id",
            "source_kind",
            pl.col("amount_minor").alias("_amount"),
            _relative("allocated_on").alias("rel"),
        )
        .join(inst, on="instalment_id")
    )
    # balance at risk on day t: + amount from lo to hi, − each allocation from rel + 1 to hi
    starts = inst.select("currency", pl.col("lo").alias("t"), pl.col("amount_minor").alias("d"))
    ends = inst.select(
        "currency", (pl.col("hi") + 1).alias("t"), (-pl.col("amount_minor")).alias("d")
    )
    cut = live.with_columns(pl.max_horizontal(pl.col("rel") + 1, "lo").alias("_from")).filter(
        pl.col("_from") <= pl.col("hi")
    )
    cut_on = cut.select("currency", pl.col("_from").alias("t"), (-pl.col("_amount")).alias("d"))
    cut_off = cut.select("currency", (pl.col("hi") + 1).alias("t"), pl.col("_amount").alias("d"))
    risk = (
        pl.concat([starts, ends, cut_on, cut_off])
        .group_by("currency", "t")
        .agg(pl.col("d").sum())
        .sort("currency", "t")
        .with_columns(pl.col("d").cum_sum().over("currency").alias("at_risk"))
        .select("currency", "t", "at_risk")
    )
    seen = live.filter(pl.col("rel").is_between(pl.col("lo"), pl.col("hi")))
    out = seen.group_by("currency", pl.col("rel").alias("t")).agg(
        pl.col("_amount").filter(pl.col("source_kind") == "payment").sum().alias("paid"),
        pl.col("_amount").filter(pl.col("source_kind") != "payment").sum().alias("removed"),
    )
    # the balance at risk on day t: the running sum at the last change on or before t
    return (
        out.sort("t")
        .join_asof(
            risk.sort("t"), on="t", by="currency", strategy="backward", check_sortedness=False
        )
        .filter(pl.col("at_risk") > 0)
        .with_columns(
            (pl.col("paid") / pl.col("at_risk")).clip(0, 1).alias("pay_rate"),
            (pl.col("removed") / pl.col("at_risk")).clip(0, 1).alias("remove_rate"),
        )
        .sort("currency", "t")
        .collect()
    )


def open_instalments(
    instalments: pl.DataFrame, allocations: pl.DataFrame, as_of: date
) -> pl.DataFrame:
    """The instalments open at the end of ``as_of``: ``instalment_id``, ``invoice_id``,
    ``debtor_id``, ``currency``, ``due_date``, ``open_minor``, ``r0`` (days past due)."""
    paid = (
        allocations.lazy()
        .filter(live_on(as_of))
        .group_by("instalment_id")
        .agg(pl.col("amount_minor").sum().alias("_allocated"))
    )
    return (
        instalments.lazy()
        .filter(pl.col("issue_date") <= as_of)
        .join(paid, on="instalment_id", how="left")
        .with_columns(
            (pl.col("amount_minor") - pl.col("_allocated").fill_null(0)).alias("open_minor"),
            (pl.lit(as_of) - pl.col("due_date")).dt.total_days().cast(I64).alias("r0"),
        )
        .filter(pl.col("open_minor") > 0)
        .select(
            "instalment_id", "invoice_id", "debtor_id", "currency", "due_date", "open_minor", "r0"
        )
        .collect()
    )


def _projection(curve: pl.DataFrame, starts: pl.DataFrame, days: int) -> pl.DataFrame:
    """Per (currency, r0) of ``starts`` and day ``d`` (1..``days``) after as_of: the share of
    an amount open at the end of its day ``r0`` that is paid on its day ``r0 + d``
    (``share``)."""
    offsets = pl.DataFrame({"d": range(1, days + 1)}, schema={"d": I64})
    rates = curve.select("currency", "t", "pay_rate", "remove_rate")
    return (
        starts.select("currency", "r0")
        .unique()
        .join(offsets, how="cross")
        .with_columns((pl.col("r0") + pl.col("d")).alias("t"))
        .join(rates, on=["currency", "t"], how="left")
        .with_columns(pl.col("pay_rate", "remove_rate").fill_null(0.0))
        .sort("currency", "r0", "d")
        .with_columns((1.0 - pl.col("pay_rate") - pl.col("remove_rate")).clip(0, 1).alias("_keep"))
        .with_columns(
            pl.col("_keep")
            .cum_prod()
            .shift(1, fill_value=1.0)
            .over("currency", "r0")
            .alias("_left")
        )
        .select("currency", "r0", "d", (pl.col("_left") * pl.col("pay_rate")).alias("share"))
    )


def _shifted(share: pl.DataFrame, timed: pl.DataFrame, days: int) -> pl.DataFrame:
    """The curve's days of each instalment of ``timed`` moved by as many days as the model's
    ``days_to_pay`` is from the curve's median day for its ``r0`` (the first day by which half
    of what the curve expects within the horizon is paid): the curve's spread and amount, the
    model's timing. Moved before day 1: day 1; beyond the horizon: not expected in it."""
    cumulative = pl.col("share").cum_sum().over("currency", "r0")
    median = (
        share.sort("currency", "r0", "d")
        .with_columns(
            cumulative.alias("_cum"), pl.col("share").sum().over("currency", "r0").alias("_all")
        )
        .filter((pl.col("_all") > 0) & (pl.col("_cum") >= pl.col("_all") / 2))
        .group_by("currency", "r0")
        .agg(pl.col("d").min().alias("_median"))
    )
    moves = (
        timed.join(median, on=["currency", "r0"])
        .with_columns(
            (pl.col("days_to_pay").round(0).cast(I64) - pl.col("_median")).alias("_shift")
        )
        .group_by("currency", "r0", "_shift")
        .agg(pl.col("_left").sum())
    )
    return (
        share.join(moves, on=["currency", "r0"])
        .with_columns((pl.col("d") + pl.col("_shift")).clip(lower_bound=1).alias("d"))
        .filter(pl.col("d") <= days)
        .select("currency", "d", (pl.col("share") * pl.col("_left")).alias("invoiced"))
    )


def promised_amounts(
    promises: pl.DataFrame,
    instalments: pl.DataFrame,
    allocations: pl.DataFrame,
    as_of: date,
    book: pl.DataFrame,
) -> tuple[pl.DataFrame, float]:
    """The promises open at the end of ``as_of`` per (debtor_id, currency): ``promised`` (what
    is left of them: their amounts less the debtor's payments since each was made, at most the
    debtor's open balance in ``book``) and ``on`` (the latest promise's day, at least the day
    after ``as_of``); and the *kept share*: of the promises judged in the year up to
    ``as_of``, paid towards them / promised (1.0 when none was judged)."""
    judged = promises.filter(
        pl.col("outcome_on").is_not_null()
        & pl.col("outcome_on").is_between(as_of - timedelta(days=PROMISE_DAYS - 1), as_of)
    )
    promised_total = int(judged["amount_minor"].sum() or 0)
    kept = float(judged["kept_minor"].sum() or 0) / promised_total if promised_total else 1.0
    pending = promises.filter(
        (pl.col("made_on") <= as_of)
        & (pl.col("outcome_on").is_null() | (pl.col("outcome_on") > as_of))
    )
    schema = {"debtor_id": I64, "currency": pl.String(), "promised": I64, "on": pl.Date()}
    if pending.is_empty():
        return pl.DataFrame(schema=schema), kept
    payments = (
        allocations.filter(live_on(as_of) & (pl.col("source_kind") == "payment"))
        .join(instalments.select("instalment_id", "debtor_id", "currency"), on="instalment_id")
        .select("debtor_id", "currency", "allocated_on", "amount_minor")
    )
    since = (
        pending.select("promise_id", "debtor_id", "currency", "made_on")
        .join(payments, on=["debtor_id", "currency"])
        .filter(pl.col("allocated_on") >= pl.col("made_on"))
        .group_by("promise_id")
        .agg(pl.col("amount_minor").sum().alias("_paid"))
    )
    owed = book.group_by("debtor_id", "currency").agg(pl.col("open_minor").sum().alias("_open"))
    left = (
        pending.join(since, on="promise_id", how="left")
        .with_columns(
            (pl.col("amount_minor") - pl.col("_paid").fill_null(0)).clip(0).alias("_left")
        )
        .group_by("debtor_id", "currency")
        .agg(pl.col("_left").sum(), pl.col("due_on").max())
        .join(owed, on=["debtor_id", "currency"])
        .select(
            "debtor_id",
            "currency",
            pl.min_horizontal("_left", "_open").cast(I64).alias("promised"),
            pl.max_horizontal("due_on", pl.lit(as_of + timedelta(days=1))).alias("on"),
        )
        .filter(pl.col("promised") > 0)
    )
    return left.select(list(schema)), kept


#: What a payment plan or a settlement schedules: one row per amount due on a day, unpaid at the
#: end of ``as_of`` (a plan's instalment, a settlement's amount by its expiry day).
AGREEMENT_SCHEMA: dict[str, pl.DataType] = {
    "debtor_id": I64,
    "currency": pl.String(),
    "on": pl.Date(),
    "amount_minor": I64,
}


def agreed_amounts(
    agreements: pl.DataFrame | None, owed: pl.DataFrame, as_of: date
) -> pl.DataFrame:
    """Each scheduled amount (:data:`AGREEMENT_SCHEMA`) as expected: ``debtor_id``,
    ``currency``, ``on`` (at least the day after ``as_of``: an amount overdue is expected at
    once) and ``agreed`` (a float of minor units): the debtor's scheduled amounts are scaled
    down together when they add up to more than it owes (``owed``: ``_open`` per debtor and
    currency)."""
    schema = {"debtor_id": I64, "currency": pl.String(), "on": pl.Date(), "agreed": F64}
    if agreements is None or agreements.is_empty():
        return pl.DataFrame(schema=schema)
    total = pl.col("amount_minor").sum().over("debtor_id", "currency")
    return (
        agreements.join(owed, on=["debtor_id", "currency"])
        .with_columns(
            (
                pl.col("amount_minor").cast(F64)
                * pl.min_horizontal(pl.lit(1.0), pl.col("_open") / total)
            ).alias("agreed"),
            pl.max_horizontal("on", pl.lit(as_of + timedelta(days=1))).alias("on"),
        )
        .filter(pl.col("agreed") > 0)
        .select(list(schema))
    )


def new_invoices(
    instalments: pl.DataFrame,
    allocations: pl.DataFrame,
    as_of: date,
    days: int,
    sales_days: int = SALES_DAYS,
) -> pl.DataFrame:
    """What the invoices issued after ``as_of`` are expected to bring, per currency and day
    ``d`` (1..``days``): ``new`` (a float of minor units). The daily sales are the average of
    the ``sales_days`` up to ``as_of``; the share of an invoice paid ``L`` days after its issue
    day (``L`` = 0..days−1) is that of the instalments issued in the :data:`LOOKBACK_DAYS` up to
    ``as_of − days`` (whose first ``days`` days are all seen), by payments live at the end of
    ``as_of``."""
    sales = (
        instalments.filter(
            pl.col("issue_date").is_between(as_of - timedelta(days=sales_days - 1), as_of)
        )
        .group_by("currency")
        .agg((pl.col("amount_minor").sum() / sales_days).alias("daily"))
    )
    last = as_of - timedelta(days=days)
    cohort = instalments.filter(
        pl.col("issue_date").is_between(last - timedelta(days=LOOKBACK_DAYS - 1), last)
    )
    issued = cohort.group_by("currency").agg(pl.col("amount_minor").sum().alias("_issued"))
    lags = (
        allocations.filter(live_on(as_of) & (pl.col("source_kind") == "payment"))
        .join(cohort.select("instalment_id", "currency", "issue_date"), on="instalment_id")
        .with_columns((pl.col("allocated_on") - pl.col("issue_date")).dt.total_days().alias("lag"))
        .filter(pl.col("lag").is_between(0, days - 1))
        .group_by("currency", "lag")
        .agg(pl.col("amount_minor").sum().alias("_paid"))
        .join(issued, on="currency")
        .select(
            "currency", pl.col("lag").cast(I64), (pl.col("_paid") / pl.col("_issued")).alias("f")
        )
    )
    grid = pl.DataFrame({"d": range(1, days + 1)}, schema={"d": I64})
    issue_days = pl.DataFrame({"u": range(1, days + 1)}, schema={"u": I64})
    # invoices issued on day u after as_of are paid on day d at lag d − u
    return (
        sales.join(grid, how="cross")
        .join(issue_days, how="cross")
        .filter(pl.col("u") <= pl.col("d"))
        .with_columns((pl.col("d") - pl.col("u")).alias("lag"))
        .join(lags, on=["currency", "lag"], how="left")
        .group_by("currency", "d")
        .agg((pl.col("daily") * pl.col("f").fill_null(0.0)).sum().alias("new"))
        .sort("currency", "d")
    )


def forecast(
    instalments: pl.DataFrame,
    allocations: pl.DataFrame,
    as_of: date,
    weeks: int = WEEKS,
    *,
    promises: pl.DataFrame | None = None,
    agreements: pl.DataFrame | None = None,
    predicted_days: pl.DataFrame | None = None,
    blend: float = BLEND,
) -> pl.DataFrame:
    """Expected collections per currency and week after ``as_of``: ``currency``, ``week``,
    ``start``, ``end``, ``promised`` (open promises), ``agreed`` (plans' instalments and
    settlements), ``invoiced`` (the rest of the open invoices), ``new`` (invoices not issued
    yet) and ``expected`` (their sum), minor units.

    ``promises``: ``arrears.store.scoring.history.read_promises``' rows; ``agreements``: what
    plans and settlements schedule (:data:`AGREEMENT_SCHEMA`); ``predicted_days``:
    ``invoice_id`` and ``days_to_pay`` (days from ``as_of``, e.g. the propensity model's), for
    the invoices whose timing it gives (see the module); ``blend``: :func:`blended`'s weight (0:
    the new invoices' run rate alone)."""
    if weeks < 1:
        raise ValueError(f"weeks must be at least 1, not {weeks}")
    days = 7 * weeks
    book = open_instalments(instalments, allocations, as_of)
    curve = payment_curve(instalments, allocations, as_of)
    owed = book.group_by("debtor_id", "currency").agg(pl.col("open_minor").sum().alias("_open"))
    agreed = agreed_amounts(agreements, owed, as_of)
    kept = 1.0
    promised = pl.DataFrame(
        schema={"debtor_id": I64, "currency": pl.String(), "promised": I64, "on": pl.Date()}
    )
    if promises is not None and not promises.is_empty():
        promised, kept = promised_amounts(promises, instalments, allocations, as_of, book)
    # a promise takes at most what the agreements leave of the debtor's balance
    taken = agreed.group_by("debtor_id", "currency").agg(pl.col("agreed").sum().alias("_agreed"))
    promised = (
        promised.join(owed, on=["debtor_id", "currency"], how="left")
        .join(taken, on=["debtor_id", "currency"], how="left")
        .with_columns(
            pl.min_horizontal(
                pl.col("promised").cast(F64),
                (pl.col("_open") - pl.col("_agreed").fill_null(0.0)).clip(0),
            ).alias("promised")
        )
        .select("debtor_id", "currency", "promised", "on")
    )
    # what the agreements and promises take of each debtor's book: that share of each of its
    # instalments
    reserved = (
        pl.concat(
            [
                taken.rename({"_agreed": "_reserved"}),
                promised.select("debtor_id", "currency", pl.col("promised").alias("_reserved")),
            ]
        )
        .group_by("debtor_id", "currency")
        .agg(pl.col("_reserved").sum())
    )
    book = (
        book.join(owed, on=["debtor_id", "currency"])
        .join(reserved, on=["debtor_id", "currency"], how="left")
        .with_columns(
            (
                pl.col("open_minor").cast(F64)
                * (1.0 - pl.col("_reserved").fill_null(0.0) / pl.col("_open")).clip(0, 1)
            ).alias("_left")
        )
    )
    share = _projection(curve, book, days)
    per_day = share.join(
        book.group_by("currency", "r0").agg(pl.col("_left").sum()), on=["currency", "r0"]
    )
    if predicted_days is not None:
        timed = book.join(predicted_days.select("invoice_id", "days_to_pay"), on="invoice_id")
        untimed = book.join(predicted_days.select("invoice_id"), on="invoice_id", how="anti")
        on_day = _shifted(share, timed, days)
        rest = share.join(
            untimed.group_by("currency", "r0").agg(pl.col("_left").sum()), on=["currency", "r0"]
        ).select("currency", "d", (pl.col("share") * pl.col("_left")).alias("invoiced"))
        invoiced = pl.concat([on_day, rest])
    else:
        invoiced = per_day.select(
            "currency", "d", (pl.col("share") * pl.col("_left")).alias("invoiced")
        )
    promised_days = promised.filter(pl.col("on") <= as_of + timedelta(days=days)).select(
        "currency",
        (pl.col("on") - pl.lit(as_of)).dt.total_days().cast(I64).alias("d"),
        (pl.col("promised") * kept).alias("promised"),
    )
    agreed_days = agreed.filter(pl.col("on") <= as_of + timedelta(days=days)).select(
        "currency",
        (pl.col("on") - pl.lit(as_of)).dt.total_days().cast(I64).alias("d"),
        "agreed",
    )
    new = new_invoices(instalments, allocations, as_of, days)
    parts = [
        promised_days.select("currency", "d", "promised"),
        agreed_days,
        invoiced.select("currency", "d", "invoiced"),
        new.select("currency", "d", "new"),
    ]
    rows = weekly(parts, as_of, weeks)
    if blend == 0:
        return rows
    return blended(rows, naive_forecast(instalments, allocations, as_of, weeks), blend)


def blended(rows: pl.DataFrame, naive: pl.DataFrame, blend: float = BLEND) -> pl.DataFrame:
    """:func:`weekly`'s rows with each week's ``new`` moved towards the trailing average.

    Beyond the first weeks a week's collections are mostly of invoices not issued yet: the
    forecast is then a run rate (the last 13 weeks' sales × how they are paid), an estimate of
    the same level as the baseline's (the last 13 weeks' collections), each with its own
    noise; their average is steadier than either. The week's forecast ``E`` becomes ``(1 − w) ×
    E + w × naive`` with ``w = blend × new / E`` (0 when ``E`` is 0 or the currency has no
    baseline): a week made of open invoices and promises keeps its forecast, a week made only
    of new invoices is ``blend`` of the way to the baseline. The change goes to ``new``:
    ``new + round(blend × new × (naive − E) / E)``, half to even, so the components still add
    up to ``expected`` and ``new`` stays at least ``(1 − blend) × new``."""
    if not 0 <= blend <= 1:
        raise ValueError(f"blend must be between 0 and 1, not {blend}")
    expected = pl.col("expected")
    shift = (
        pl.when((expected > 0) & pl.col("_naive").is_not_null())
        .then(
            (
                blend
                * pl.col("new").cast(F64)
                * (pl.col("_naive") - expected).cast(F64)
                / expected.cast(F64)
            )
            .round(0)
            .cast(I64)
        )
        .otherwise(0)
    )
    return (
        rows.join(
            naive.select("currency", "week", pl.col("naive").alias("_naive")),
            on=["currency", "week"],
            how="left",
        )
        .with_columns((pl.col("new") + shift).alias("new"))
        .with_columns(pl.sum_horizontal(*PARTS).alias("expected"))
        .sort("currency", "week")
        .select(rows.columns)
    )


def weekly(parts: Sequence[pl.DataFrame], as_of: date, weeks: int) -> pl.DataFrame:
    """Daily expected amounts (frames of ``currency``, ``d`` and one of :data:`PARTS`) added
    per currency and week, each part rounded to the minor unit; every currency seen has every
    week."""
    long = pl.concat(
        [
            p.select(
                "currency",
                ((pl.col("d") - 1) // 7 + 1).cast(I64).alias("week"),
                pl.lit(name).alias("part"),
                pl.col(name).cast(F64).alias("value"),
            )
            for p, name in zip(parts, PARTS, strict=True)
        ]
    )
    currencies = long.select("currency").unique().sort("currency")
    grid = currencies.join(week_bounds(as_of, weeks), how="cross")
    sums = long.group_by("currency", "week").agg(
        pl.col("value").filter(pl.col("part") == name).sum().round(0).cast(I64).alias(name)
        for name in PARTS
    )
    return (
        grid.join(sums, on=["currency", "week"], how="left")
        .with_columns(pl.col(*PARTS).fill_null(0))
        .with_columns(pl.sum_horizontal(*PARTS).alias("expected"))
        .sort("currency", "week")
        .select("currency", "week", "start", "end", *AMOUNTS)
    )


def actual_collections(
    instalments: pl.DataFrame, allocations: pl.DataFrame, as_of: date, weeks: int, observed: date
) -> pl.DataFrame:
    """Payments allocated in each week after ``as_of`` and not reversed by ``observed`` (the
    last day the ledger is known to), per currency: ``currency``, ``week``, ``start``, ``end``,
    ``actual`` (minor units) and ``complete`` (the week ends by ``observed``)."""
    bounds = week_bounds(as_of, weeks)
    paid = (
        allocations.filter(
            (pl.col("source_kind") == "payment")
            & pl.col("allocated_on").is_between(
                as_of + timedelta(days=1), as_of + timedelta(days=7 * weeks)
            )
            & live_on(observed)
        )
        .join(instalments.select("instalment_id", "currency"), on="instalment_id")
        .with_columns(
            ((pl.col("allocated_on") - pl.lit(as_of)).dt.total_days() - 1)
            .floordiv(7)
            .add(1)
            .cast(I64)
            .alias("week")
        )
        .group_by("currency", "week")
        .agg(pl.col("amount_minor").sum().cast(I64).alias("actual"))
    )
    currencies = instalments.select("currency").unique().sort("currency")
    return (
        currencies.join(bounds, how="cross")
        .join(paid, on=["currency", "week"], how="left")
        .with_columns(pl.col("actual").fill_null(0), (pl.col("end") <= observed).alias("complete"))
        .sort("currency", "week")
    )


def naive_forecast(
    instalments: pl.DataFrame, allocations: pl.DataFrame, as_of: date, weeks: int = WEEKS
) -> pl.DataFrame:
    """The baseline: each week after ``as_of`` expects the average weekly payments of the 13
    weeks up to ``as_of`` (allocated then, live at its end): ``currency``, ``week``,
    ``naive``."""
    first = as_of - timedelta(days=SALES_DAYS - 1)
    average = (
        allocations.filter(
            (pl.col("source_kind") == "payment")
            & pl.col("allocated_on").is_between(first, as_of)
            & live_on(as_of)
        )
        .join(instalments.select("instalment_id", "currency"), on="instalment_id")
        .group_by("currency")
        .agg((pl.col("amount_minor").sum() * 7 / SALES_DAYS).round(0).cast(I64).alias("naive"))
    )
    return average.join(week_bounds(as_of, weeks).select("week"), how="cross").sort(
        "currency", "week"
    )


def errors(frame: pl.DataFrame) -> pl.DataFrame:
    """Per row of ``expected``, ``naive`` and ``actual``: ``error`` (expected − actual),
    ``ape`` and ``naive_ape`` (absolute percentage errors, null when nothing was collected)."""
    actual = pl.col("actual")
    return frame.with_columns(
        (pl.col("expected") - actual).alias("error"),
        pl.when(actual > 0).then((pl.col("expected") - actual).abs() / actual).alias("ape"),
        pl.when(actual > 0).then((pl.col("naive") - actual).abs() / actual).alias("naive_ape"),
    )


def accuracy(frame: pl.DataFrame, keys: Sequence[str]) -> pl.DataFrame:
    """Per ``keys`` of a frame of :func:`errors`: ``weeks`` compared, ``actual``,
    ``expected``, ``wape`` = Σ|expected − actual| / Σ actual, ``mape`` = mean of ``ape`` over
    the weeks something was collected, the same two of the naive baseline, and ``better``: the
    forecast's WAPE is lower than the baseline's (a tie is not better; null without a WAPE)."""
    actual = pl.col("actual").sum()
    return (
        frame.group_by(list(keys))
        .agg(
            pl.len().cast(I64).alias("weeks"),
            actual.alias("actual"),
            pl.col("expected").sum().alias("expected"),
            pl.when(actual > 0)
            .then((pl.col("expected") - pl.col("actual")).abs().sum() / actual)
            .alias("wape"),
            pl.col("ape").mean().alias("mape"),
            pl.when(actual > 0)
            .then((pl.col("naive") - pl.col("actual")).abs().sum() / actual)
            .alias("naive_wape"),
            pl.col("naive_ape").mean().alias("naive_mape"),
        )
        .with_columns((pl.col("wape") < pl.col("naive_wape")).alias("better"))
        .sort(list(keys))
    )


def wins(by_horizon: pl.DataFrame) -> pl.DataFrame:
    """Per currency of :func:`accuracy`'s rows by ``currency`` and ``week``: ``won`` (the weeks
    ahead where the forecast's WAPE is lower than the baseline's), ``lost`` (the others with a
    WAPE, ties included) and ``horizons`` (how many weeks ahead have one)."""
    judged = by_horizon.filter(pl.col("better").is_not_null())
    return (
        judged.sort("currency", "week")
        .group_by("currency", maintain_order=True)
        .agg(
            pl.col("week").filter(pl.col("better")).alias("won"),
            pl.col("week").filter(~pl.col("better")).alias("lost"),
            pl.len().cast(I64).alias("horizons"),
        )
    )
