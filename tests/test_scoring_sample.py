"""Training on a sample of debtors (``Settings.max_debtors``) and the large-data model settings.

Every feature is computed per debtor from its own ledger, so the examples of a sampled
debtor are exactly its examples in the whole history; the sample is a fixed function of the
debtor ids (a hash), the same on every run, and bounded by the cap."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sklearn.calibration import CalibratedClassifierCV

from arrears.scoring import model as scoring_model
from arrears.scoring.examples import debtor_examples, invoice_examples, snapshot_days
from arrears.scoring.frames import debtor_hash, sample_debtors
from arrears.scoring.model import Settings, fit_debtor, train
from test_scoring_examples import START, random_history


def test_the_sample_is_bounded_deterministic_and_keeps_whole_debtors() -> None:
    history = random_history(5, debtors=60)
    total = history.instalments["debtor_id"].n_unique()
    same, n, kept = sample_debtors(history, None)
    assert same is history and n == kept == total
    same, n, kept = sample_debtors(history, total)
    assert same is history and kept == total

    sampled, n, kept = sample_debtors(history, 20)
    assert (n, kept) == (total, 20)
    ids = set(sampled.instalments["debtor_id"])
    assert len(ids) == 20
    # the 20 lowest hashes, whatever the order of the rows
    everyone = np.array(sorted(set(history.instalments["debtor_id"])))
    lowest = set(everyone[np.argsort(debtor_hash(everyone))[:20]].tolist())
    assert ids == lowest
    shuffled = history.instalments.sample(fraction=1.0, shuffle=True, seed=3)
    again, _, _ = sample_debtors(type(history)(shuffled, history.allocations), 20)
    assert set(again.instalments["debtor_id"]) == ids
    # whole debtors: every instalment of a kept debtor, and exactly their allocations
    mine = history.instalments.filter(pl.col("debtor_id").is_in(list(ids)))
    assert sampled.instalments.height == mine.height
    assert_frame_equal(
        sampled.allocations,
        history.allocations.filter(pl.col("instalment_id").is_in(mine["instalment_id"].implode())),
    )


def test_a_sampled_debtors_examples_are_its_examples_in_the_whole_history() -> None:
    history = random_history(6, debtors=40)
    sampled, _, _ = sample_debtors(history, 15)
    ids = sampled.instalments["debtor_id"].unique().implode()
    days = snapshot_days(START + timedelta(days=60), START + timedelta(days=400), 21)
    mine = pl.col("debtor_id").is_in(ids)
    assert_frame_equal(debtor_examples(sampled, days), debtor_examples(history, days).filter(mine))
    # an invoice still unsettled is late when the history's last day is after its due date:
    # the sample's last day can be earlier, so it may leave such a row out, never add one
    whole = invoice_examples(history, days).filter(mine)
    part = invoice_examples(sampled, days)
    keys = ["invoice_id", "as_of"]
    joined = part.join(whole, on=keys, how="inner", suffix="_whole")
    assert joined.height == part.height > 0
    for name in part.columns:
        if name not in keys:
            assert joined[name].equals(joined[f"{name}_whole"], null_equal=True), name


def test_train_records_its_sample() -> None:
    history = random_history(7, debtors=60, days=700)
    model = train(history, START, date(2024, 12, 1), Settings(max_debtors=40))
    sample = model.metadata["sample"]
    assert sample["debtors"] == history.instalments["debtor_id"].n_unique()
    assert sample["sampled_debtors"] == 40 and sample["max_debtors"] == 40
    assert model.metadata["settings"]["max_debtors"] == 40


def test_from_many_examples_a_classifier_is_one_calibrated_model_of_few_trees(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    history = random_history(8, debtors=60, days=700)
    days = snapshot_days(START + timedelta(days=30), START + timedelta(days=600), 7)
    examples = debtor_examples(history, days)
    small, _ = fit_debtor(examples)
    assert isinstance(small, CalibratedClassifierCV) and len(small.calibrated_classifiers_) == 5
    monkeypatch.setattr(scoring_model, "LARGE", examples.height)
    large, _ = fit_debtor(examples)
    assert len(large.calibrated_classifiers_) == 1
    assert large.calibrated_classifiers_[0].estimator.n_iter_ == 40
    assert scoring_model.regressor(examples.height).max_iter == 10
