"""The summary of a refused import: no counts that read as if rows had been imported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arrears.cli.app import main


@pytest.fixture
def invoices(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "ws"
    assert main(["init", str(root)]) == 0
    debtors = tmp_path / "debtors.csv"
    debtors.write_text("debtor_id,name\nD1,Acme\n", encoding="utf-8")
    assert main(["-w", str(root), "import", "debtors", str(debtors)]) == 0
    path = tmp_path / "invoices.csv"
    path.write_text(
        "invoice_id,debtor_id,issue_date,due_date,amount\n"
        "A,D1,2026-01-01,2026-02-01,100.00\n"
        "B,D9,2026-01-01,2026-02-01,50.00\n",
        encoding="utf-8",
    )
    return root, path


def test_a_rolled_back_import_prints_no_created_rows(
    invoices: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    ws, path = invoices
    capsys.readouterr()
    assert main(["-w", str(ws), "import", "invoices", str(path)]) == 1
    out, err = capsys.readouterr()
    assert "created" not in out and "applied" not in out
    assert f"{path}:3:debtor_id: unknown debtor 'D9'" in err
    assert "nothing was imported" in err


def test_a_rolled_back_import_in_json_created_nothing(
    invoices: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    ws, path = invoices
    capsys.readouterr()
    assert main(["-w", str(ws), "import", "invoices", str(path), "--format", "json"]) == 1
    summary = json.loads(capsys.readouterr().out)
    assert summary["committed"] is False
    assert (summary["rows"], summary["created"], summary["updated"]) == (2, 0, 0)
    assert len(summary["problems"]) == 1
