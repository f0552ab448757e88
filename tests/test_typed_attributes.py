"""Typed debtor attributes (issue 18): a debtors mapping may declare an attribute's type
(``attr_income = { header = "Ingresos", type = "number" }``); ``arrears import`` checks every
cell of it (all problems at once, nothing imported), stores it written one way, and a policy's
segment condition may read it (``attr_income > 2000``), checked against the declared type by
``arrears policy check``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arrears.cli.app import main

MAPPING = """
[import.columns.debtors]
attr_income = { header = "Ingresos", type = "number" }
attr_since = { header = "Cliente desde", type = "date" }
attr_vip = { header = "VIP", type = "boolean" }
"""

BAD = (
    "debtor_id,name,Ingresos,Cliente desde,VIP\n"
    "D1,Ana,2500.50,2020-01-31,si\n"
    "D2,Bob,mucho,2020-02-30,talvez\n"
    "D3,Eva,1500,2021-03-01,no\n"
)
GOOD = BAD.replace("mucho", "1800").replace("2020-02-30", "2020-02-28").replace("talvez", "n")
INVOICES = (
    "invoice_id,debtor_id,amount,currency,issue_date,due_date\n"
    "I1,D1,1000,USD,2026-01-01,2026-01-20\n"
    "I2,D2,1000,USD,2026-01-01,2026-01-20\n"
    "I3,D3,1000,USD,2026-01-01,2026-01-20\n"
)
SEGMENT = "  - name: high_income\n    when: {}\n"


def policy(ws: Path, condition: str) -> Path:
    """The shipped B2B policy with a first segment on ``condition``."""
    text = (Path(__file__).parents[1] / "examples" / "policies" / "b2b.yaml").read_text("utf-8")
    head = "segments:                   # first match wins\n"
    assert head in text
    path = ws / "policies" / "typed.yaml"
    path.write_text(text.replace(head, head + SEGMENT.format(condition), 1), encoding="utf-8")
    return path


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    assert main(["init", str(root)]) == 0
    with (root / "arrears.toml").open("a", encoding="utf-8") as toml:
        toml.write(MAPPING)
    return root


def run(ws: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["-w", str(ws), *args])
    out, err = capsys.readouterr()
    return code, out + err


def test_a_typed_attribute_is_checked_stored_and_segments_debtors(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    debtors = ws.parent / "debtors.csv"
    debtors.write_text(BAD, encoding="utf-8")
    code, out = run(ws, capsys, "import", "debtors", str(debtors), "--format", "json")
    summary = json.loads(out[: out.rindex("}") + 1])
    assert code == 1 and not summary["committed"]
    problems = "\n".join(summary["problems"])
    # every bad cell at once, with its row and column; nothing imported
    assert len(summary["problems"]) == 3, problems
    assert ":3:Ingresos: 'mucho' is not a number" in problems
    assert ":3:Cliente desde: '2020-02-30' is not a real date" in problems
    assert ":3:VIP: 'talvez' is not yes or no" in problems
    out_csv = ws.parent / "out.csv"
    assert run(ws, capsys, "export", "debtors", str(out_csv))[0] == 0
    assert out_csv.read_text(encoding="utf-8").count("\n") <= 1  # the header alone

    debtors.write_text(GOOD, encoding="utf-8")
    code, out = run(ws, capsys, "import", "debtors", str(debtors))
    assert code == 0, out
    assert run(ws, capsys, "export", "debtors", str(out_csv))[0] == 0
    text = out_csv.read_text(encoding="utf-8")
    assert "attr_income" in text and "2500.50" in text and "true" in text  # stored one way

    # a policy's segment reads them as their declared types
    invoices = ws.parent / "invoices.csv"
    invoices.write_text(INVOICES, encoding="utf-8")
    assert run(ws, capsys, "import", "invoices", str(invoices))[0] == 0
    path = policy(ws, "attr_vip and attr_since < attr_since + 0 and attr_since >= '2020-01-01'")
    code, out = run(ws, capsys, "policy", "check", str(path))
    assert code == 1 and "'+' needs numbers" in out, out  # a date is not a number
    assert "cannot compare date with text using '>='" in out, out
    path = policy(ws, "attr_income > 2000 and attr_vip")
    code, out = run(ws, capsys, "policy", "check", str(path))
    assert code == 0, out
    as_of = ("--policy", str(path), "--as-of", "2026-02-01")
    assert run(ws, capsys, "run", *as_of)[0] == 0
    segments = {}
    for debtor in ("D1", "D2"):
        code, out = run(ws, capsys, "explain", debtor, *as_of, "--format", "json")
        assert code == 0, out
        [explained] = json.loads(out)
        segments[debtor] = explained["segment"]
    assert segments == {"D1": "high_income", "D2": "standard"}  # 2500.50 and yes; 1800 and no


def test_a_number_attribute_compared_with_text_is_a_policy_check_problem(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = policy(ws, "attr_income > '2000' or attr_sector = 'retail'")
    code, out = run(ws, capsys, "policy", "check", str(path))
    assert code == 1
    assert "cannot compare number with text using '>'" in out
    assert "attr_sector" not in out  # an undeclared attribute is read as it is compared


def test_an_unknown_declared_type_is_a_problem(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with (ws / "arrears.toml").open("a", encoding="utf-8") as toml:
        toml.write('attr_grade = { header = "Grade", type = "money" }\n')
    debtors = ws.parent / "debtors.csv"
    debtors.write_text("debtor_id,name,Grade\nD1,Ana,B\n", encoding="utf-8")
    code, out = run(ws, capsys, "import", "debtors", str(debtors))
    assert code == 1
    assert "declares attr_grade of type 'money': the types are text, number, date, boolean" in out
