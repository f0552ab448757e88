"""``arrears import --progress``: rows, rows/s and time left on standard error, never by default
when standard error is not a terminal (as in tests and pipes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from arrears.cli.app import main
from arrears.cli.importing import estimated_rows


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("backlog")
    gen = ["generate", str(out), "--profile", "backlog", "--debtors", "150", "--seed", "2"]
    assert main([*gen, "--as-of", "2026-11-30", "--summary"]) == 0
    return out


def test_the_progress_bar_shows_rows_speed_and_time_left(
    tmp_path: Path, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "ws"
    assert main(["init", str(ws)]) == 0
    capsys.readouterr()
    assert main(["-w", str(ws), "import", "debtors", str(data / "debtors.csv")]) == 0
    assert "rows/s" not in capsys.readouterr().err  # not a terminal: no bar unless asked
    invoices = ["-w", str(ws), "import", "invoices", str(data / "invoices.csv"), "--progress"]
    assert main(invoices) == 0
    err = capsys.readouterr().err
    assert "importing invoices.csv" in err
    assert "750 / ~7" in err  # 750 rows read of about as many estimated
    assert "rows/s" in err


def test_the_estimate_is_close_to_the_rows_of_a_file(data: Path) -> None:
    estimate = estimated_rows([data / "invoices.csv", data / "payments.csv"])
    actual = sum(
        len((data / f).read_text().splitlines()) - 1 for f in ("invoices.csv", "payments.csv")
    )
    assert estimate == pytest.approx(actual, rel=0.02)
    assert estimated_rows([data / "book.xlsx"]) is None
