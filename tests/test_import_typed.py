"""Typed Excel and Parquet cells are imported as typed, whatever the workspace's import settings.

A number cell is a number and a date cell a date: ``import.decimal_separator``,
``import.thousands_separator`` and ``import.date_format`` (or this import's
``--decimal-separator``, ``--thousands-separator`` and ``--date-format``) apply to text cells
only. Everything goes through ``arrears import`` and comes back through ``arrears export``.
"""

from __future__ import annotations

import csv
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import Workbook

from arrears.cli.app import main

HEADER = ["invoice_id", "debtor_id", "issue_date", "due_date", "amount", "currency"]


def workspace(tmp_path: Path, **settings: str) -> Path:
    """A workspace with debtor D1 and these ``[import]`` settings."""
    root = tmp_path / "ws"
    assert main(["init", str(root)]) == 0
    toml = root / "arrears.toml"
    text = toml.read_text(encoding="utf-8")
    for key, value in settings.items():
        start = text.index(f"\n{key} = ") + 1
        end = text.index("\n", start)
        text = text[:start] + f"{key} = {value!r}".replace("'", '"') + text[end:]
    toml.write_text(text, encoding="utf-8")
    debtors = tmp_path / "debtors.csv"
    debtors.write_text("debtor_id,name\nD1,Acme\n", encoding="utf-8")
    assert main(["-w", str(root), "import", "debtors", str(debtors)]) == 0
    return root


@pytest.fixture
def comma_ws(tmp_path: Path) -> Path:
    """Amounts written ``1.234,50`` and dates ``05/01/2026`` in this workspace's text files."""
    return workspace(
        tmp_path, decimal_separator=",", thousands_separator=".", date_format="%d/%m/%Y"
    )


def exported(ws: Path) -> dict[str, tuple[str, str, str]]:
    """invoice_id -> (issue_date, due_date, amount) as ``arrears export`` writes them."""
    out = ws.parent / "export.csv"
    assert main(["-w", str(ws), "export", "invoices", str(out)]) == 0
    with out.open(encoding="utf-8", newline="") as handle:
        return {
            r["invoice_id"]: (r["issue_date"], r["due_date"], r["amount"])
            for r in csv.DictReader(handle)
        }


def xlsx(path: Path, rows: list[list[object]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def run(ws: Path, kind: str, path: Path, *options: str) -> int:
    return main(["-w", str(ws), "import", kind, str(path), *options])


def test_number_and_date_cells_of_an_xlsx_in_a_decimal_comma_workspace(comma_ws: Path) -> None:
    book = xlsx(
        comma_ws.parent / "invoices.xlsx",
        [
            ["A", "D1", date(2026, 1, 5), date(2026, 2, 4), 1234.5, "USD"],
            ["B", "D1", datetime(2026, 1, 6), datetime(2026, 2, 5), 1250, "USD"],
            ["C", "D1", date(2026, 1, 7), date(2026, 2, 6), 0.1 + 0.2, "USD"],  # shows 0.3
            ["D", "D1", date(2026, 1, 8), date(2026, 2, 7), 12345678901234.56, "USD"],
            ["E", "D1", date(2026, 1, 9), date(2026, 2, 8), 100 * 1.19, "USD"],  # 119.000...01
        ],
    )
    assert run(comma_ws, "invoices", book) == 0
    assert exported(comma_ws) == {
        "A": ("2026-01-05", "2026-02-04", "1234.50"),
        "B": ("2026-01-06", "2026-02-05", "1250.00"),
        "C": ("2026-01-07", "2026-02-06", "0.30"),
        "D": ("2026-01-08", "2026-02-07", "12345678901234.56"),
        "E": ("2026-01-09", "2026-02-08", "119.00"),
    }


def test_text_cells_of_an_xlsx_follow_the_workspace(
    comma_ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Text cells, even next to typed ones in the same column, are read with the settings."""
    book = xlsx(
        comma_ws.parent / "invoices.xlsx",
        [
            ["A", "D1", "05/01/2026", "04/02/2026", "1.234,50", "USD"],
            ["B", "D1", date(2026, 1, 6), "05/02/2026", 99.95, "USD"],
        ],
    )
    assert run(comma_ws, "invoices", book) == 0
    assert exported(comma_ws) == {
        "A": ("2026-01-05", "2026-02-04", "1234.50"),
        "B": ("2026-01-06", "2026-02-05", "99.95"),
    }
    capsys.readouterr()
    wrong = xlsx(
        comma_ws.parent / "wrong.xlsx",
        [["C", "D1", "2026-01-07", "06/02/2026", "1234.50", "USD"]],
    )
    assert run(comma_ws, "invoices", wrong) == 1
    err = capsys.readouterr().err
    assert f"{wrong}:2:issue_date: '2026-01-07' is not a valid date in the format %d/%m/%Y" in err
    assert f"{wrong}:2:amount: '1234.50' is not an amount: write digits with ','" in err


def test_a_float_that_is_not_whole_minor_units_is_a_located_problem(
    comma_ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    book = xlsx(
        comma_ws.parent / "invoices.xlsx",
        [
            ["A", "D1", date(2026, 1, 5), date(2026, 2, 4), 10.0, "USD"],
            ["B", "D1", date(2026, 1, 5), date(2026, 2, 4), 100.005, "USD"],
            ["C", "D1", date(2026, 1, 5), date(2026, 2, 4), 12.5, "JPY"],
        ],
    )
    assert run(comma_ws, "invoices", book) == 1
    err = capsys.readouterr().err
    assert f"{book}:3:amount: '100.005' has more decimals than USD allows (2): round it" in err
    assert f"{book}:4:amount: '12.5' has more decimals than JPY allows (0): round it" in err
    assert "2 problem(s): nothing was imported" in err


def test_typed_parquet_columns_in_a_decimal_comma_workspace(comma_ws: Path) -> None:
    table = pa.table(
        {
            "invoice_id": ["A", "B", "C", "D"],
            "debtor_id": ["D1"] * 4,
            "issue_date": pa.array([date(2026, 1, d) for d in (5, 6, 7, 8)], pa.date32()),
            "due_date": pa.array(
                [datetime(2026, 2, d, 10, 30) for d in (4, 5, 6, 7)], pa.timestamp("us")
            ),
            "amount": pa.array([1234.5, 0.1 + 0.2, 12345678901234.56, 100 * 1.19], pa.float64()),
            "credit": pa.array(
                [Decimal(v) for v in ("1234.50", "7.00", "0.01", "1000000.25")],
                pa.decimal128(12, 2),
            ),
            "units": pa.array([1, 2, 3, 4], pa.int64()),
        }
    )
    floats = comma_ws.parent / "floats.parquet"
    pq.write_table(table, floats)
    assert run(comma_ws, "invoices", floats) == 0
    assert exported(comma_ws) == {
        "A": ("2026-01-05", "2026-02-04", "1234.50"),
        "B": ("2026-01-06", "2026-02-05", "0.30"),
        "C": ("2026-01-07", "2026-02-06", "12345678901234.56"),
        "D": ("2026-01-08", "2026-02-07", "119.00"),
    }
    decimals = comma_ws.parent / "decimals.parquet"
    renamed = table.drop_columns(["amount", "units"]).rename_columns(
        [*table.column_names[:4], "amount"]
    )
    pq.write_table(renamed.set_column(0, "invoice_id", pa.array(["E", "F", "G", "H"])), decimals)
    integers = comma_ws.parent / "integers.parquet"
    renamed = table.drop_columns(["amount", "credit"]).rename_columns(
        [*table.column_names[:4], "amount"]
    )
    pq.write_table(renamed.set_column(0, "invoice_id", pa.array(["I", "J", "K", "L"])), integers)
    assert run(comma_ws, "invoices", decimals) == 0
    assert run(comma_ws, "invoices", integers) == 0
    amounts = {k: v[2] for k, v in exported(comma_ws).items()}
    assert [amounts[k] for k in "EFGHIJKL"] == [
        "1234.50",
        "7.00",
        "0.01",
        "1000000.25",
        "1.00",
        "2.00",
        "3.00",
        "4.00",
    ]


def test_parquet_text_columns_follow_the_workspace(comma_ws: Path) -> None:
    """A text column next to a typed one: each read its own way."""
    table = pa.table(
        {
            "invoice_id": ["A"],
            "debtor_id": ["D1"],
            "issue_date": pa.array([date(2026, 1, 5)], pa.date32()),
            "due_date": ["04/02/2026"],
            "amount": ["1.234,50"],
        }
    )
    path = comma_ws.parent / "text.parquet"
    pq.write_table(table, path)
    assert run(comma_ws, "invoices", path) == 0
    assert exported(comma_ws) == {"A": ("2026-01-05", "2026-02-04", "1234.50")}


def test_the_options_read_one_file_unlike_the_workspace(
    comma_ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = comma_ws.parent / "erp.csv"
    other.write_text(
        "invoice_id,debtor_id,issue_date,due_date,amount\nA,D1,2026-01-05,2026-02-04,1234.50\n",
        encoding="utf-8",
    )
    assert run(comma_ws, "invoices", other) == 1
    assert f"{other}:2:amount: '1234.50' is not an amount" in capsys.readouterr().err
    options = ["--decimal-separator", ".", "--date-format", "%Y-%m-%d"]
    assert run(comma_ws, "invoices", other, *options) == 0
    grouped = comma_ws.parent / "grouped.csv"
    grouped.write_text(
        "invoice_id,debtor_id,issue_date,due_date,amount\n"
        'B,D1,2026-01-06,2026-02-05,"1,234.50"\n'
        'C,D1,2026-01-07,2026-02-06,"9,999.99"\n',
        encoding="utf-8",
    )
    grouping = [*options, "--thousands-separator", ","]
    assert run(comma_ws, "invoices", grouped, *grouping) == 0
    assert exported(comma_ws) == {
        "A": ("2026-01-05", "2026-02-04", "1234.50"),
        "B": ("2026-01-06", "2026-02-05", "1234.50"),
        "C": ("2026-01-07", "2026-02-06", "9999.99"),
    }


def test_the_options_are_checked(comma_ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = comma_ws.parent / "erp.csv"
    path.write_text(",".join(HEADER) + "\n", encoding="utf-8")
    same = ["--decimal-separator", ",", "--thousands-separator", ","]
    assert run(comma_ws, "invoices", path, *same) == 2
    assert "cannot separate both the decimals and the thousands" in unboxed(capsys)
    assert run(comma_ws, "invoices", path, "--date-format", "dd/mm/yyyy") == 2
    assert "'dd/mm/yyyy' is not a date format" in unboxed(capsys)


def unboxed(capsys: pytest.CaptureFixture[str]) -> str:
    """Standard error without the frame and line breaks of Click's usage error box."""
    return " ".join(capsys.readouterr().err.replace("│", " ").split())


def test_scientific_notation_in_a_csv_amount(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    path = tmp_path / "invoices.csv"
    path.write_text(
        "invoice_id,debtor_id,issue_date,due_date,amount\n"
        "A,D1,2026-01-05,2026-02-04,1e+05\n"
        "B,D1,2026-01-05,2026-02-04,1.5E3\n"
        "C,D1,2026-01-05,2026-02-04,2.5e-1\n",
        encoding="utf-8",
    )
    assert run(ws, "invoices", path) == 0
    amounts = {k: v[2] for k, v in exported(ws).items()}
    assert amounts == {"A": "100000.00", "B": "1500.00", "C": "0.25"}


def test_scientific_notation_that_is_not_whole_cents_is_a_located_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = workspace(tmp_path)
    path = tmp_path / "invoices.csv"
    path.write_text(
        "invoice_id,debtor_id,issue_date,due_date,amount\n"
        "A,D1,2026-01-05,2026-02-04,1e-3\n"
        "B,D1,2026-01-05,2026-02-04,1e16\n",
        encoding="utf-8",
    )
    assert run(ws, "invoices", path) == 1
    err = capsys.readouterr().err
    assert f"{path}:2:amount: '1e-3' has more decimals than USD allows (2): round it" in err
    assert f"{path}:3:amount: '1e16' is too large: at most 15 digits before the decimals" in err
