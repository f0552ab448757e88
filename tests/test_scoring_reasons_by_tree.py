"""The reasons computed tree by tree (issue 18, ``model score`` of 1M debtors): each moved copy
runs through the trees that split its feature only; the reasons are the same texts as when
every moved copy is predicted whole, on the small-data ensemble (five calibrated models) and the
large-data model (one model, isotonic), and through ``arrears model score`` on a workspace."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from threadpoolctl import threadpool_limits

from arrears.cli.app import main
from arrears.scoring import model as m
from arrears.scoring.features import MODEL_DEBTOR_FEATURES
from test_scoring_cli import END, build

NAMES = list(MODEL_DEBTOR_FEATURES)


def _frame(rng: np.random.Generator, rows: int) -> pl.DataFrame:
    cols: dict[str, object] = {}
    for j, name in enumerate(NAMES):
        values = np.round(rng.gamma(1 + j % 3, 10, rows), 1)
        if name.startswith("promise") or name in ("disputes_12m", "disputed_open"):
            values = rng.poisson(0.3, rows).astype(float)
        if name in ("late_rate_365d", "utilisation", "promise_kept_rate"):
            values[rng.random(rows) < 0.15] = np.nan
        cols[name] = values
    cols["days_past_due"] = rng.integers(0, 200, rows).astype(float)
    return pl.DataFrame(cols)


@pytest.mark.parametrize("examples", [2_000, m.LARGE + 1_000])
def test_tree_by_tree_gives_the_same_reasons(examples: int) -> None:
    rng = np.random.default_rng(examples)
    train = _frame(rng, examples)
    x = m.matrix(train, NAMES)
    logit = -0.02 * x[:, NAMES.index("days_past_due")] + 0.02 * np.nan_to_num(x[:, 1])
    y = (rng.random(len(x)) < 1 / (1 + np.exp(-logit))).astype(int)
    with threadpool_limits(1):
        fitted = m._classifier(list(MODEL_DEBTOR_FEATURES.values()), len(y))
        fitted.fit(m.fit_matrix(train, NAMES), y)
    median = {k: float(v) for k, v in zip(NAMES, np.nanmedian(x, axis=0), strict=True)}
    model = m.Model(fitted, None, None, median)
    debtors = _frame(rng, 3_000)
    xs = m.matrix(debtors, NAMES)
    splits = m.split_points(model, len(NAMES))
    parts = m._tree_parts(model, splits)
    assert parts is not None and len(parts) == len(fitted.calibrated_classifiers_)
    whole = m._deltas(model, xs, NAMES, splits)
    by_tree = m._deltas(model, xs, NAMES, splits, parts)
    assert np.abs(whole - by_tree).max() < 1e-9
    assert (whole != 0).sum() > 1_000  # the features do move the scores
    fast = m.reasons_series(model, debtors).to_list()
    assert fast == m.reasons_series(model, debtors, by_tree=False).to_list()
    assert sum(r != [m.TYPICAL["en"]] for r in fast) > 1_000


def test_model_score_says_the_same_reasons(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = tmp_path / "ws"
    build(ws, 60, 8)
    assert main(["-w", str(ws), "model", "train"]) == 0

    def scored() -> list[list[str]]:
        capsys.readouterr()
        args = ["model", "score", "--as-of", END.isoformat(), "--no-store", "--format", "json"]
        assert main(["-w", str(ws), *args]) == 0
        return [row["reasons"] for row in json.loads(capsys.readouterr().out)]

    fast = scored()
    assert sum(bool(r) for r in fast) > 10
    whole = m.reasons_series

    def before(*args: object, **kwargs: object) -> pl.Series:
        return whole(*args, **kwargs, by_tree=False)  # type: ignore[arg-type]

    monkeypatch.setattr(m, "reasons_series", before)
    assert scored() == fast
