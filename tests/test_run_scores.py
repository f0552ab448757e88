"""``arrears run`` stores the day's scores (issue 18): every debtor the cycle scored, with its
band, expected days to pay and the version that scored it, read back by ``arrears model
stored``; the same scores ``arrears model score`` gives that day; a second run of the day
replaces its rows (idempotent on portfolio, debtor, day and version), and a day scored by two
versions keeps both, the last one read by default."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from arrears.cli.app import main
from arrears.services.uow import open_store
from test_scoring_cli import END, build

DAY = END.isoformat()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("run-scores") / "ws"
    build(root, 120, 10)
    assert main(["-w", str(root), "model", "train"]) == 0
    return root


def cli(ws: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[str, str]:
    capsys.readouterr()
    code = main(["-w", str(ws), *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out, err


def rows(ws: Path, capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, Any]]:
    out, _ = cli(ws, capsys, *args, "--format", "json")
    found = json.loads(out)
    assert isinstance(found, list)
    return found


def stored_rows(ws: Path) -> int:
    engine = open_store(f"sqlite:///{ws / 'arrears.db'}")
    with engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM debtor_score")).scalar_one()
    engine.dispose()
    return int(n)


def test_run_stores_every_scored_debtor_once_per_version(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(trained, ws)
    out, err = cli(ws, capsys, "model", "stored", "--as-of", DAY)
    assert "no scores stored" in err

    cli(ws, capsys, "run", "--as-of", DAY)
    stored = rows(ws, capsys, "model", "stored", "--as-of", DAY)
    scored = rows(ws, capsys, "model", "score", "--as-of", DAY, "--no-store", "--no-reasons")
    assert len(stored) == len(scored) > 50
    by_debtor = {(r["debtor"], r["currency"]): r for r in scored}
    for row in stored:
        same = by_debtor[(row["debtor"], row["currency"])]
        assert row["score"] == same["score"] and row["band"] == same["band"]
        assert row["version"] == "v1" and row["source"] == "model v1"
        assert row["reasons"] == []
    assert [r["score"] for r in stored] == sorted(r["score"] for r in stored)

    # the day again: the same rows, none added
    cli(ws, capsys, "run", "--as-of", DAY)
    assert stored_rows(ws) == len(stored)
    assert rows(ws, capsys, "model", "stored", "--as-of", DAY) == stored

    # `model score` of the same version files its scores (with reasons) under the same key
    cli(ws, capsys, "model", "score", "--as-of", DAY, "--format", "json")
    assert stored_rows(ws) == len(stored)
    with_reasons = rows(ws, capsys, "model", "stored", "--as-of", DAY)
    assert all(r["reasons"] for r in with_reasons)

    # a second version promoted the same day: both kept, the last read by default
    cli(ws, capsys, "model", "train", "--to", "2026-02-28")
    cli(ws, capsys, "model", "promote", "v2")
    cli(ws, capsys, "run", "--as-of", DAY)
    assert stored_rows(ws) == 2 * len(stored)
    assert {r["version"] for r in rows(ws, capsys, "model", "stored", "--as-of", DAY)} == {"v2"}
    older = rows(ws, capsys, "model", "stored", "--as-of", DAY, "--version", "v1")
    assert older == with_reasons
