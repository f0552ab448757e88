"""``arrears import`` as a user runs it: summary, one line per problem, exit status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arrears.cli.app import main


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    assert main(["init", str(root)]) == 0
    (tmp_path / "debtors.csv").write_text(
        "Cliente,Nombre,Correo\nD1,Acme,ap@acme.test\nD2,Beta,\n", encoding="utf-8"
    )
    (tmp_path / "invoices.csv").write_text(
        "factura,cliente,fecha,vencimiento,importe\n"
        "A,D1,2026-01-01,2026-02-01,100.00\n"
        "B,D9,2026-01-01,2026-02-01,50.00\n",
        encoding="utf-8",
    )
    return root


def test_import_prints_a_summary(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["-w", str(ws), "import", "debtors", str(ws.parent / "debtors.csv"), "--format", "json"]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["created"], summary["committed"], summary["problems"]) == (2, True, [])


def test_a_problem_exits_1_with_one_line_each(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["-w", str(ws), "import", "debtors", str(ws.parent / "debtors.csv")])
    capsys.readouterr()
    invoices = ws.parent / "invoices.csv"
    assert main(["-w", str(ws), "import", "invoices", str(invoices)]) == 1
    err = capsys.readouterr().err
    assert f"{invoices}:3:debtor_id: unknown debtor 'D9': import it first" in err
    assert "nothing was imported" in err
    assert "Traceback" not in err


def test_skip_invalid_writes_the_rejects(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["-w", str(ws), "import", "debtors", str(ws.parent / "debtors.csv")])
    invoices = ws.parent / "invoices.csv"
    rejects = ws.parent / "rejects.csv"
    args = ["-w", str(ws), "import", "invoices", str(invoices), "--skip-invalid"]
    assert main([*args, "--rejects", str(rejects)]) == 0
    assert "1 row(s) rejected" in capsys.readouterr().out
    assert rejects.read_text(encoding="utf-8").splitlines()[1].startswith("3,B,D9,")
