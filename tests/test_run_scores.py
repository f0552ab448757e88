"""``arrears run`` stores the day's scores (issue 18): every debtor the cycle scored, with its
band, expected days to pay and the version that scored it, read back by ``arrears model
stored``; the same scores ``arrears model score`` gives that day; a second run of the day
replaces its rows (idempotent on portfolio, debtor, day and version), and a day scored by two
versions keeps both, the last one read by default."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
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
    _, err = cli(ws, capsys, "model", "stored", "--as-of", DAY)
    assert "no scores stored" in err

    cli(ws, capsys, "run", "--as-of", DAY)
    stored = rows(ws, capsys, "model", "stored", "--as-of", DAY)
    scored = rows(ws, capsys, "model", "score", "--as-of", DAY, "--no-store", "--no-reasons")
    # every debtor the cycle decided on (one owing only disputed debt is out of collection)
    assert len(scored) >= len(stored) > 50
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
    assert stored_rows(ws) == len(scored)
    with_reasons = rows(ws, capsys, "model", "stored", "--as-of", DAY)
    assert all(r["reasons"] for r in with_reasons)

    # a second version promoted the same day: both kept, the last read by default
    cli(ws, capsys, "model", "train", "--to", "2026-02-28")
    cli(ws, capsys, "model", "promote", "v2")
    cli(ws, capsys, "run", "--as-of", DAY)
    assert stored_rows(ws) == len(scored) + len(stored)
    ran = {(r["debtor"], r["currency"]) for r in stored}
    last = rows(ws, capsys, "model", "stored", "--as-of", DAY)
    assert len(last) == len(scored)
    assert {r["version"] for r in last if (r["debtor"], r["currency"]) in ran} == {"v2"}
    older = rows(ws, capsys, "model", "stored", "--as-of", DAY, "--version", "v1")
    assert older == with_reasons


def test_promise_history_is_known_from_the_day_it_is_judged(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A promise made and broken through the CLI: ``model explain`` says it in words from the
    day its outcome was found (the run records it), never before (no hindsight)."""
    ws = tmp_path / "ws"
    shutil.copytree(trained, ws)
    made, due = "2026-03-01", "2026-03-05"
    worst = rows(ws, capsys, "model", "score", "--as-of", made, "--no-store", "--no-reasons")
    debtor = worst[0]["debtor"]
    cli(ws, capsys, "promise", "add", debtor, "1.00", "--due", due, "--on", made)
    cli(ws, capsys, "run", "--as-of", "2026-03-10")  # finds the outcome: the day after the date
    (promise,) = rows(ws, capsys, "promise", "list")
    outcome = promise["outcome"]
    assert outcome in ("kept", "broken"), promise

    def facts(day: str) -> list[str]:
        (row,) = rows(ws, capsys, "model", "explain", debtor, "--as-of", day)
        found = row["facts"]
        assert isinstance(found, list)
        return [str(f) for f in found]

    # found on the day after its date plus the policy's grace: not known the day before
    found = promise["found"]
    eve = (date.fromisoformat(found) - timedelta(days=1)).isoformat()
    before = facts(eve)
    assert "made 1 promise to pay this year" in before
    assert "has broken no promise this year" in before
    assert "has no promise to pay judged this year" in before
    after = facts(found)
    assert "made 1 promise to pay this year" in after
    if outcome == "broken":
        assert "has broken 1 promise this year" in after
        assert "kept 0 % of its promises this year" in after
    else:
        assert "kept 100 % of its promises this year" in after


def test_the_promise_and_dispute_history_in_english_and_spanish() -> None:
    from arrears.scoring.words import phrase

    row = {"promises_made_12m": 3.0, "promises_broken_12m": 2.0, "promise_kept_rate": 1 / 3}
    row |= {"disputes_12m": 1.0}
    said = {n: (phrase(n, row, None, "en"), phrase(n, row, None, "es")) for n in row}
    assert said["promises_broken_12m"] == (
        "has broken 2 promises this year",
        "ha incumplido 2 promesas este año",
    )
    assert said["promises_made_12m"][1] == "hizo 3 promesas de pago este año"
    assert said["promise_kept_rate"] == (
        "kept 33 % of its promises this year",
        "cumplió el 33 % de sus promesas este año",
    )
    assert said["disputes_12m"] == (
        "has opened 1 dispute this year",
        "ha abierto 1 disputa este año",
    )
