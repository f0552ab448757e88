"""``arrears generate`` as a user runs it: files, statistics, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arrears.cli.app import main


def test_generate_writes_the_files_and_prints_the_statistics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo"
    args = ["generate", "--debtors", "200", "--months", "3", "--seed", "1", "--as-of", "2026-01-31"]
    assert main([*args, str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["debtors.csv", "invoices.csv", "payments.csv"]
    assert "share paid late" in capsys.readouterr().out
    assert main([*args, "--json", "--format", "parquet", str(tmp_path / "pq")]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["debtors"] == 200
    assert set(stats["archetypes"]) >= {"prompt", "never_pays"}
    assert (tmp_path / "pq" / "payments.parquet").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--debtors", "0"], "number of debtors must be positive"),
        (["--months", "0"], "number of months must be positive"),
        (["--as-of", "2026-02-30"], "is not a date"),
    ],
)
def test_bad_input_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["generate", *args, str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_out_must_be_a_writable_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    assert main(["generate", "--debtors", "5", str(a_file)]) == 1
    assert "is not a folder" in capsys.readouterr().err
