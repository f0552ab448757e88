"""The debtor model (the score, whose reasons collectors read) does not learn from the features
that act as a clock (``CLOCK_FEATURES``: the days since the first invoice or the last payment,
the invoices of the last 90 days): a model scores months after its training days, where those
values lie beyond anything it learned from, so they must move neither a score nor a reason."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from arrears.scoring import Settings, train
from arrears.scoring.features import CLOCK_FEATURES, debtor_features
from arrears.scoring.frames import view_at
from arrears.scoring.model import predict_pay, score_view
from arrears.scoring.words import phrase
from test_scoring import synthetic


def test_the_clock_features_move_no_prediction_and_no_reason() -> None:
    history = synthetic()
    model = train(history, date(2024, 3, 1), date(2024, 12, 1), Settings(snapshot_every_days=14))
    assert set(model.metadata["models"].values()) == {"trained"}
    learned = model.metadata["features"]
    assert not set(CLOCK_FEATURES) & set(learned["debtor"])

    view = view_at(history, date(2025, 6, 20))  # six months after the last training day
    debtors = debtor_features(view)
    assert debtors.height
    before = predict_pay(model, debtors)
    for value in (0.0, 1e6):
        moved = debtors.with_columns(pl.lit(value).alias(name) for name in CLOCK_FEATURES)
        np.testing.assert_array_equal(predict_pay(model, moved), before)

    scored = score_view(model, view)
    said = [r for reasons in scored["reasons"] for r in reasons]
    # the reasons are in words (arrears.scoring.words); none says what a clock feature says
    row = {"tenure_days": 1.0, "issued_90d": 1.0, "days_since_settlement": 1.0}
    clock = [phrase(name, row).split(" 1 ")[0] for name in CLOCK_FEATURES]
    assert said and not [r for r in said if any(c in r for c in clock)]


def test_a_value_beyond_the_training_range_is_scored_as_the_range_edge() -> None:
    """The invoice models still learn from the clock features (issue 18 asks for a range check:
    clip or flag). A boosted tree compares a feature with thresholds that lie between values
    it learned from, so a value beyond the largest (or below the smallest) is scored exactly as
    that edge: clipping to the training range changes no prediction; what a range check can add
    is a flag, not another score."""
    from arrears.scoring.examples import invoice_examples, snapshot_days
    from arrears.scoring.features import INVOICE_FEATURES, invoice_features
    from arrears.scoring.model import predict_days, predict_late

    history = synthetic()
    start, end = date(2024, 3, 1), date(2024, 12, 1)
    model = train(history, start, end, Settings(snapshot_every_days=14))
    learned = invoice_examples(history, snapshot_days(start, end, 14)).filter(
        pl.col("as_of").is_between(start, end)
    )
    invoices = invoice_features(view_at(history, date(2025, 6, 20)))
    assert invoices.height
    edges = {n: (learned[n].min(), learned[n].max()) for n in INVOICE_FEATURES}
    beyond = invoices.with_columns(
        pl.lit(1e7).alias("tenure_days"), pl.lit(-1e7).alias("days_to_due")
    )
    clipped = beyond.with_columns(
        pl.col(n).clip(lo, hi) for n, (lo, hi) in edges.items() if lo is not None
    )
    assert (clipped["tenure_days"] == edges["tenure_days"][1]).all()
    np.testing.assert_array_equal(predict_late(model, beyond), predict_late(model, clipped))
    np.testing.assert_array_equal(predict_days(model, beyond), predict_days(model, clipped))
