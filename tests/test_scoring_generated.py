"""The propensity score on a generated portfolio, where each debtor's true behaviour (its
archetype, ``arrears.demo.archetypes``) is known: trained on the older part of the history, the
score of the newer snapshot days must rank the archetypes as they actually pay and separate the
debtors who pay from those who do not.

The truth per archetype is measured, not assumed: the share of its test examples that paid at
least half of what was overdue within 30 days (the score's own target). Floors are just under a
run of this size (seeded, so it is the same run every time);
``python tests/test_scoring_generated.py DEBTORS MONTHS`` prints the figures of a larger one."""

from __future__ import annotations

import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from scipy.stats import spearmanr
from sqlalchemy import select

from arrears.demo.generate import generate
from arrears.domain.columns import Kind
from arrears.io.batches import ReadOptions
from arrears.io.importer import import_files
from arrears.scoring import model as scoring_model
from arrears.scoring.evaluate import auc, cutoff_day
from arrears.scoring.examples import debtor_examples, snapshot_days
from arrears.scoring.model import Model, Settings, fit_debtor, predict_pay
from arrears.store.database import connect, upgrade
from arrears.store.portfolios import ensure_portfolio
from arrears.store.schema import debtor
from arrears.store.scoring.history import read_history

END = date(2026, 6, 30)


def recovery(folder: Path, debtors: int, months: int, seed: int = 11) -> dict[str, Any]:
    """Generate, import, train on the oldest 80 % of invoices, score the newer snapshot days;
    per archetype: examples, observed paid rate, mean score."""
    files = folder / "files"
    generate(debtors, months, seed, END, files)
    url = f"sqlite:///{folder / 'generated.db'}"
    upgrade(url)
    engine = connect(url)
    with engine.begin() as conn:
        ensure_portfolio(conn, "default", name=None, base_currency="EUR", actor="t")
    for kind in (Kind.DEBTORS, Kind.INVOICES, Kind.PAYMENTS):
        path = files / f"{kind.value}.csv"
        assert import_files(engine, kind, [path], ReadOptions(), actor="t").committed
    history = read_history(engine, portfolio="default")
    with engine.connect() as conn:
        ids = pl.DataFrame(
            conn.execute(select(debtor.c.id, debtor.c.external_id)).all(),
            schema={"debtor_id": pl.Int64(), "debtor_external": pl.String()},
            orient="row",
        )
    engine.dispose()
    truth = pl.read_csv(files / "debtors.csv", infer_schema=False).select(
        pl.col("debtor_id").alias("debtor_external"), pl.col("attr_archetype").alias("archetype")
    )
    archetypes = ids.join(truth, on="debtor_external").select("debtor_id", "archetype")

    s = Settings()
    cut = cutoff_day(history, 0.8)
    first, last = history.first_day, history.last_day
    assert first is not None and last is not None
    days = snapshot_days(first + timedelta(days=30), last - timedelta(days=30))
    examples = debtor_examples(history, days).join(archetypes, on="debtor_id")
    train = examples.filter(pl.col("as_of") + timedelta(days=s.window_days) < cut)
    test = examples.filter(pl.col("as_of") >= cut)
    model, reference = fit_debtor(train)
    scored = test.with_columns(
        pl.Series("score", predict_pay(Model(model, None, None, reference), test))
    )
    per = (
        scored.group_by("archetype")
        .agg(
            pl.len().alias("examples"),
            pl.col("paid").cast(pl.Float64()).mean().alias("observed"),
            pl.col("score").mean().alias("mean_score"),
        )
        .sort("observed", descending=True)
    )
    y = scored["paid"].to_numpy().astype(np.int64)
    p = scored["score"].to_numpy()
    rho = spearmanr(per["observed"].to_numpy(), per["mean_score"].to_numpy()).statistic
    return {
        "cutoff": cut,
        "train": train.height,
        "test": test.height,
        "auc": auc(y, p),
        "spearman": float(rho),
        "per_archetype": per,
        "max_gap": float(np.abs(per["observed"].to_numpy() - per["mean_score"].to_numpy()).max()),
    }


@pytest.mark.parametrize("large", [False, True], ids=["as trained", "large-data settings"])
def test_the_score_recovers_the_generated_archetypes(
    tmp_path: Path, large: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # measured at this size (issue 18: every account owing something due in the window is an
    # example, current ones too; 8,304 train / 1,655 test examples): AUC 0.917, Spearman 1.0
    # (the six archetypes in the order of their paid rate), every archetype's mean score within
    # 0.037 of its paid rate; the large-data settings (one model of 40 trees, ``model.LARGE``)
    # forced on them: AUC 0.912, Spearman 1.0, within 0.042. Before, on the overdue debtors
    # only (2,601 examples): AUC 0.952 / 0.945, within 0.082 / 0.100.
    if large:
        monkeypatch.setattr(scoring_model, "LARGE", 0)
    found = recovery(tmp_path, 400, 12)
    by = {r["archetype"]: r for r in found["per_archetype"].iter_rows(named=True)}
    assert set(by) == {"prompt", "slow", "liquidity_constrained", "chronic_late", "disputer",
                       "never_pays"}  # fmt: skip
    assert found["test"] >= 500 and found["auc"] is not None
    assert found["auc"] >= 0.90
    assert found["spearman"] >= 0.9  # at most one pair of neighbours swapped
    assert by["never_pays"]["mean_score"] < 0.05
    assert by["never_pays"]["mean_score"] == min(r["mean_score"] for r in by.values())
    assert found["max_gap"] <= 0.08


if __name__ == "__main__":
    import tempfile
    import time

    n, months = int(sys.argv[1]), int(sys.argv[2])
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        result = recovery(Path(folder), n, months)
        seconds = time.perf_counter() - start
    with pl.Config(tbl_rows=20):
        print(result.pop("per_archetype"))
    print(result, f"{seconds:.1f} s")
