"""``arrears model score`` (issue 18): every debtor with an open balance on a day, with its
score, where the score comes from, days past due and open balance, least likely to pay first;
the scores are those ``arrears explain`` gives each debtor that day. A generated portfolio
imported through ``arrears import``, trained with ``arrears model train``."""

from __future__ import annotations

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
def untrained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("model-score") / "ws"
    build(root, 150, 10)
    return root


def scored(
    ws: Path, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[list[dict[str, Any]], str]:
    """``arrears model score --as-of END ARGS --format json``: its rows and standard error."""
    capsys.readouterr()
    code = main(["-w", str(ws), "model", "score", "--as-of", DAY, *args, "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out), err


def owing(ws: Path) -> set[str]:
    """The debtors with an open invoice, from ``arrears export invoices``."""
    out = ws.parent / "invoices-out.csv"
    assert main(["-w", str(ws), "export", "invoices", str(out)]) == 0
    invoices = pl.read_csv(out, infer_schema=False)
    return set(invoices.filter(pl.col("open_amount").cast(pl.Float64) > 0)["debtor_id"])


def test_model_score_lists_every_owing_debtor_with_the_explain_score(
    untrained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(untrained, ws)
    rows, err = scored(ws, capsys)
    assert rows and {r["source"] for r in rows} == {"rules"}
    assert "note: scored with rules" in err and "arrears model train" in err

    assert main(["-w", str(ws), "model", "train"]) == 0
    rows, err = scored(ws, capsys)
    assert "note" not in err
    assert {r["source"] for r in rows} == {"model v1"}
    assert {r["debtor"] for r in rows} == owing(ws)
    assert all(r["open_minor"] > 0 and r["days_past_due"] >= 0 for r in rows)
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores)  # least likely to pay first
    # the same scores as `arrears explain` shows, for the first and the last debtor
    for row in (rows[0], rows[-1]):
        capsys.readouterr()
        code = main(["-w", str(ws), "explain", row["debtor"], "--as-of", DAY, "--format", "json"])
        explained = json.loads(capsys.readouterr().out)
        assert code == 0 and explained
        mine = [e for e in explained if e["currency"] == row["currency"]] or explained
        assert mine[0]["score_source"] == "model v1"
        assert float(mine[0]["features"]["score"]) == pytest.approx(row["score"], abs=1e-3)
    # --top N: the N least likely to pay; the table names the model and shows amounts
    assert scored(ws, capsys, "--top", "3")[0] == rows[:3]
    capsys.readouterr()
    assert main(["-w", str(ws), "model", "score", "--as-of", DAY, "--top", "2"]) == 0
    table = capsys.readouterr().out
    assert "model v1" in table and rows[0]["debtor"] in table


def test_model_score_refuses_bad_input_and_a_broken_model(
    untrained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(untrained, ws)
    capsys.readouterr()
    assert main(["-w", str(ws), "model", "score", "--as-of", "30/06/2026"]) == 1
    assert "--as-of '30/06/2026' is not a date" in capsys.readouterr().err
    assert main(["-w", str(ws), "model", "score", "--top", "0"]) == 2
    capsys.readouterr()
    assert main(["-w", str(ws), "model", "train"]) == 0
    (ws / "models" / "v1" / "model.joblib").write_bytes(b"not a model")
    capsys.readouterr()
    assert main(["-w", str(ws), "model", "score", "--as-of", DAY]) == 1
    err = capsys.readouterr().err.strip()
    assert "model.joblib" in err and "Traceback" not in err
