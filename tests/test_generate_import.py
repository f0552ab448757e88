"""The generated files pass the importer's file-level checks with no problem and no mapping."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from arrears.demo.files import FileFormat
from arrears.demo.generate import generate
from arrears.domain.columns import Kind

reading = pytest.importorskip("arrears.io.reading")
batches = pytest.importorskip("arrears.io.batches")


@pytest.mark.parametrize("fmt", list(FileFormat))
def test_the_reader_accepts_every_row(tmp_path: Path, fmt: FileFormat) -> None:
    stats = generate(300, 6, 3, date(2026, 3, 31), tmp_path, fmt=fmt)
    expected = {Kind.DEBTORS: 300, Kind.INVOICES: stats.instalments, Kind.PAYMENTS: stats.payments}
    for kind, rows in expected.items():
        path = tmp_path / f"{kind.value}.{fmt.value}"
        read = list(reading.read_file(path, kind, batches.ReadOptions()))
        assert [str(p) for b in read for p in b.problems] == []
        assert sum(b.valid.height for b in read) == rows
