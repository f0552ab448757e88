"""``arrears run`` stores the day's scores in the transaction of its commit (issue 18): the
decisions and the scores land together, a run that fails while writing leaves neither, and the
run again stores the day's scores once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, text

import arrears.services.insight.scoring as scoring_services
from arrears.cli.app import main
from arrears.services.uow import open_store
from test_scoring_cli import END, build

DAY = END.isoformat()


def counts(ws: Path) -> tuple[int, int, int]:
    """(cycle runs, collection cases, stored scores) of the workspace."""
    engine = open_store(f"sqlite:///{ws / 'arrears.db'}")
    with engine.connect() as conn:
        found = tuple(
            int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
            for table in ("cycle_run", "collection_case", "debtor_score")
        )
    engine.dispose()
    return found  # type: ignore[return-value]


def test_a_failed_run_leaves_neither_decisions_nor_scores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "ws"
    build(ws, 40, 4)
    written = scoring_services.write_scores

    def fails_after_writing(conn: Connection, **kwargs: Any) -> int:
        # the scores are written, then the transaction fails (a disk full, a lost server)
        written(conn, **kwargs)
        raise OSError("disk full")

    monkeypatch.setattr(scoring_services, "write_scores", fails_after_writing)
    with pytest.raises(OSError, match="disk full"):
        main(["-w", str(ws), "run", "--as-of", DAY])
    assert counts(ws) == (0, 0, 0)

    monkeypatch.undo()
    capsys.readouterr()
    assert main(["-w", str(ws), "run", "--as-of", DAY]) == 0
    runs, cases, scores = counts(ws)
    assert runs == 1 and cases > 10 and scores >= cases
    # the day again: nothing doubled
    assert main(["-w", str(ws), "run", "--as-of", DAY]) == 0
    assert counts(ws) == (runs, cases, scores)
