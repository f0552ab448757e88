"""The score's target as a workspace setting, through the CLI (issue 18 item 4), on a
revolving-credit portfolio made by ``arrears generate --profile revolving`` and imported."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from arrears import config
from arrears.cli.app import main
from arrears.domain.actor import Actor, Role
from arrears.scoring.examples import debtor_examples, snapshot_days
from arrears.scoring.targets import Target
from arrears.services.insight.scoring import scoring_history
from arrears.services.uow import SqlUnitOfWork, open_store

DEFAULT_RISK = (
    "\n[scoring]\ntarget = 'default'\nwindow_days = 60\ndays_past_due = 30\n"
    "snapshot_every_days = 7\n"
)


@pytest.fixture(scope="module")
def cards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("target-cli")
    files, root = base / "files", base / "ws"
    args = ["generate", str(files), "--profile", "revolving", "--debtors", "300"]
    assert main([*args, "--months", "10", "--seed", "3", "--as-of", "2026-06-30"]) == 0
    assert main(["init", str(root)]) == 0
    for kind in ("debtors", "invoices", "payments"):
        assert main(["-w", str(root), "import", kind, str(files / f"{kind}.csv")]) == 0
    return root


def _config(root: Path, extra: str) -> str:
    path = root / "arrears.toml"
    before = path.read_text()
    path.write_text(before + extra)
    return before


def test_evaluate_backtests_the_target_set(cards: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _config(cards, DEFAULT_RISK)
    try:
        capsys.readouterr()
        assert (
            main(
                [
                    "-w",
                    str(cards),
                    "model",
                    "evaluate",
                    "--format",
                    "json",
                    "--train-share",
                    "0.6",
                    "--score-only",
                ]
            )
            == 0
        )
        captured = capsys.readouterr()
        report = json.loads(captured.out)
        assert "reaches 30 days past due within 60 days" in captured.err
        debtor = report["debtor"]
        assert debtor["target"]["kind"] == "default"
        assert debtor["target"]["days_past_due"] == 30
        assert debtor["schedule"]["every_days"] == 7
        assert debtor["model"]["auc"] is not None
        assert debtor["days past due"]["auc_95"] is not None
        assert "invoice" not in report  # --score-only
    finally:
        (cards / "arrears.toml").write_text(before)


def test_train_learns_the_target_set_and_run_and_explain_score_with_it(
    cards: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`arrears model train` in a workspace whose target is default risk learns it: the version
    says so (`model list`), its debtor examples are the default target's, and `arrears run`,
    `model score` and `model explain` score with it, the probability of *not* defaulting (a
    current account scores above one already 30 days past due)."""
    ws = tmp_path / "ws"  # a copy: the other tests' versions stay apart
    shutil.copytree(cards, ws, ignore=shutil.ignore_patterns("models"))
    _config(ws, DEFAULT_RISK)
    w = ["-w", str(ws)]
    capsys.readouterr()
    assert main([*w, "model", "train", "--from", "2026-03-01", "--to", "2026-04-01"]) == 0
    out = capsys.readouterr().out
    assert "score's target: reaches 30 days past due within 60 days" in out
    assert "v1 is live" in out
    assert main([*w, "model", "list", "--format", "json"]) == 0
    (version,) = json.loads(capsys.readouterr().out)
    assert version["target"] == {
        "kind": "default",
        "window_days": 60,
        "days_past_due": 30,
        "text": "reaches 30 days past due within 60 days (score: the probability it does not)",
    }
    assert version["schedule"]["every_days"] == 7
    assert version["models"]["debtor"] == "trained"
    # learnt from the default target's examples (not the pays target's): as many as
    # debtor_examples gives for that target on the training's snapshot days
    history = scoring_history(
        SqlUnitOfWork(open_store(config.load(ws).database_url)),
        Actor("test", Role.ADMIN),
        portfolio="default",
    )
    days = snapshot_days(date(2026, 3, 1), date(2026, 4, 1), 7)
    default = debtor_examples(history, days, target=Target("default", 60, 0.5, 30))
    pays = debtor_examples(history, days)
    assert version["examples"]["debtor"] == default.height != pays.height
    assert main([*w, "model", "list", "--wide"]) == 0
    assert "reaches 30 days past due within 60 days" in capsys.readouterr().out

    # the cycle scores with the version, and stores its scores
    assert main([*w, "run", "--as-of", "2026-06-30", "--summary"]) == 0
    assert "score: model v1" in " ".join(capsys.readouterr().out.split())
    assert main([*w, "model", "stored", "--as-of", "2026-06-30", "--format", "json"]) == 0
    stored = json.loads(capsys.readouterr().out)
    assert stored and {row["version"] for row in stored} == {"v1"}
    score = ["model", "score", "--as-of", "2026-06-30", "--no-store", "--format", "json"]
    assert main([*w, *score, "--no-reasons"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert {row["source"] for row in scores} == {"model v1"}
    current = [row["score"] for row in scores if row["days_past_due"] == 0]
    late = [row["score"] for row in scores if row["days_past_due"] >= 30]
    assert current and late
    # the probability of the good outcome: bands keep meaning "likely to pay"
    assert sum(current) / len(current) > 0.8 > sum(late) / len(late)
    ran = {(row["debtor"], row["currency"]): row["score"] for row in stored}
    row = next(row for row in scores if row["days_past_due"] >= 30)
    debtor = row["debtor"]
    assert main([*w, "model", "explain", debtor, "--as-of", "2026-06-30", "--format", "json"]) == 0
    explained = {r["currency"]: r for r in json.loads(capsys.readouterr().out)}
    assert explained[row["currency"]]["source"] == "model v1"
    assert explained[row["currency"]]["score"] == pytest.approx(row["score"], abs=1e-3)
    assert ran[(debtor, row["currency"])] == pytest.approx(row["score"], abs=1e-3)


def test_bad_target_settings_are_reported_all_at_once(
    cards: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = "\n[scoring]\ntarget = 'risk'\nwindow_days = 0\nshare = 'half'\nsnapshot_on = 'monday'\n"
    before = _config(cards, bad)
    try:
        capsys.readouterr()
        assert main(["-w", str(cards), "model", "evaluate"]) == 1
        err = capsys.readouterr().err
        for where in (
            "scoring.target = 'risk'",
            "scoring.window_days = 0",
            "scoring.share = 'half'",
            "scoring.snapshot_on = 'monday'",
        ):
            assert where in err
        assert "arrears.toml" in err
    finally:
        (cards / "arrears.toml").write_text(before)


def test_list_shows_the_target_each_version_learnt(
    cards: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    window = ["--from", "2026-03-01", "--to", "2026-04-01"]
    assert main(["-w", str(cards), "model", "train", *window]) == 0
    capsys.readouterr()
    assert main(["-w", str(cards), "model", "list", "--format", "json"]) == 0
    (version,) = json.loads(capsys.readouterr().out)
    assert version["target"]["kind"] == "pays"
    assert version["target"]["text"] == "pays at least 50 % of what is due within 30 days"
    stored = json.loads((cards / "models" / "v1" / "metadata.json").read_text())
    assert stored["target"]["kind"] == "pays" and stored["target"]["window_days"] == 30
    assert main(["-w", str(cards), "model", "list", "--wide"]) == 0
    assert "pays at least 50 % of what is due within 30 days" in capsys.readouterr().out
