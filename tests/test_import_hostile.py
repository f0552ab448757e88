"""Hostile files through ``arrears import``: every problem reported, and nothing changed.

Each case of ``tests/hostile/`` with expected problems is imported, as a user would, into a store
that already holds a portfolio; the import must be refused (exit status 1) with those problems
printed, and every table (the activity log included) must be as it was. A problem with the file
as a whole (it cannot be read, it has no header, it mixes encodings...) refuses the file with
``--skip-invalid`` too: that option only skips invalid *rows*.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from arrears.cli.app import main
from arrears.store.database import connect
from arrears.store.schema import metadata
from test_io_hostile import HOSTILE

CASES = sorted(
    p.name.removesuffix(".expected") for p in HOSTILE.glob("*.expected") if p.read_text().strip()
)
#: Cases refused as a whole, whatever the rows: nothing is imported even with --skip-invalid.
FILE_LEVEL = (
    "debtors.ambiguous_headers.csv",
    "debtors.binary.csv",
    "debtors.binary_not_utf8.parquet",
    "debtors.colon_delimiter.csv",
    "debtors.csv_renamed.xlsx",
    "debtors.duplicate_headers.csv",
    "debtors.empty.csv",
    "debtors.header_twice.csv",
    "debtors.latin1_declared_utf8.csv",
    "debtors.mixed_encoding.csv",
    "debtors.no_header.csv",
    "debtors.nul_byte.csv",
    "debtors.nul_in_cell.parquet",
    "debtors.undecodable.csv",
    "debtors.unknown_extension.ods",
    "debtors.unterminated_quote.csv",
    "debtors.utf16.csv",
    "invoices.missing_column.csv",
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


def _import(
    capsys: pytest.CaptureFixture[str], ws: Path, name: str, *extra: str
) -> tuple[int, str, list[str]]:
    """``arrears import`` of the hostile case ``name``, run from ``tests/hostile`` as a user
    would: exit status, standard output and the problems printed."""
    kind = name.split(".", maxsplit=1)[0].replace("_", "-")
    code = main(["-w", str(ws), "import", kind, name, *extra])
    return code, *_printed(capsys)


def _printed(capsys: pytest.CaptureFixture[str]) -> tuple[str, list[str]]:
    """Standard output, and every line of standard error without its ``error:``."""
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return out, [line.removeprefix("error: ") for line in err.splitlines()]


def _configure(ws: Path, name: str) -> None:
    """Write the case's read options (``<file>.options.json``) into the workspace's [import]."""
    path = HOSTILE / f"{name}.options.json"
    if not path.exists():
        return
    toml = ws / "arrears.toml"
    text = toml.read_text(encoding="utf-8")
    for key, value in json.loads(path.read_text()).items():
        text, count = re.subn(
            rf"^{key} = .*$", f"{key} = {json.dumps(value)}", text, count=1, flags=re.M
        )
        assert count == 1, key
    toml.write_text(text, encoding="utf-8")


def _copy_for(
    name: str, loaded_workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, str, dict[str, tuple[int, ...]]]:
    """A copy of the loaded workspace set up for the hostile file ``name``, its store's URL and
    state before the import, run from the hostile folder."""
    ws = tmp_path / "ws"
    shutil.copytree(loaded_workspace, ws)
    _configure(ws, name)
    url = f"sqlite:///{ws / 'arrears.db'}"
    before = _state(url)
    monkeypatch.chdir(HOSTILE)
    return ws, url, before


@pytest.mark.parametrize("name", CASES)
def test_hostile_file_imports_nothing(
    name: str,
    loaded_workspace: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ws, url, before = _copy_for(name, loaded_workspace, tmp_path, monkeypatch)
    code, out, printed = _import(capsys, ws, name)
    expected = (HOSTILE / f"{name}.expected").read_text(encoding="utf-8").splitlines()
    # Every problem the reader finds is printed, with the store's own problems (unknown
    # debtors, portfolios...) interleaved by row.
    assert code == 1
    assert sorted(p for p in printed if p in expected) == sorted(expected)
    assert "nothing was imported" in printed[-1]
    assert "import applied" not in out and "created" not in out
    assert _state(url) == before


@pytest.mark.parametrize("name", FILE_LEVEL)
def test_a_file_level_problem_refuses_the_file_even_with_skip_invalid(
    name: str,
    loaded_workspace: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ws, url, before = _copy_for(name, loaded_workspace, tmp_path, monkeypatch)
    rejects = tmp_path / "rejects.csv"
    code, out, printed = _import(capsys, ws, name, "--skip-invalid", "--rejects", str(rejects))
    expected = (HOSTILE / f"{name}.expected").read_text(encoding="utf-8").splitlines()
    assert code == 1
    assert sorted(p for p in printed if p in expected) == sorted(expected)
    assert "import applied" not in out
    assert not rejects.exists()  # no rows were skipped: the whole file was refused
    assert _state(url) == before


def test_cli_refuses_a_hostile_file_with_exit_1(
    loaded_workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(loaded_workspace, ws)
    before = _state(f"sqlite:///{ws / 'arrears.db'}")
    path = HOSTILE / "invoices.negative_amounts.csv"
    assert main(["-w", str(ws), "import", "invoices", str(path)]) == 1
    _, printed = _printed(capsys)
    assert any(p.startswith(f"{path}:2:amount:") for p in printed)
    assert _state(f"sqlite:///{ws / 'arrears.db'}") == before


def test_a_line_break_in_a_cell_is_printed_escaped(
    loaded_workspace: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A cell's CR/LF or escape sequence would forge a line (or repaint the terminal)."""
    ws = tmp_path / "ws"
    shutil.copytree(loaded_workspace, ws)
    monkeypatch.chdir(HOSTILE)
    code, _, printed = _import(capsys, ws, "debtors.line_break_in_cell.csv")
    assert code == 1
    assert (
        "debtors.line_break_in_cell.csv:2:country: 'U\\r\\nS' is not an ISO 3166 two-letter "
        "country code (US, ES...)"
    ) in printed
    assert not any("\u202e" in p or p.startswith("S'") for p in printed)
