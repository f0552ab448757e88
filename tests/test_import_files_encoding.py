"""``arrears import`` of files whose encoding changes on the way: the same answer wherever the bad
byte is (in the first MiB that decides the encoding, or far past it, past the first batch), and
the file refused as a whole, with or without ``--skip-invalid`` (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import text

from arrears.cli.app import main
from arrears.store.database import connect

_NOTHING = "1 problem(s): nothing was imported"
NOT_UTF8 = (
    "is not UTF-8 text (byte 0xE9, 'é' in Latin-1, at byte 8 of the line): save the file as "
    "UTF-8, or set import.encoding = 'latin-1' if all of it is Latin-1"
)


@pytest.fixture
def ws(tmp_path: Path, store_url: str) -> Path:
    root = tmp_path / "ws"
    assert main(["init", str(root), "--database-url", store_url]) == 0
    (root / "store_url").write_text(store_url, encoding="utf-8")
    return root


def _debtors(ws: Path) -> list[tuple[str, str]]:
    engine = connect((ws / "store_url").read_text(encoding="utf-8"))
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT external_id, name FROM debtor")).all()
    engine.dispose()
    return sorted((str(i), str(n)) for i, n in rows)


def _file(path: Path, padding: int, bad_at: int | None = None) -> Path:
    """UTF-8 debtors (accents on the first rows), ``padding`` ASCII rows, then a row in Latin-1
    at line ``bad_at`` (or after the padding)."""
    rows = [b"debtor_id,name", "D1,Bogotá".encode(), "D2,Peña".encode()]
    rows += [f"P{n:07d},Acme".encode() for n in range(padding)]
    bad = "D3,Andrés".encode("latin-1")
    rows.insert(bad_at - 1 if bad_at else len(rows), bad)
    rows.append(b"D4,Lima")
    path.write_bytes(b"\n".join(rows) + b"\n")
    return path


def _import(ws: Path, path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> list[str]:
    assert main(["-w", str(ws), "import", "debtors", str(path), *extra]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "import applied" not in out
    return [line.removeprefix("error: ") for line in err.splitlines()]


@pytest.mark.parametrize("skip_invalid", [False, True])
def test_the_same_latin1_row_is_the_same_problem_wherever_it_is(
    ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], skip_invalid: bool
) -> None:
    extra = ["--skip-invalid", "--rejects", str(tmp_path / "r.csv")] if skip_invalid else []
    early = _file(tmp_path / "early.csv", padding=80_000, bad_at=4)
    late = _file(tmp_path / "late.csv", padding=80_000)  # 1.1 MB: past the first MiB
    assert late.stat().st_size > 1 << 20
    printed_early = _import(ws, early, capsys, *extra)
    printed_late = _import(ws, late, capsys, *extra)
    assert f"{early}:4: {NOT_UTF8}" in printed_early
    assert f"{late}:80004: {NOT_UTF8}" in printed_late
    assert len(printed_early) == len(printed_late) == 2  # the problem, then "nothing imported"
    assert _debtors(ws) == []


def test_a_latin1_row_in_a_first_mib_without_utf8_is_the_same_problem(
    ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first MiB is ASCII but for the Latin-1 row; the UTF-8 accents come later: the file
    is still UTF-8 with one broken line, not Latin-1 (which would garble the accents)."""
    path = tmp_path / "ascii_head.csv"
    rows = [b"debtor_id,name", "D3,Andrés".encode("latin-1")]
    rows += [f"P{n:07d},Acme".encode() for n in range(80_000)]
    rows += ["D1,Bogotá".encode(), "D2,Peña".encode()]
    path.write_bytes(b"\n".join(rows) + b"\n")
    assert _import(ws, path, capsys) == [f"{path}:2: {NOT_UTF8}", _NOTHING]
    assert _debtors(ws) == []


def test_a_bad_byte_past_the_first_batch_imports_nothing_with_skip_invalid(
    ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """150,001 rows, the Latin-1 one after the first batch of 100,000: not 100,000 imported."""
    path = _file(tmp_path / "big.csv", padding=150_000)
    rejects = tmp_path / "rejects.csv"
    printed = _import(ws, path, capsys, "--skip-invalid", "--rejects", str(rejects))
    assert f"{path}:150004: {NOT_UTF8}" in printed
    assert _debtors(ws) == []


def test_a_nul_byte_past_the_first_mib_is_located_before_anything_is_loaded(
    ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """PostgreSQL refuses a NUL in text: it is reported like one in the first MiB, not a
    traceback from the database."""
    path = tmp_path / "nul.csv"
    rows = [b"debtor_id,name", *(f"P{n:07d},Acme".encode() for n in range(80_000))]
    path.write_bytes(b"\n".join([*rows, b"N1,Be\x00ta", b"N2,Gamma"]) + b"\n")
    printed = _import(ws, path, capsys, "--skip-invalid", "--rejects", str(tmp_path / "r.csv"))
    assert printed[0] == (
        f"{path}:80002: holds the control byte 0x00, which text does not have: is it really a "
        "CSV file? Save it as CSV UTF-8"
    )
    assert _debtors(ws) == []


def test_a_nul_in_a_parquet_cell_is_located_not_a_database_error(
    ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "nul.parquet"
    pq.write_table(pa.table({"debtor_id": ["Z1", "Z2"], "name": ["Be\x00ta", "Gamma"]}), path)
    assert _import(ws, path, capsys) == [
        f"{path}:2:name: holds the character NUL (U+0000), which text cannot hold: remove it",
        _NOTHING,
    ]
    assert _debtors(ws) == []


def test_a_latin1_file_imports_with_the_encoding_set(
    ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    toml = ws / "arrears.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(text.replace('encoding = "auto"', 'encoding = "latin-1"'), encoding="utf-8")
    path = tmp_path / "latin1.csv"
    path.write_bytes("debtor_id,name\nD1,Peña\nD2,Andrés\n".encode("latin-1"))
    args = ["-w", str(ws), "import", "debtors", str(path), "--format", "json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["created"] == 2
    assert _debtors(ws) == [("D1", "Peña"), ("D2", "Andrés")]
