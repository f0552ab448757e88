"""The features and training examples equal, exactly, the code they replaced.

The reference below is the code as it was before it was made faster: the features of one
:class:`View` with per-group filters, and the examples built with one :func:`view_at` (or
:func:`issue_view`) per day. Random histories exercise partial payments, credit notes,
write-offs, reversals (before and after the days), several instalments and currencies,
disputes, allocations dated before an invoice's issue day and invoices issued on the snapshot
days themselves.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import date, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from arrears.scoring import examples
from arrears.scoring.examples import debtor_examples, invoice_examples, settlements, snapshot_days
from arrears.scoring.features import (
    DEBTOR_FEATURES,
    INVOICE_FEATURES,
    KEY,
    NOT_FOR_RULES,
    debtor_features,
    invoice_features,
)
from arrears.scoring.frames import (
    DEBTOR_EVENT_SCHEMA,
    HISTORY_ALLOCATION_SCHEMA,
    HISTORY_INSTALMENT_SCHEMA,
    LIMIT_SCHEMA,
    History,
    View,
    issue_view,
    live_allocations,
    view_at,
)
from arrears.scoring.model import score_view
from arrears.scoring.rules import rules_score

START = date(2023, 1, 1)


def random_history(seed: int, debtors: int = 30, days: int = 500) -> History:
    rng = random.Random(seed)
    inst, alloc = [], []
    iid = 0
    for inv in range(1, debtors * 12):
        debtor = rng.randrange(1, debtors + 1)
        currency = "EUR" if debtor % 4 else rng.choice(["EUR", "USD"])
        issue = START + timedelta(days=rng.randrange(days))
        disputed = rng.random() < 0.08
        # most disputes undated (known since the invoice came in), some learnt of later
        disputed_on = None
        if disputed and rng.random() < 0.5:
            disputed_on = issue + timedelta(days=rng.randrange(0, 90))
        for seq in range(rng.choice([1, 1, 1, 2, 3])):
            iid += 1
            due = issue + timedelta(days=rng.choice([0, 14, 30, 30, 45, 60]) + 30 * seq)
            amount = rng.choice([0, rng.randrange(100, 50_000), rng.randrange(100, 5_000)])
            inst.append((iid, inv, debtor, currency, issue, due, amount, disputed, disputed_on))
            left = amount
            for _ in range(rng.choice([0, 1, 1, 2, 3])):
                kind = rng.choice(["payment", "payment", "payment", "credit_note", "write_off"])
                part = rng.choice([left, left, rng.randrange(1, max(2, left + 1))])
                on = due + timedelta(days=rng.randrange(-40, 120))
                if rng.random() < 0.03:
                    on = issue - timedelta(days=rng.randrange(1, 5))  # before the issue day
                reversed_on = None
                if rng.random() < 0.12:
                    reversed_on = on + timedelta(days=rng.randrange(0, 60))
                alloc.append((iid, kind, part, on, reversed_on))
                if reversed_on is None:
                    left = max(0, left - part)
    # half the dated disputes are learnt on a day the same debtor is issued another invoice
    # (that invoice's issue-day example must not see them: they are of its day)
    issued: dict[int, list[date]] = {}
    for row in inst:
        issued.setdefault(row[2], []).append(row[4])
    later = {
        row[1]: rng.choice(days_on)
        for row in inst
        if row[8] is not None and rng.random() < 0.5
        if (days_on := [d for d in issued[row[2]] if d > row[4]])
    }
    inst = [(*row[:8], later.get(row[1], row[8])) for row in inst]
    # credit limits (their own generator: the ledger stays as it was): two debtors in three,
    # in EUR (a debtor's USD balance has no utilisation)
    draw = random.Random(seed + 1_000)
    limits = [(d, "EUR", draw.randrange(1_000, 200_000)) for d in range(1, debtors + 1) if d % 3]
    # promises to pay (their own generator too): some judged kept or broken days after they
    # were made (some on a day the debtor is issued an invoice), some never judged
    vow = random.Random(seed + 2_000)
    promises = []
    for _ in range(debtors * 3):
        debtor = vow.randrange(1, debtors + 1)
        made = START + timedelta(days=vow.randrange(days))
        judged_on = None
        kept = None
        if vow.random() < 0.8:
            judged_on = made + timedelta(days=vow.randrange(0, 40))
            if vow.random() < 0.3 and issued.get(debtor):
                judged_on = vow.choice(issued[debtor])
                made = min(made, judged_on)
            kept = vow.random() < 0.5
        promises.append((debtor, made, judged_on, kept, "promise"))
    # disputes (the dispute records: counted from the day they count from, whatever came of
    # them; some on a day the debtor is issued an invoice)
    for _ in range(debtors):
        debtor = vow.randrange(1, debtors + 1)
        opened = START + timedelta(days=vow.randrange(days))
        if vow.random() < 0.3 and issued.get(debtor):
            opened = vow.choice(issued[debtor])
        promises.append((debtor, opened, None, None, "dispute"))
    return History(
        pl.DataFrame(inst, schema=HISTORY_INSTALMENT_SCHEMA, orient="row"),
        pl.DataFrame(alloc, schema=HISTORY_ALLOCATION_SCHEMA, orient="row"),
        pl.DataFrame(limits, schema=LIMIT_SCHEMA, orient="row"),
        pl.DataFrame(promises, schema=DEBTOR_EVENT_SCHEMA, orient="row"),
    )


# -- the reference: the features as they were, one view per day ----------------------------------
def _ref_days(later: pl.Expr, earlier: pl.Expr) -> pl.Expr:
    return (later - earlier).dt.total_days().cast(pl.Float64())


def _ref_history(view: View) -> pl.LazyFrame:
    """Per debtor (every currency): how it paid the instalments settled in the last year."""
    d = view.as_of
    late = _ref_days(pl.col("settled_on"), pl.col("due_date")).clip(0)
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
            _ref_days(pl.col("settled_on"), pl.col("issue_date"))
            .mean()
            .alias("avg_days_to_settle"),
            pl.col("disputed").cast(pl.Float64()).mean().alias("disputed_share_365d"),
            _ref_days(pl.col("settled_on"), pl.col("issue_date"))
            .filter(~pl.col("disputed"))
            .mean()
            .alias("avg_days_to_settle_undisputed"),
            _ref_days(pl.lit(d), pl.col("settled_on").max()).alias("days_since_settlement"),
        )
    )


def _ref_issued(view: View) -> pl.LazyFrame:
    d = view.as_of
    inst = view.instalments.lazy()
    fell = (pl.col("due_date") < d) & (pl.col("due_date") >= d - timedelta(days=90))
    billed = pl.col("amount_minor").filter(fell).sum()
    unpaid = pl.col("open_minor").filter(fell).sum()
    return inst.group_by("debtor_id").agg(
        pl.when(billed > 0)
        .then(1.0 - unpaid.cast(pl.Float64()) / billed.cast(pl.Float64()))
        .alias("paid_share_90d"),
        _ref_days(pl.lit(d), pl.col("issue_date").min()).alias("tenure_days"),
        (pl.col("issue_date") > d - timedelta(days=90))
        .sum()
        .cast(pl.Float64())
        .alias("issued_90d"),
        pl.col("amount_minor").median().cast(pl.Float64()).alias("_typical_amount"),
    )


def _ref_promises(view: View) -> pl.LazyFrame:
    d = view.as_of
    made = (pl.col("made_on") <= d) & (pl.col("made_on") > d - timedelta(days=365))
    judged = (pl.col("judged_on") <= d) & pl.col("kept").is_not_null()
    promise = pl.col("event") == "promise"
    judged = judged & promise
    return (
        view.promises.lazy()
        .filter(made)
        .group_by("debtor_id")
        .agg(
            promise.sum().cast(pl.Float64()).alias("promises_made_12m"),
            (~promise).sum().cast(pl.Float64()).alias("disputes_12m"),
            (judged & ~pl.col("kept")).sum().cast(pl.Float64()).alias("promises_broken_12m"),
            pl.when(judged.sum() > 0)
            .then((judged & pl.col("kept")).sum() / judged.sum())
            .alias("promise_kept_rate"),
        )
    )


def reference_debtor_features(view: View) -> pl.DataFrame:
    """One row per (debtor_id, currency) with an open balance, every debtor feature, and
    ``overdue_minor`` / ``open_minor`` (money, for the outcome and the expected recovery)."""
    d = view.as_of
    open_inst = view.instalments.lazy().filter(pl.col("open_minor") > 0)
    past_due = pl.col("due_date") < d
    overdue_days = _ref_days(pl.lit(d), pl.col("due_date"))
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
        balances.join(_ref_history(view), on="debtor_id", how="left")
        .join(_ref_issued(view), on="debtor_id", how="left")
        .join(_ref_promises(view), on="debtor_id", how="left")
        .join(view.limits.lazy().rename({"limit_currency": "currency"}), on=KEY, how="left")
        .with_columns(
            pl.col("credit_limit_minor").cast(pl.Float64()).log1p().alias("log_credit_limit"),
            (pl.col("open_minor") / pl.col("credit_limit_minor")).alias("utilisation"),
            pl.col("open_minor").cast(pl.Float64()).log1p().alias("log_open"),
            pl.col("overdue_minor").cast(pl.Float64()).log1p().alias("log_overdue"),
            (pl.col("overdue_minor") / pl.col("open_minor")).alias("overdue_share"),
            pl.col("max_days_overdue_mean").fill_null(0.0),
            pl.col("settled_365d").fill_null(0.0),
            pl.col("promises_made_12m").fill_null(0.0),
            pl.col("promises_broken_12m").fill_null(0.0),
            pl.col("disputes_12m").fill_null(0.0),
        )
    )
    return (
        frame.select(*KEY, "open_minor", "overdue_minor", "_typical_amount", *DEBTOR_FEATURES)
        .collect()
        .sort(KEY)
    )


def reference_invoice_features(view: View, invoice_ids: pl.Series | None = None) -> pl.DataFrame:
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
    debtors = reference_debtor_features(view).drop("open_minor", "overdue_minor").lazy()
    frame = invoices.join(debtors, on=KEY, how="left").with_columns(
        pl.col("amount_minor").cast(pl.Float64()).log1p().alias("log_amount"),
        _ref_days(pl.col("due_date"), pl.col("issue_date")).alias("term_days"),
        _ref_days(pl.lit(d), pl.col("issue_date")).alias("age_days"),
        _ref_days(pl.col("due_date"), pl.lit(d)).alias("days_to_due"),
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


def reference_debtor_examples(
    history: History, days: Iterable[date], *, window_days: int = 30, share: float = 0.5
) -> pl.DataFrame:
    frames = []
    payments = history.allocations.filter(pl.col("source_kind") == "payment")
    for day in days:
        view = view_at(history, day)
        end = day + timedelta(days=window_days)
        due = view.instalments.filter((pl.col("open_minor") > 0) & (pl.col("due_date") <= end))
        owed = due.group_by(KEY).agg(pl.col("open_minor").sum().alias("due_minor"))
        feats = reference_debtor_features(view).join(owed, on=KEY)
        if feats.is_empty():
            continue
        paid = (
            live_allocations(payments, end)
            .filter(pl.col("allocated_on") > day)
            .join(due.select("instalment_id", *KEY).lazy(), on="instalment_id")
            .group_by(KEY)
            .agg(pl.col("amount_minor").sum().alias("paid_minor"))
            .collect()
        )
        frames.append(
            feats.join(paid, on=KEY, how="left").with_columns(
                pl.lit(day).alias("as_of"),
                pl.col("paid_minor").fill_null(0),
                (pl.col("paid_minor").fill_null(0) >= share * pl.col("due_minor")).alias("paid"),
            )
        )
    if not frames:
        return pl.DataFrame()
    return pl.concat(frames, how="vertical_relaxed")


def reference_invoice_examples(history: History, days: Iterable[date] = ()) -> pl.DataFrame:
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
                reference_invoice_features(issue_view(history, day), ids).with_columns(
                    pl.lit(True).alias("at_issue")
                )
            )
        if day in extra:
            rows = reference_invoice_features(view_at(history, day))
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


# -- the tests ------------------------------------------------------------------------------------
@pytest.fixture(params=[None, 1500], ids=["one chunk", "small chunks"])
def chunking(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run once with the default chunks, once with a chunk of a day or two (the chunks' edges)."""
    if request.param is not None:
        monkeypatch.setattr(examples, "ROWS_PER_CHUNK", request.param)
        monkeypatch.setattr(examples, "POINTS_PER_CHUNK", 40)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_debtor_examples_equal_the_per_day_reference(seed: int, chunking: None) -> None:
    history = random_history(seed)
    days = snapshot_days(START + timedelta(days=20), START + timedelta(days=560), 9)
    mine = debtor_examples(history, days, window_days=30, share=0.5)
    reference = reference_debtor_examples(history, days, window_days=30, share=0.5)
    reference = reference.select(mine.columns).sort("as_of", "debtor_id", "currency")
    assert mine.height > 500
    # current accounts (nothing overdue, something falling due in the window) are examples
    assert mine.filter(pl.col("overdue_minor") == 0).height > 50
    assert_frame_equal(mine, reference, check_exact=True)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_invoice_examples_equal_the_per_day_reference(seed: int, chunking: None) -> None:
    history = random_history(seed)
    # snapshot days that are also issue days, and days after the last invoice
    issue_days = sorted(set(history.instalments["issue_date"].to_list()))
    days = [*issue_days[5:200:17], START + timedelta(days=520), START + timedelta(days=600)]
    mine = invoice_examples(history, days)
    reference = reference_invoice_examples(history, days)
    assert mine.filter(~pl.col("at_issue")).height > 500
    assert_frame_equal(mine, reference, check_exact=True)


@pytest.mark.parametrize("seed", [1, 2])
def test_features_of_a_view_equal_the_reference(seed: int) -> None:
    history = random_history(seed)
    for day in snapshot_days(START + timedelta(days=30), START + timedelta(days=600), 37):
        for view in (view_at(history, day), issue_view(history, day)):
            debtors = debtor_features(view)
            assert_frame_equal(debtors, reference_debtor_features(view), check_exact=True)
            invoices = invoice_features(view, debtors=debtors)
            assert_frame_equal(invoices, reference_invoice_features(view), check_exact=True)
            # the lender features are there: a limit's utilisation (EUR only), statements paid
            with_limit = debtors.filter(pl.col("utilisation").is_not_null())
            assert with_limit.height and (with_limit["currency"] == "EUR").all()
            assert debtors.filter(pl.col("currency") == "USD")["utilisation"].null_count() == (
                debtors.filter(pl.col("currency") == "USD").height
            )
            assert debtors["paid_share_90d"].drop_nulls().is_between(0, 1).all()


def test_no_days_and_an_empty_history() -> None:
    history = random_history(5, debtors=3, days=40)
    assert_frame_equal(invoice_examples(history), reference_invoice_examples(history))
    assert debtor_examples(history, []).is_empty()
    empty = History(
        pl.DataFrame(schema=HISTORY_INSTALMENT_SCHEMA),
        pl.DataFrame(schema=HISTORY_ALLOCATION_SCHEMA),
    )
    assert debtor_examples(empty, [START]).is_empty()
    assert invoice_examples(empty, [START]).is_empty()


def test_reasons_only_where_asked() -> None:
    history = random_history(3)
    view = view_at(history, START + timedelta(days=400))
    full = score_view(None, view)
    assert full.height > 20 and all(len(r) > 0 for r in full["reasons"])
    assert full.equals(full.sort("debtor_id", "currency"))
    bare = score_view(None, view, with_reasons=False)
    assert_frame_equal(bare.drop("reasons"), full.drop("reasons"), check_exact=True)
    assert bare["reasons"].list.len().sum() == 0
    some = full["debtor_id"].unique().sort().head(3).to_list()
    asked = score_view(None, view, with_reasons=False, reasons_for=some)
    assert_frame_equal(asked.drop("reasons"), full.drop("reasons"), check_exact=True)
    mine = pl.col("debtor_id").is_in(some)
    assert_frame_equal(asked.filter(mine), full.filter(mine), check_exact=True)
    assert asked.filter(~mine)["reasons"].list.len().sum() == 0


def test_the_rules_score_needs_only_its_features() -> None:
    history = random_history(4)
    view = view_at(history, START + timedelta(days=420))
    full = debtor_features(view)
    lean = debtor_features(view, rules_only=True)
    assert_frame_equal(lean.drop(NOT_FOR_RULES), full.drop(NOT_FOR_RULES), check_exact=True)
    assert all(lean[n].null_count() == lean.height for n in NOT_FOR_RULES)
    assert_frame_equal(rules_score(lean).to_frame(), rules_score(full).to_frame())
