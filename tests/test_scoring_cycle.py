"""The daily cycle scores with the workspace's trained model, as a user runs it: a generated
portfolio imported through ``arrears import``, ``arrears model train``, then ``arrears plan``,
``run``, ``explain`` and ``worklist`` (the shipped B2B policy ranks by the expected recovery,
score x overdue balance). A model that cannot be loaded stops the command with one clear line."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from arrears.cli.app import main
from test_scoring_cli import END, build

DAY = END.isoformat()


@pytest.fixture(scope="module")
def untrained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A workspace with 150 generated debtors and no model; the debtors that owe on ``END``."""
    root = tmp_path_factory.mktemp("scoring-cycle") / "ws"
    debtors = pl.read_csv(build(root, 150, 10), infer_schema=False)
    owing = debtors.filter(pl.col("attr_archetype").is_in(["never_pays", "chronic_late", "slow"]))
    return root, list(owing["debtor_id"])


def cli(ws: Path, capsys: pytest.CaptureFixture[str], *args: str) -> object:
    """Run ``arrears -w ws ARGS --format json``; its output read as JSON."""
    capsys.readouterr()
    code = main(["-w", str(ws), *args, "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def explained(ws: Path, capsys: pytest.CaptureFixture[str], debtor: str) -> dict[str, object]:
    """``arrears explain DEBTOR`` on ``END``: its row (empty when nothing is open)."""
    report = cli(ws, capsys, "explain", debtor, "--as-of", DAY)
    assert isinstance(report, list)
    row = report[0] if report else {}
    assert isinstance(row, dict)
    return row


def model_explained(ws: Path, capsys: pytest.CaptureFixture[str], debtor: str) -> dict[str, Any]:
    """``arrears model explain DEBTOR`` on ``END``: its one row."""
    rows = cli(ws, capsys, "model", "explain", debtor, "--as-of", DAY)
    assert isinstance(rows, list) and len(rows) == 1 and isinstance(rows[0], dict)
    return rows[0]


def test_plan_run_explain_and_worklist_use_the_trained_model(
    untrained: tuple[Path, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, owing = untrained
    ws = tmp_path / "ws"
    shutil.copytree(source, ws)
    before = {d: explained(ws, capsys, d) for d in owing[:12]}
    before = {d: row for d, row in before.items() if row.get("score_source")}
    assert before and {row["score_source"] for row in before.values()} == {"rules"}
    plan = cli(ws, capsys, "plan", "--as-of", DAY)
    assert isinstance(plan, dict) and plan["score"].startswith("rules")
    assert "no model" in plan["score"] and "arrears model train" in plan["score"]

    assert main(["-w", str(ws), "model", "train"]) == 0
    plan = cli(ws, capsys, "plan", "--as-of", DAY)
    assert isinstance(plan, dict) and plan["score"].startswith("model v1")
    changed = 0
    for debtor, rules in before.items():
        row = explained(ws, capsys, debtor)
        assert row["score_source"] == "model v1"
        assert row["score_reasons"] and "(rules)" not in str(row)
        features = row["features"]
        assert isinstance(features, dict) and isinstance(rules["features"], dict)
        # the same score as `arrears model explain` gives the debtor that day
        alone = model_explained(ws, capsys, debtor)
        assert alone["source"] == "model v1"
        assert float(features["score"]) == pytest.approx(alone["score"], abs=1e-3)
        changed += features["score"] != rules["features"]["score"]
    assert changed == len(before)  # the model's scores are not the rules'

    done = cli(ws, capsys, "run", "--as-of", DAY)
    assert isinstance(done, dict) and done["written"] and done["score"].startswith("model v1")
    tasks = cli(ws, capsys, "worklist", "--top", "1000")
    assert isinstance(tasks, list) and tasks
    # each call task ranks by the priority the model's score gave its debtor
    for task in tasks[:5]:
        row = explained(ws, capsys, task["debtor"])
        assert row["score_source"] == "model v1"
        assert task["score"] == pytest.approx(row["priority"])


def test_a_model_that_cannot_be_loaded_is_one_clear_error(
    untrained: tuple[Path, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, owing = untrained
    ws = tmp_path / "ws"
    shutil.copytree(source, ws)
    assert main(["-w", str(ws), "model", "train"]) == 0
    folder = ws / "models" / "v1"
    meta = json.loads((folder / "metadata.json").read_text())

    def refused(*args: str) -> str:
        capsys.readouterr()
        assert main(["-w", str(ws), *args]) == 1
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and "Traceback" not in err
        return err

    commands = (
        ("plan", "--as-of", DAY),
        ("run", "--as-of", DAY),
        ("explain", owing[0], "--as-of", DAY),
        ("model", "explain", owing[0], "--as-of", DAY),
    )
    # trained on other features than this version of arrears computes
    other = {**meta, "features": {**meta["features"], "debtor": ["tenure_days", "unheard_of"]}}
    (folder / "metadata.json").write_text(json.dumps(other))
    for args in commands:
        err = refused(*args)
        assert "models/v1" in err and "features" in err and "arrears model train" in err

    # trained with another scikit-learn
    older = {**meta, "libraries": {"scikit-learn": "0.1"}}
    (folder / "metadata.json").write_text(json.dumps(older))
    err = refused(*commands[0])
    assert "scikit-learn 0.1" in err and "arrears model train" in err

    # unreadable metadata, a missing file, a truncated model (its sha256 recorded as such)
    (folder / "metadata.json").write_text("{")
    assert "metadata.json" in refused(*commands[0])
    (folder / "metadata.json").unlink()
    assert "metadata.json" in refused(*commands[0])
    data = (folder / "model.joblib").read_bytes()[:100]
    (folder / "model.joblib").write_bytes(data)
    meta["sha256"] = hashlib.sha256(data).hexdigest()
    (folder / "metadata.json").write_text(json.dumps(meta))
    for args in commands:
        err = refused(*args)
        assert "model.joblib" in err and "cannot be loaded" in err
    assert main(["-w", str(ws), "worklist"]) == 0  # reads the tasks; no model is loaded

    # the folder moved away: the rules score again, and said
    shutil.rmtree(ws / "models")
    plan = cli(ws, capsys, "plan", "--as-of", DAY)
    assert isinstance(plan, dict) and plan["score"].startswith("rules")


def _current(files: Path) -> list[str]:
    """Debtors owing on ``END`` with nothing overdue: every open invoice due after ``END``."""
    invoices = pl.read_csv(files / "invoices.csv", infer_schema=False)
    payments = pl.read_csv(files / "payments.csv", infer_schema=False)
    paid = payments.group_by("invoice_id").agg(
        pl.col("allocated_amount").cast(pl.Float64).sum().alias("paid")
    )
    open_ = (
        invoices.filter(pl.col("issue_date") <= DAY)
        .join(paid, on="invoice_id", how="left")
        .filter(pl.col("amount").cast(pl.Float64) - pl.col("paid").fill_null(0) > 0.005)
    )
    late = open_.filter(pl.col("due_date") < DAY)["debtor_id"]
    return sorted(set(open_["debtor_id"]) - set(late))


def test_a_current_account_is_learnt_from_and_scored_alike_by_both_explains(
    untrained: tuple[Path, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, _ = untrained
    ws = tmp_path / "ws"
    shutil.copytree(source, ws)
    current = _current(source.parent / f"{source.name}-files")[:4]
    assert current
    assert main(["-w", str(ws), "model", "train"]) == 0
    examples = json.loads((ws / "models" / "v1" / "metadata.json").read_text())["examples"]
    # the model learns from current accounts (their statement falls due in the window) too
    assert 0 < examples["debtor_current"] < examples["debtor"]
    for debtor in current:
        row = explained(ws, capsys, debtor)
        features = row["features"]
        assert isinstance(features, dict)
        assert float(features["overdue_balance"]) == 0 and float(features["balance"]) > 0
        assert row["score_source"] == "model v1" and row["score_reasons"]
        alone = model_explained(ws, capsys, debtor)
        assert alone["source"] == "model v1"
        assert float(features["score"]) == pytest.approx(alone["score"], abs=1e-3)
        assert 0 < alone["score"] < 1
