"""``arrears model train / evaluate / explain`` as a user runs them, on a real SQLite workspace
holding a generated portfolio (``arrears.demo``) imported through ``arrears import``."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from arrears.cli.app import main
from arrears.demo.generate import generate

END = date(2026, 6, 30)


def build(root: Path, debtors: int, months: int) -> Path:
    """A workspace with a generated portfolio ending on ``END``; returns its debtors file."""
    files = root.parent / f"{root.name}-files"
    generate(debtors, months, 5, END, files)
    assert main(["init", str(root)]) == 0
    for kind in ("debtors", "invoices", "payments"):
        assert main(["-w", str(root), "import", kind, str(files / f"{kind}.csv")]) == 0
    return files / "debtors.csv"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pl.DataFrame]:
    root = tmp_path_factory.mktemp("scoring-cli") / "ws"
    debtors = build(root, 150, 10)
    return root, pl.read_csv(debtors, infer_schema=False)


def run(ws: Path, *args: str) -> int:
    return int(main(["-w", str(ws), "model", *args]))


def test_train_stores_each_version_with_its_metadata(
    generated: tuple[Path, pl.DataFrame], capsys: pytest.CaptureFixture[str]
) -> None:
    ws, _ = generated
    capsys.readouterr()
    args = ("train", "--from", "2025-11-01", "--to", "2026-05-15", "--format", "json")
    assert run(ws, *args) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["model"]: r["source"] for r in rows} == {
        "debtor": "trained",
        "paid_late": "trained",
        "days_to_pay": "trained",
    }
    folder = ws / "models" / "v1"
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["version"] == "v1" and meta["portfolio"] == "default"
    # --to is kept when the 30-day outcome window after it is inside the history
    assert meta["training_window"] == {"from": "2025-11-01", "to": "2026-05-15"}
    assert meta["sha256"] == hashlib.sha256((folder / "model.joblib").read_bytes()).hexdigest()
    assert len(meta["data_hash"]) == 64 and set(meta["models"].values()) == {"trained"}
    examples = meta["examples"]
    assert examples["debtor"] >= 200 and examples["invoice"] > examples["invoice_at_issue"] >= 200
    assert "late_rate_365d" in meta["features"]["debtor"]
    # the debtors file's credit limits reach the lender features (issue 18)
    assert {"utilisation", "log_credit_limit", "paid_share_90d"} <= set(meta["features"]["debtor"])
    assert 0 < examples["debtor_with_credit_limit"] <= examples["debtor"]
    assert meta["sample"]["sampled_debtors"] == meta["sample"]["debtors"] == 150
    assert meta["sample"]["max_debtors"] == meta["settings"]["max_debtors"] == 100_000

    # --to beyond the history: the last snapshot is the last day whose window is complete
    assert run(ws, "train", "--from", "2026-01-01", "--to", "2027-01-01") == 0
    assert "model v2 trained on default" in capsys.readouterr().out
    meta = json.loads((ws / "models" / "v2" / "metadata.json").read_text())
    assert meta["training_window"]["to"] == "2026-05-31"
    assert meta["data_hash"] == json.loads((folder / "metadata.json").read_text())["data_hash"]

    # a sample of the debtors: said in the table and recorded
    assert run(ws, "train", "--from", "2025-11-01", "--max-debtors", "100") == 0
    out = capsys.readouterr().out
    assert "trained on a sample of 100 of 150 debtors" in out
    meta = json.loads((ws / "models" / "v3" / "metadata.json").read_text())
    assert meta["sample"]["sampled_debtors"] == meta["settings"]["max_debtors"] == 100


def test_evaluate_reports_the_backtest_as_json(
    generated: tuple[Path, pl.DataFrame], capsys: pytest.CaptureFixture[str]
) -> None:
    ws, _ = generated
    capsys.readouterr()
    assert run(ws, "evaluate", "--format", "json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["train_share"] == 0.8 and date.fromisoformat(report["cutoff"]) < END
    late = report["invoice"]["paid_late"]
    assert set(late) == {"model", "past late rate", "rules"}
    model = late["model"]
    for key in ("auc", "brier", "accuracy", "precision", "recall"):
        assert 0 <= model[key] <= 1, key
    assert model["auc"] > 0.7
    tuned = model["threshold_from_training"]
    assert 0.05 <= tuned["threshold"] <= 0.95
    assert tuned["validation_from"] < report["cutoff"]  # chosen on the training period
    assert sum(row["n"] for row in model["calibration"]) == report["invoice"]["test"]
    days = report["invoice"]["days"]
    # Over late invoices the model beats "paid on the due date" (which is wrong by every day
    # late). Over all of them it need not: the test invoices are the newest, and only those
    # settled by the end of the history have a known outcome, mostly the prompt ones.
    naive = days["naive (paid on the due date)"]
    assert days["model"]["mae_days_late_late_only"] < naive["mae_days_late_late_only"]
    assert report["invoice"]["settled_test"] < report["invoice"]["test"]
    debtor = report["debtor"]
    assert debtor["model"]["auc"] > 0.7
    assert len(debtor["model"]["lift"]) == 10 and debtor["model"]["lift"][-1]["capture"] == 1.0

    low, high = debtor["model"]["auc_95"]
    assert low <= debtor["model"]["auc"] <= high

    page = ws.parent / "backtest.html"
    assert run(ws, "evaluate", "--report", str(page)) == 0  # the table form, and the page
    out = capsys.readouterr().out
    assert "tuned" in out and "lift and capture" in out
    html = page.read_text(encoding="utf-8")
    assert html.count("<svg") == 2 and "calibration of the score" in html
    assert f"95 % bootstrap interval {low}-{high}" in html
    # one point per calibration bin of the score
    plot = html.split("<h2>Calibration</h2>")[1].split("</svg>")[0]
    assert plot.count("<circle") == len(debtor["model"]["calibration"])


def test_explain_scores_one_debtor_and_refuses_an_unknown_one(
    generated: tuple[Path, pl.DataFrame], capsys: pytest.CaptureFixture[str]
) -> None:
    ws, debtors = generated
    if not (ws / "models").is_dir():
        assert run(ws, "train") == 0
    capsys.readouterr()
    # a debtor who never pays owes something at the end of the history
    owing = debtors.filter(pl.col("attr_archetype") == "never_pays")["debtor_id"][0]
    assert run(ws, "explain", owing, "--as-of", END.isoformat(), "--format", "json") == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["debtor"] == owing and row["source"].startswith("model v")
    assert 0 <= row["score"] <= 1 and row["expected_recovery_minor"] >= 0
    assert row["reasons"] and "the score by" in row["reasons"] and "=" not in row["reasons"]

    assert run(ws, "explain", "NOBODY", "--as-of", END.isoformat()) == 1
    err = capsys.readouterr().err.strip()
    assert err == "error: unknown debtor 'NOBODY' in portfolio default"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("train", "--from", "2026-13-01"), "--from '2026-13-01' is not a date; write it as"),
        (("train", "--to", "30/06/2026"), "--to '30/06/2026' is not a date; write it as"),
        (("train", "--from", "2026-05-01", "--to", "2026-01-01"), "is after --to"),
        (("explain", "D000001", "--as-of", "yesterday"), "--as-of 'yesterday' is not a date"),
    ],
)
def test_bad_dates_are_one_clear_line(
    generated: tuple[Path, pl.DataFrame],
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    message: str,
) -> None:
    ws, _ = generated
    before = sorted(p.name for p in (ws / "models").glob("v*"))
    capsys.readouterr()
    assert run(ws, *args) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err
    assert sorted(p.name for p in (ws / "models").glob("v*")) == before


def test_too_little_history_trains_nothing_and_the_rules_score_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "small"
    debtors = pl.read_csv(build(ws, 4, 2), infer_schema=False)
    capsys.readouterr()
    assert run(ws, "train") == 1
    err = capsys.readouterr().err
    assert "too little history" in err and "the rules score is used" in err
    assert not (ws / "models").exists()
    for debtor in debtors["debtor_id"]:
        if run(ws, "explain", debtor, "--as-of", END.isoformat(), "--format", "json") == 0:
            (row,) = json.loads(capsys.readouterr().out)
            assert row["source"] == "rules" and row["reasons"]
            break
        assert "owes nothing" in capsys.readouterr().err
    else:
        pytest.fail("no generated debtor owes anything at the end of the history")
