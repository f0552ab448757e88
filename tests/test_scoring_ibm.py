"""The backtest on the IBM accounts-receivable sample, imported through the normal importer:
chronological split (the oldest 80 % of invoices train), floors just under the measured figures
(AUC 0.899; accuracy 0.820 at 0.5, 0.824 at the threshold chosen on the training period's newest
20 %, 0.56; Brier 0.116; days-late MAE 1.71 over all test invoices, 4.88 over late ones, 3.91 for
a regressor trained and scored on late invoices only as the published one). The model beats
both of its baselines (past late rate 0.808, rules 0.816 accuracy) and reaches the published
careful figures (AUC about 0.885, accuracy about 0.82). On this sample the debtor score cannot
be trained (almost every debtor pays within 30 days): training keeps the invoice models and the
rules give the score, and says so."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from arrears.domain.columns import Kind
from arrears.io.batches import ReadOptions
from arrears.io.ibm import convert
from arrears.io.importer import import_files
from arrears.scoring import Settings, train
from arrears.scoring.evaluate import backtest
from arrears.scoring.frames import History, view_at
from arrears.scoring.model import RulesScore, score_view
from arrears.scoring.registry import load, save
from arrears.store.database import connect, upgrade
from arrears.store.portfolios import ensure_portfolio
from arrears.store.scoring.history import read_history

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "ibm-accounts-receivable.csv"


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    """The sample lives in ../shared/data; CI always has it there, so its absence fails CI."""
    if not SAMPLE.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{SAMPLE} is missing: CI checks out shared/ beside main")
        pytest.skip("the IBM sample is not checked out beside main")
    tmp_path = tmp_path_factory.mktemp("ibm")
    url = f"sqlite:///{tmp_path / 'ibm.db'}"
    upgrade(url)
    engine = connect(url)
    with engine.begin() as conn:
        ensure_portfolio(conn, "default", name=None, base_currency="USD", actor="t")
    files = convert(SAMPLE, tmp_path / "files")
    for kind in (Kind.DEBTORS, Kind.INVOICES, Kind.PAYMENTS):
        assert import_files(engine, kind, [files[kind]], ReadOptions(), actor="t").committed
    found = read_history(engine, portfolio="default")
    engine.dispose()
    return found


def test_ibm_backtest_beats_its_baselines(history: History) -> None:
    report = backtest(history, train_share=0.8)
    assert report["cutoff"] == "2013-07-12"
    assert (report["invoice"]["train"], report["invoice"]["test"]) == (1966, 500)
    late = report["invoice"]["paid_late"]
    model = late["model"]
    assert model["auc"] >= 0.895
    assert model["accuracy"] >= 0.815
    assert model["brier"] <= 0.12
    assert model["precision"] >= 0.69 and model["recall"] >= 0.62
    tuned = model["threshold_from_training"]
    assert tuned["validation_from"] < report["cutoff"]
    assert tuned["accuracy"] >= 0.815
    for baseline in ("past late rate", "rules"):
        assert model["auc"] > late[baseline]["auc"] > 0.8
        assert model["accuracy"] > late[baseline]["accuracy"]
        assert model["brier"] < late[baseline]["brier"]
    days = report["invoice"]["days"]
    assert days["model"]["mae_days_late_all"] <= 1.75
    # 4.82 before the promise and dispute history features (ec9b4ac), 4.96 with them (AUC
    # 0.8996 -> 0.8992, Brier 0.1158 -> 0.1164: docs/scoring.md)
    assert days["model"]["mae_days_late_late_only"] <= 5.0
    published = days["model trained on late invoices only (as published; told which are late)"]
    assert published["mae_days_late_late_only"] <= 3.95  # published: 4.11
    naive = days["naive (paid on the due date)"]
    assert days["model"]["mae_days_late_all"] < naive["mae_days_late_all"]


def test_what_can_be_trained_is_kept_and_the_rest_says_rules(
    history: History, tmp_path: Path
) -> None:
    # since every account owing something due in the window is an example (issue 18), the
    # IBM sample has enough of both outcomes to train the debtor model; a share of 0 (every
    # example paid) leaves it with one outcome only, so the rules stand in for it
    settings = Settings(snapshot_every_days=28, share=0.0)
    model = train(history, date(2012, 3, 1), date(2013, 11, 1), settings)
    status = model.metadata["models"]
    assert status["paid_late"] == status["days_to_pay"] == "trained"
    assert status["debtor"].startswith("rules: too little history to train the debtor model")
    assert isinstance(model.debtor, RulesScore)
    version = save(model, tmp_path, {"portfolio": "default"})
    loaded = load(tmp_path)
    assert loaded is not None and loaded.metadata["models"] == status
    scored = score_view(loaded, view_at(history, date(2013, 12, 2)))
    assert scored.height > 0
    assert (
        scored["source"]
        == f"rules (model {version}: no debtor model); days to pay: model {version}"
    ).all()
    assert scored["score"].is_between(0.02, 0.98).all()
    assert (scored["expected_days_to_pay"].drop_nulls() >= 0).all()
    assert all(len(r) > 0 for r in scored["reasons"])
