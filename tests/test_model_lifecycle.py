"""The model's lifecycle as a user runs it (issue 18): ``arrears model train`` stores a version
with its validation metrics, the first one goes live and later ones wait for ``arrears model
promote``; ``model list`` shows them; the cycle uses the promoted one; training and promotion
are in the activity log with their actor; ``model monitor`` and ``run`` see a shifted portfolio;
``model explain`` speaks in words and gives ``arrears explain``'s score; ``model score`` writes
every owing debtor in CSV, JSON and Parquet and stores the day's scores.

One generated portfolio (150 debtors x 10 months) imported through ``arrears import``, trained
once (module fixture); each test works on its own copy."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from arrears.cli.app import main
from arrears.scoring.features import DEBTOR_FEATURES
from arrears.services.uow import open_store
from arrears.store.scoring.scores import read_scores, scored_days
from test_scoring_cli import END, build

DAY = END.isoformat()
#: A day in the middle of what v1 learned from (its score's PSI 0.08 then).
STABLE = "2026-01-31"
#: A year after the history ends: every open invoice far past anything seen in training.
SHIFTED = "2027-06-30"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("model-lifecycle") / "ws"
    build(root, 150, 10)
    assert main(["-w", str(root), "model", "train"]) == 0
    return root


@pytest.fixture
def ws(trained: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "ws"
    shutil.copytree(trained, copy)
    return copy


def cli(ws: Path, capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> tuple[str, str]:
    capsys.readouterr()
    assert main(["-w", str(ws), *args]) == code
    out, err = capsys.readouterr()
    return out, err


def as_json(ws: Path, capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    out, _ = cli(ws, capsys, *args, "--format", "json")
    return json.loads(out)


def plan_score(ws: Path, capsys: pytest.CaptureFixture[str]) -> str:
    plan = as_json(ws, capsys, "plan", "--as-of", DAY)
    assert isinstance(plan, dict)
    return str(plan["score"])


def test_the_first_training_goes_live_later_ones_wait_for_promote(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (v1,) = as_json(ws, capsys, "model", "list")
    assert v1["version"] == "v1" and v1["live"] is True
    validation = v1["validation"]
    # held out and later in time than what it was refitted on
    assert validation["split"] == "chronological" and validation["validation"] > 100
    low, high = validation["auc_95"]
    assert 0.5 < low <= validation["auc"] <= high <= 1
    assert 0 < validation["brier"] < 0.25
    assert {"scikit-learn", "numpy", "polars", "python"} <= set(v1["libraries"])
    assert len(v1["data_hash"]) == 64
    assert plan_score(ws, capsys).startswith("model v1")

    out, _ = cli(ws, capsys, "model", "train", "--from", "2026-01-01")
    assert "v2 is not live yet" in out and "arrears model promote v2" in out
    assert re.search(r"validation: AUC 0\.\d+ \(95 % 0\.\d+-", out)
    # the cycle still scores with v1
    assert plan_score(ws, capsys).startswith("model v1")
    versions = as_json(ws, capsys, "model", "list")
    assert [(v["version"], v["live"]) for v in versions] == [("v2", False), ("v1", True)]
    out, _ = cli(ws, capsys, "model", "list")
    assert "v2" in out and "live" in out and "AUC (95 %)" in out

    out, _ = cli(ws, capsys, "model", "promote", "v2")
    assert "v2 is live (was v1)" in out
    assert plan_score(ws, capsys).startswith("model v2")
    row = as_json(ws, capsys, "explain", "D000001", "--as-of", DAY)
    assert not row or row[0]["score_source"] == "model v2"

    _, err = cli(ws, capsys, "model", "promote", "v9", code=1)
    assert "no model v9" in err and "\n" not in err.strip()
    assert plan_score(ws, capsys).startswith("model v2")

    # both in the activity log, with who did it
    log = as_json(ws, capsys, "activity", "--limit", "20")
    kinds = [(r["kind"], r["subject"]) for r in log if r["kind"].startswith("model.")]
    assert kinds[:4] == [
        ("model.promoted", "model v2"),
        ("model.trained", "model v2"),
        ("model.promoted", "model v1"),
        ("model.trained", "model v1"),
    ]
    assert all(r["actor"].startswith("cli") for r in log if r["kind"].startswith("model."))


def test_monitor_and_run_see_a_shifted_portfolio(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = as_json(ws, capsys, "model", "monitor", "--as-of", STABLE)
    assert rows[0]["name"] == "score"
    assert {r["name"] for r in rows[1:]} <= set(DEBTOR_FEATURES) and len(rows) > 10
    assert rows[0]["psi"] < 0.25 and rows[0]["status"] in ("stable", "watch")

    shifted = {r["name"]: r for r in as_json(ws, capsys, "model", "monitor", "--as-of", SHIFTED)}
    assert shifted["score"]["psi"] > 0.25 and shifted["score"]["status"] == "shift"
    assert shifted["days_past_due"]["status"] == "shift"
    assert shifted["days_past_due"]["out_of_range"] > 0
    out, _ = cli(ws, capsys, "model", "monitor", "--as-of", SHIFTED)
    assert "shifted: score" in out and "above 0.25 shift" in out
    # `model score` flags, per debtor, the features outside the training range
    args = ("model", "score", "--no-store", "--no-reasons", "--as-of")
    late = as_json(ws, capsys, *args, SHIFTED)
    assert sum("days_past_due" in r["out_of_range"] for r in late) > len(late) / 2
    usual = as_json(ws, capsys, *args, STABLE)
    assert sum(bool(r["out_of_range"]) for r in usual) < sum(bool(r["out_of_range"]) for r in late)

    _, err = cli(ws, capsys, "run", "--as-of", STABLE)
    assert "population stability" not in err
    _, err = cli(ws, capsys, "run", "--as-of", SHIFTED)
    (line,) = [line for line in err.splitlines() if "population stability" in line]
    assert line.startswith("warning:") and "arrears model monitor" in line


def test_model_explain_speaks_in_words_and_gives_the_explain_score(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scores = as_json(ws, capsys, "model", "score", "--as-of", DAY, "--no-store")
    compared = 0
    for debtor in dict.fromkeys(r["debtor"] for r in scores[:: len(scores) // 4]):
        (mine,) = as_json(ws, capsys, "model", "explain", debtor, "--as-of", DAY)
        cycle = as_json(ws, capsys, "explain", debtor, "--as-of", DAY)
        row = next(r for r in cycle if r["currency"] == mine["currency"])
        assert mine["score"] == pytest.approx(float(row["features"]["score"]), abs=1e-3)
        assert mine["reasons"] == "; ".join(row["score_reasons"])
        assert row["score_source"] == mine["source"] == "model v1"
        reasons = mine["reasons"]
        # collectors' words: no feature name, no "name=value"
        assert reasons and "=" not in reasons
        assert not any(name in reasons for name in DEBTOR_FEATURES)
        assert re.search(r"score by 0\.\d\d", reasons)
        compared += 1
    assert compared >= 3
    words = " ".join(r for s in scores for r in s["reasons"])
    assert "days past due" in words and re.search(r"pays? .*late|on time", words)


def test_model_score_writes_every_format_and_stores_the_day(
    ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, err = cli(ws, capsys, "model", "score", "--as-of", DAY, "--format", "csv")
    assert f"stored {len(out.splitlines()) - 1} scores of {DAY}" in err
    csv = pl.read_csv(out.encode())
    assert csv.columns[:6] == [
        "debtor",
        "currency",
        "score",
        "band",
        "expected_days_to_pay",
        "reasons",
    ]
    assert csv["score"].is_sorted()
    cut = [(0.8, "A"), (0.6, "B"), (0.4, "C"), (0.2, "D"), (0.0, "E")]
    for score, band in csv.select("score", "band").iter_rows():
        assert band == next(name for low, name in cut if score >= low)
    assert csv["expected_days_to_pay"].null_count() == 0
    said = csv["reasons"].str.contains("score by") | (
        csv["reasons"] == "close to the typical debtor"
    )
    assert said.all() and csv["reasons"].str.contains("score by").mean() > 0.8  # type: ignore[operator]

    parquet = tmp_path / "scores.parquet"
    cli(ws, capsys, "model", "score", "--as-of", DAY, "--format", "parquet", "-o", str(parquet))
    frame = pl.read_parquet(parquet)
    assert frame.height == csv.height and frame["reasons"].dtype == pl.List(pl.String)
    assert frame["debtor"].to_list() == csv["debtor"].to_list()
    rows = as_json(ws, capsys, "model", "score", "--as-of", DAY, "--top", "3")
    assert len(rows) == 3 and isinstance(rows[0]["reasons"], list)
    _, err = cli(ws, capsys, "model", "score", "--format", "parquet", code=1)
    assert "--output" in err

    # stored: one row per debtor and currency per day, scoring the day again replaces it
    engine = open_store(f"sqlite:///{ws / 'arrears.db'}")
    with engine.connect() as conn:
        stored = read_scores(conn, portfolio="default", as_of=END)
        assert scored_days(conn, portfolio="default") == [END]
        assert read_scores(conn, portfolio="default", as_of=date(2026, 6, 29)).is_empty()
    assert stored.height == csv.height
    assert stored.sort("debtor", "currency")["band"].to_list() == (
        csv.sort("debtor", "currency")["band"].to_list()
    )
    cli(ws, capsys, "model", "score", "--as-of", STABLE, "--no-reasons", "--format", "json")
    with engine.connect() as conn:
        assert scored_days(conn, portfolio="default") == [date(2026, 1, 31), END]


def test_a_workspace_trained_before_promotion_keeps_its_latest_version_live(
    tmp_path: Path,
) -> None:
    """Versions but no ``models/promoted`` file (trained before promotion existed): the latest
    stays live, and a new version does not go live by itself; a live version whose folder is
    gone is one clear error."""
    from arrears.scoring.features import INVOICE_FEATURES, MODEL_DEBTOR_FEATURES
    from arrears.scoring.model import Model
    from arrears.scoring.registry import (
        PROMOTED,
        ModelFileError,
        load,
        promote,
        promoted,
        save,
    )

    def model() -> Model:
        features = {"debtor": list(MODEL_DEBTOR_FEATURES), "invoice": list(INVOICE_FEATURES)}
        return Model(None, None, None, {}, metadata={"features": features})

    assert promoted(tmp_path) is None and load(tmp_path) is None
    assert save(model(), tmp_path, {}) == "v1" and promoted(tmp_path) == "v1"
    save(model(), tmp_path, {})
    (tmp_path / "models" / PROMOTED).unlink()  # as before promotion: the latest is live
    assert promoted(tmp_path) == "v2"
    assert save(model(), tmp_path, {}) == "v3"
    loaded = load(tmp_path)
    assert promoted(tmp_path) == "v2" and loaded is not None
    assert loaded.metadata["version"] == "v2"
    assert promote(tmp_path, "3") == ("v2", "v3")
    with pytest.raises(ModelFileError, match="not a model version"):
        promote(tmp_path, "latest")
    shutil.rmtree(tmp_path / "models" / "v3")
    with pytest.raises(ModelFileError, match=r"live version v3 .*arrears model promote"):
        load(tmp_path)
