"""Write the hostile import files that cannot be typed in an editor: Excel and Parquet workbooks
(one whose declared sheet size is a lie), files in Latin-1, UTF-16 or plain binary, a UTF-8 file
with a byte-order mark, one with a Latin-1 row, one with a NUL byte, one with old Mac line endings
(CR only), Parquet files with NUL or Latin-1 bytes in a cell, a CSV named ``.xlsx`` and one with
a 10,000-character cell. Run it from anywhere; the files are committed next to it::

    .venv/bin/python tests/hostile/make_binary.py
"""

from __future__ import annotations

import re
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from openpyxl import Workbook

HERE = Path(__file__).resolve().parent


def excel() -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Invoice Number", "Customer ID", "Invoice Date", "Due Date", "Amount", "Moneda"])
    sheet.append(["INV-1", 1001, datetime(2026, 1, 5), datetime(2026, 2, 4), 0.1 + 0.2, "usd"])
    sheet.append(["INV-2", 1002, date(2026, 1, 6), date(2026, 2, 5), 1250, "EUR"])
    sheet.append(["INV-3", None, "2026-01-07", "2026-02-30", -40.5, "USD"])
    sheet.append([None, None, None, None, None, None])  # an empty row is skipped
    sheet.append(["INV-4", 1004, datetime(2026, 3, 1), datetime(2026, 2, 1), 1e-3, "ABC"])
    sheet.append(["INV-2", 1002, date(2026, 1, 6), date(2026, 2, 5), 1250, "EUR"])
    book.save(HERE / "invoices.excel.xlsx")
    excel_dimension()


def excel_dimension() -> None:
    """Ten invoices, but the sheet's ``<dimension>`` says ``A1:D3`` (a header and two rows), as
    some exporters write it: a reader that trusts it drops rows 4-11."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["invoice_id", "debtor_id", "issue_date", "due_date", "amount"])
    for n in range(1, 11):
        amount = "-1" if n == 10 else "10.00"  # the last row has a problem: it is read
        sheet.append([f"DIM-{n}", "D000001", "2026-01-05", "2026-02-04", amount])
    path = HERE / "invoices.wrong_dimension.xlsx"
    book.save(path)
    with zipfile.ZipFile(path) as original:
        parts = {info: original.read(info) for info in original.infolist()}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as rewritten:
        for info, data in parts.items():
            lying = data
            if info.filename == "xl/worksheets/sheet1.xml":
                lying = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:D3"', data)
                assert b'<dimension ref="A1:D3"' in lying
            rewritten.writestr(info, lying)


def parquet() -> None:
    table = pa.table(
        {
            "payment_id": ["P1", "P2", "P2", "P3", "P3", "P4", "P5"],
            "customer_id": ["D1", "D2", "D2", "D3", "D3", "D4", "D5"],
            "payment_date": [date(2026, 3, d) for d in (1, 2, 2, 3, 3, 4, 5)],
            "amount": pa.array(
                [
                    Decimal(v)
                    for v in ("100.00", "50.00", "50.00", "80.00", "90.00", "-5.00", "1.00")
                ],
                pa.decimal128(12, 2),
            ),
            "currency": ["USD", "USD", "USD", "USD", "USD", "USD", "ABC"],
            "invoice_id": [None, "I1", "I2", "I3", "I4", None, None],
            "allocated_amount": [None, 30.0, 30.0, 80.0, 10.0, None, None],
        }
    )
    pq.write_table(table, HERE / "payments.parquet.parquet")
    nul = pa.table({"debtor_id": ["Z1", "Z2", "Z3"], "name": ["Acme", "Be\x00ta", "Gamma"]})
    pq.write_table(nul, HERE / "debtors.nul_in_cell.parquet")
    names = pa.array([b"Acme", "Pe\u00f1a".encode("latin-1"), b"Gamma"], pa.binary())
    latin1 = pa.table({"debtor_id": ["B1", "B2", "B3"], "name": names})
    pq.write_table(latin1, HERE / "debtors.binary_not_utf8.parquet")


def encodings() -> None:
    spanish = "Código Cliente;Razón Social;País\nC1;Compañía Ñandú;CO\nC2;José Pérez;ES\n"
    (HERE / "debtors.latin1.csv").write_bytes(spanish.encode("latin-1"))
    (HERE / "debtors.latin1_declared_utf8.csv").write_bytes(spanish.encode("latin-1"))
    (HERE / "debtors.bom_spanish.csv").write_bytes(spanish.encode("utf-8-sig"))
    (HERE / "debtors.utf16.csv").write_bytes(spanish.encode("utf-16"))
    (HERE / "debtors.undecodable.csv").write_bytes(
        b"debtor_id,name\nD1,\x00\x01\x02\x03\xff\xfe\x80\x81\nD2,\x1b[31m\n"
    )
    # UTF-8, except row 4, saved by another program in Latin-1
    mixed = "debtor_id,name,region\nM1,Cafè Ñandú,Bogotá\nM2,Niño,Bogotá\n"
    (HERE / "debtors.mixed_encoding.csv").write_bytes(
        mixed.encode("utf-8") + "M3,Peña,Bogotá\n".encode("latin-1") + b"M4,Ana,Lima\n"
    )
    (HERE / "debtors.nul_byte.csv").write_bytes(b"debtor_id,name\nN1,Acme\nN2,Be\x00ta\n")
    (HERE / "debtors.binary.csv").write_bytes(bytes(range(256)) * 8)
    # old Mac line endings: CR only
    (HERE / "debtors.cr_only.csv").write_bytes(b"debtor_id,name,country\rR1,Acme,US\rR2,Beta,XX\r")
    # a CSV file renamed .xlsx
    (HERE / "debtors.csv_renamed.xlsx").write_bytes(b"debtor_id,name\nX1,Acme\n")
    # a line break and a right-to-left override inside cells printed in messages
    (HERE / "debtors.line_break_in_cell.csv").write_bytes(
        'debtor_id,name,country\nL1,Acme,"U\r\nS"\nL2,Beta,"\u202eSU"\n'.encode()
    )


def long_fields() -> None:
    rows = [
        "debtor_id,name,address,attr_notes",
        f"D1,{'x' * 10_000},Calle 1,ok",
        f"D2,Beta,{'y' * 2_000},ok",
        f"D3,Gamma,{'z' * 2_001},{'n' * 1_001}",
    ]
    (HERE / "debtors.long_field.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


if __name__ == "__main__":
    excel()
    parquet()
    encodings()
    long_fields()
