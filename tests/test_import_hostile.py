"""Hostile files through the real importer: every problem reported, and nothing changed.

Each case of ``tests/hostile/`` with expected problems is imported into a store that already
holds a portfolio; the import must be refused with exactly those problems, and every table (the
activity log included) must be as it was.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from arrears.cli.app import main
from arrears.io.columns import Kind
from arrears.io.importer import import_files
from arrears.store.database import connect
from arrears.store.schema import metadata
from test_io_hostile import HOSTILE, options_for

CASES = sorted(
    p.name.removesuffix(".expected") for p in HOSTILE.glob("*.expected") if p.read_text().strip()
)


@pytest.fixture(scope="module")
def loaded_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("loaded")
    args = ["demo", str(ws), "--debtors", "40", "--months", "4", "--as-of", "2026-11-23"]
    assert main(args) == 0
    return ws


def _state(url: str) -> dict[str, tuple[int, ...]]:
    """Row count, and the sum of every integer column, of every table."""
    engine = connect(url)
    state = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            sums = [
                func.coalesce(func.sum(c), 0)
                for c in table.columns
                if c.type.python_type is int and not c.primary_key
            ]
            row = conn.execute(select(func.count(), *sums).select_from(table)).one()
            state[table.name] = tuple(int(v) for v in row)
    engine.dispose()
    return state


@pytest.mark.parametrize("name", CASES)
def test_hostile_file_imports_nothing(
    name: str, loaded_workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(loaded_workspace, ws)
    url = f"sqlite:///{ws / 'arrears.db'}"
    before = _state(url)
    monkeypatch.chdir(HOSTILE)
    kind = Kind(name.split(".", maxsplit=1)[0])
    engine = connect(url)
    report = import_files(engine, kind, [Path(name)], options_for(name), actor="test")
    engine.dispose()
    expected = (HOSTILE / f"{name}.expected").read_text().splitlines()
    # Every problem the reader finds comes back, with the store's own problems (unknown
    # debtors, portfolios...) interleaved by row.
    got = [str(p) for p in report.problems]
    assert sorted(p for p in got if p in expected) == sorted(expected)
    assert not report.committed
    assert _state(url) == before


def test_cli_refuses_a_hostile_file_with_exit_1(
    loaded_workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(loaded_workspace, ws)
    before = _state(f"sqlite:///{ws / 'arrears.db'}")
    path = HOSTILE / "invoices.negative_amounts.csv"
    assert main(["-w", str(ws), "import", "invoices", str(path)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "invoices.negative_amounts.csv:" in err
    assert _state(f"sqlite:///{ws / 'arrears.db'}") == before
