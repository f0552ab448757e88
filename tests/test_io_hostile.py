"""Hostile import files: each one in ``tests/hostile/`` must report exactly the problems written in
its ``<file>.expected`` (one ``file:row:column: message`` per line, in order).

The kind is the first part of the file name (``invoices.negative_amounts.csv``); an optional
``<file>.options.json`` gives the :class:`ReadOptions` to read it with. After a deliberate change
of messages, refresh the expected files with
``ARREARS_UPDATE_GOLDEN=1 pytest tests/test_io_hostile.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from arrears.domain.columns import Kind
from arrears.domain.problems import Problem, ProblemsFound
from arrears.io.batches import ReadOptions
from arrears.io.reading import read_file

HOSTILE = Path(__file__).parent / "hostile"
CASES = sorted(
    p.name
    for p in HOSTILE.iterdir()
    if p.is_file() and p.suffix not in {".expected", ".json", ".py"} and p.name != "__init__.py"
)


def problems_of(name: str, options: ReadOptions) -> list[Problem]:
    """Every problem ``read_file`` reports for ``name``, fatal or per batch."""
    kind = Kind(name.split(".", maxsplit=1)[0])
    found: list[Problem] = []
    try:
        for batch in read_file(Path(name), kind, options):
            found.extend(batch.problems)
    except ProblemsFound as exc:
        found.extend(exc.problems)
    return found


def options_for(name: str) -> ReadOptions:
    path = HOSTILE / f"{name}.options.json"
    return ReadOptions(**json.loads(path.read_text())) if path.exists() else ReadOptions()


def test_every_case_has_its_expected_problems() -> None:
    assert len(CASES) >= 15
    for name in CASES:
        assert (HOSTILE / f"{name}.expected").exists() or os.environ.get("ARREARS_UPDATE_GOLDEN")


@pytest.mark.parametrize("name", CASES)
def test_hostile_file_reports_exactly_its_problems(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(HOSTILE)
    got = [str(p) for p in problems_of(name, options_for(name))]
    expected_path = HOSTILE / f"{name}.expected"
    if os.environ.get("ARREARS_UPDATE_GOLDEN"):
        expected_path.write_text("".join(f"{line}\n" for line in got), encoding="utf-8")
    expected = expected_path.read_text(encoding="utf-8").splitlines()
    assert got == expected


@pytest.mark.parametrize("batch_rows", [1, 2, 3])
def test_problems_do_not_depend_on_the_batch_size(
    batch_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(HOSTILE)
    for name in ("payments.allocation_lines.csv", "invoices.duplicate_instalments.csv"):
        small = problems_of(name, ReadOptions(batch_rows=batch_rows))
        assert sorted(small) == sorted(problems_of(name, ReadOptions()))
