"""The score's target as a workspace setting, through the CLI (issue 18 item 4), on a
revolving-credit portfolio made by ``arrears generate --profile revolving`` and imported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arrears.cli.app import main

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


def test_evaluate_backtests_the_target_set_and_train_refuses_what_it_cannot_learn(
    cards: Path, capsys: pytest.CaptureFixture[str]
) -> None:
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
        # training learns the default target only: it says so rather than store a version
        # that claims one target and learnt another
        assert main(["-w", str(cards), "model", "train"]) == 1
        err = capsys.readouterr().err
        assert "reaches 30 days past due within 60 days" in err
        assert "arrears model evaluate" in err
        assert not (cards / "models").exists()
    finally:
        (cards / "arrears.toml").write_text(before)


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
