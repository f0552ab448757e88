"""Tables on an 80-column terminal never cut an amount, a count, a date or an id.

Each table is printed through the real command on a demo workspace with ``COLUMNS=80``; the same
command's CSV says what the table must show: every id, count and amount of it is a whole cell of
the table (formatted for the locale), no cell ends in an ellipsis, no line is wider than 80.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

import pytest
from rich.cells import cell_len

from arrears import config
from arrears.cli.app import main
from arrears.cli.output import amount_text, console
from arrears.domain.money import from_minor

AS_OF = "2026-11-23"
WIDTH = 80


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's workspace: 300 debtors in five currencies, the cycle run, messages sent."""
    ws = tmp_path_factory.mktemp("tables") / "demo"
    assert main(["demo", str(ws), "--debtors", "300", "--months", "6", "--as-of", AS_OF]) == 0
    return ws


@pytest.fixture(autouse=True)
def columns_80(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", str(WIDTH))
    assert console.width == WIDTH


def locale(ws: Path) -> str:
    return str(config.load(ws).get("locale"))


def output(capsys: pytest.CaptureFixture[str], ws: Path, *args: str) -> str:
    assert main(["-w", str(ws), *args]) == 0
    return capsys.readouterr().out


def table_and_rows(
    capsys: pytest.CaptureFixture[str], ws: Path, *args: str
) -> tuple[str, list[dict[str, str]]]:
    """The command's table at 80 columns, and its rows as CSV."""
    table = output(capsys, ws, *args)
    rows = list(csv.DictReader(io.StringIO(output(capsys, ws, *args, "--format", "csv"))))
    assert rows, f"{args}: no rows to check"
    return table, rows


def cells(table: str) -> set[str]:
    """Every cell of every table in ``table`` (the text between the column rules of a row), or
    of every record when the rows were printed as records (``name  value`` lines)."""
    found: set[str] = set()
    records = "printed as records" in table
    for line in table.splitlines():
        if line[:1] in "│┃":
            found.update(cell.strip() for cell in re.split("[│┃]", line)[1:-1])
        elif records and (record := re.fullmatch(r"([a-z_]+) {2,}(.*)", line.rstrip())):
            found.add(record.group(2))
    return found


def assert_fits_and_whole(table: str, values: Iterable[str]) -> None:
    """No line is wider than the terminal, nothing is cut, and each value is a cell of its own."""
    assert "…" not in table
    wide = [line for line in table.splitlines() if cell_len(line) > WIDTH]
    assert not wide, f"lines wider than {WIDTH} columns: {wide[:3]}"
    shown = cells(table)
    missing = sorted({v for v in values if v not in shown})
    assert not missing, f"not shown whole: {missing[:10]}"


def amount_columns(row: dict[str, str]) -> list[str]:
    """The aging report's amounts: not yet due, each bucket (``1-30``, ``120+``...), the total."""
    return [name for name in row if name in ("current", "total") or name[:1].isdigit()]


@pytest.mark.parametrize(
    ("by", "ids"),
    [
        ("total", ()),
        ("debtor", ("debtor_external_id",)),
        ("invoice", ("invoice_external_id", "debtor_external_id")),
        ("segment", ("segment",)),
    ],
)
def test_aging_shows_every_amount_count_and_id_whole(
    demo: Path, capsys: pytest.CaptureFixture[str], by: str, ids: tuple[str, ...]
) -> None:
    args = ["aging", "--as-of", AS_OF, "--by", by, "--top", "12"]
    table, rows = table_and_rows(capsys, demo, *args)
    expected = [row["count"] for row in rows] + [row[name] for row in rows for name in ids]
    expected += [
        amount_text(Decimal(row[name]), row["currency"], locale(demo))
        for row in rows
        for name in amount_columns(row)
    ]
    assert_fits_and_whole(table, expected)
    if by == "debtor":
        assert "printed in" in table and "use --wide or --format csv" in table


def test_wide_prints_each_table_whole_on_long_lines(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = output(capsys, demo, "aging", "--as-of", AS_OF, "--by", "debtor", "--wide")
    assert "…" not in table and "printed in" not in table
    assert max(map(cell_len, table.splitlines())) > WIDTH
    header = next(line for line in table.splitlines() if "debtor" in line)
    assert "total" in header and "oldest dpd" in header  # one table, every column


def test_worklist_shows_tasks_debtors_stages_and_amounts_whole(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table, rows = table_and_rows(capsys, demo, "worklist", "--top", "20")
    expected = [row[name] for row in rows for name in ("task_id", "debtor", "stage")]
    for row in rows:
        amount, currency = row["overdue"].split()
        expected.append(f"{amount_text(Decimal(amount), currency, locale(demo))} {currency}")
    assert_fits_and_whole(table, expected)
    assert "hidden: step" in table


def test_activity_shows_kinds_debtors_and_subjects_whole(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table, rows = table_and_rows(capsys, demo, "activity", "--limit", "30")
    expected = [row[n] for row in rows for n in ("kind", "debtor", "subject") if row[n]]
    expected += [row["occurred_at"][:19] for row in rows]  # to the second in the table
    assert_fits_and_whole(table, expected)


def test_plan_summary_shows_stages_counts_and_amounts_whole(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table, rows = table_and_rows(capsys, demo, "plan", "--as-of", "2026-11-24")
    expected = [row[name] for row in rows for name in ("segment", "stage", "cases", "paused")]
    expected += [
        amount_text(from_minor(int(row["overdue_minor"]), row["currency"]), row["currency"],
                    locale(demo))
        for row in rows
    ]  # fmt: skip
    assert_fits_and_whole(table, expected)


def test_compliance_report_shows_rules_and_counts_whole(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    period = ["--from", "2026-11-01", "--to", "2026-12-31"]
    table = output(capsys, demo, "compliance", "report", *period)
    report = json.loads(output(capsys, demo, "compliance", "report", *period, "--format", "json"))
    expected = [str(r[n]) for r in report["contacts"] for n in ("pack", "channel", "contacts")]
    expected += [str(r[n]) for r in report["rules"] for n in ("rule", "steps")]
    assert_fits_and_whole(table, expected)


def test_explain_and_model_explain_show_ids_and_scores_whole(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    worklist = json.loads(output(capsys, demo, "worklist", "--format", "json"))
    debtor = worklist[0]["debtor"]
    table = output(capsys, demo, "explain", debtor, "--as-of", AS_OF)
    assert_fits_and_whole(table, ["feature", "value"])
    table, rows = table_and_rows(capsys, demo, "model", "explain", debtor, "--as-of", AS_OF)
    expected = [row[n] for row in rows for n in ("debtor", "currency", "score")]
    expected += [
        amount_text(from_minor(int(row["expected_recovery_minor"]), row["currency"]),
                    row["currency"], locale(demo))
        for row in rows
    ]  # fmt: skip
    assert_fits_and_whole(table, expected)


def test_config_fits(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = output(capsys, demo, "config")
    assert_fits_and_whole(table, ["setting", "database_url", "locale"])


def test_model_evaluate_shows_every_figure_whole_and_prints_csv_too(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The backtest's tables, and its CSV: the figures, one per row."""
    table, rows = table_and_rows(capsys, demo, "model", "evaluate")
    assert set(rows[0]) == {"table", "row", "measure", "value"}
    assert {"calibration", "lift and capture by decile"} <= {row["table"] for row in rows}
    assert_fits_and_whole(table, [row["value"] for row in rows if row["value"]])


def test_import_summary_prints_csv_too(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = demo / "data" / "debtors.csv"
    text = output(capsys, demo, "import", "debtors", str(data), "--format", "csv")
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row["kind"] == "debtors" and row["committed"] == "true"
    assert row["rows"] == row["unchanged"] == "300"


def test_a_narrow_terminal_wraps_then_hides_then_prints_in_parts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The order in which a table gives way, none of which cuts a cell."""
    import polars as pl

    from arrears.cli.output import Format, emit

    frame = pl.DataFrame(
        {
            "debtor": ["D000000001", "D000000002"],
            "name": ["Industrias del Norte S.A. de C.V.", "Ana"],
            "note": ["called twice, no answer", ""],
            "overdue": ["1,234,567,890.12", "3.00"],
            "total": ["9,876,543,210.99", "4.00"],
        }
    )

    def show(width: int) -> str:
        monkeypatch.setenv("COLUMNS", str(width))
        emit(frame, Format.TABLE, right=("overdue", "total"), wrap=("name", "note"),
             optional=("note",))  # fmt: skip
        return capsys.readouterr().out

    out = show(120)
    assert "Industrias del Norte S.A. de C.V." in out and "hidden" not in out
    out = show(70)
    assert "1 column hidden: note" in out and "printed in" not in out
    assert {"D000000001", "1,234,567,890.12", "9,876,543,210.99"} <= cells(out)
    assert all(w in out for w in ("Industrias", "Norte", "S.A.", "C.V."))  # wrapped, whole
    out = show(40)
    assert "printed in 3 parts to fit 40 columns" in " ".join(out.split())
    assert out.count("D000000001") == 3  # the key column in each part
    assert {"1,234,567,890.12", "9,876,543,210.99"} <= cells(out)
    assert max(map(cell_len, out.splitlines())) <= 40 and "…" not in out
