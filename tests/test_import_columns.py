"""``arrears import`` and the columns it does not know (issue 18): a header the workspace maps
to ``attr_<name>`` becomes a debtor attribute (seen by ``arrears export debtors``), and every
other unknown column is named in a warning that says how to map it, without refusing the file."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from arrears.cli.app import main

DEBTORS = (
    "debtor_id,name,Risk Grade,attr_sector,Fax,credit_limt\n"
    "D1,Ana,B,retail,555,1000\n"
    "D2,Bob,C,,556,2000\n"
)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    assert main(["init", str(root)]) == 0
    (tmp_path / "debtors.csv").write_text(DEBTORS, encoding="utf-8")
    return root


def imported(ws: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """Exit status and standard output (standard error when the import fails)."""
    capsys.readouterr()
    code = main(["-w", str(ws), "import", "debtors", str(ws.parent / "debtors.csv"), *args])
    out, err = capsys.readouterr()
    return code, out if code == 0 else out + err


def exported(ws: Path) -> pl.DataFrame:
    out = ws.parent / "out.csv"
    assert main(["-w", str(ws), "export", "debtors", str(out)]) == 0
    return pl.read_csv(out, infer_schema=False).sort("debtor_id")


def test_unknown_columns_are_named_with_how_to_map_them(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = imported(ws, capsys, "--format", "json")
    summary = json.loads(out)
    assert code == 0 and summary["committed"] and summary["created"] == 2
    assert summary["problems"] == []
    warnings = summary["warnings"]
    assert len(warnings) == 3  # attr_sector is an attribute already: no warning
    grade, fax, limit = warnings
    assert "Risk Grade: column ignored" in grade
    assert 'attr_risk_grade = "Risk Grade" in [import.columns.debtors]' in grade
    assert 'attr_fax = "Fax"' in fax
    # a misspelt column: the column it may be is offered first
    assert 'credit_limit = "credit_limt" in [import.columns.debtors]' in limit
    # the table summary shows them too, one line each
    code, out = imported(ws, capsys)
    lines = [line for line in out.splitlines() if line.startswith("warning: ")]
    assert code == 0 and len(lines) == 3 and "Risk Grade" in lines[0]
    debtors = exported(ws)
    assert "attr_sector" in debtors.columns and "attr_risk_grade" not in debtors.columns


def test_a_mapped_header_becomes_a_debtor_attribute(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with (ws / "arrears.toml").open("a", encoding="utf-8") as toml:
        toml.write('\n[import.columns.debtors]\nattr_risk_grade = "Risk Grade"\n')
        toml.write('credit_limit = "credit_limt"\n')
    code, out = imported(ws, capsys, "--format", "json")
    summary = json.loads(out)
    assert code == 0 and summary["created"] == 2
    assert len(summary["warnings"]) == 1 and "Fax" in summary["warnings"][0]
    debtors = exported(ws)
    assert debtors["attr_risk_grade"].to_list() == ["B", "C"]
    assert debtors["attr_sector"].to_list() == ["retail", None]
    assert [float(v) for v in debtors["credit_limit"]] == [1000.0, 2000.0]


def test_an_attribute_mapped_to_a_missing_header_is_a_problem(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with (ws / "arrears.toml").open("a", encoding="utf-8") as toml:
        toml.write('\n[import.columns.debtors]\nattr_grade = "Grade"\n')
    code, out = imported(ws, capsys)
    assert code == 1
    assert "attribute attr_grade is the header 'Grade', which the file does not have" in out


def test_strict_refuses_unknown_columns_naming_every_one(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = imported(ws, capsys, "--strict")
    assert code == 1
    lines = [line for line in out.splitlines() if "unknown column (--strict)" in line]
    assert len(lines) == 3  # every unknown header at once, with its file and how to map it
    assert all("debtors.csv:1:" in line for line in lines)
    assert 'attr_risk_grade = "Risk Grade" in [import.columns.debtors]' in out
    assert 'credit_limit = "credit_limt"' in out
    assert "3 problem(s): nothing was imported" in out
    assert exported(ws).height == 0
    # also with --skip-invalid: the file as a whole is refused
    code, out = imported(ws, capsys, "--strict", "--skip-invalid", "--format", "json")
    summary, _ = json.JSONDecoder().raw_decode(out)  # then the problems on standard error
    assert code == 1 and not summary["committed"] and len(summary["problems"]) == 3
    assert exported(ws).height == 0
    # mapped, the same file imports under --strict
    config = ws / "arrears.toml"
    config.write_text(
        config.read_text(encoding="utf-8")
        + '\n[import.columns.debtors]\nattr_risk_grade = "Risk Grade"\nattr_fax = "Fax"\n'
        'credit_limit = "credit_limt"\n',
        encoding="utf-8",
    )
    code, out = imported(ws, capsys, "--strict", "--format", "json")
    assert code == 0 and json.loads(out)["created"] == 2
