"""Opening a user's file: its header and its rows as text, in batches of bounded size.

One reader per format, chosen by extension: CSV (``pyarrow.csv.open_csv``, streaming, encoding and
delimiter detected from the first chunk), Excel ``.xlsx`` (openpyxl in read-only mode, cells
turned into text) and Parquet (``iter_batches``, columns cast to text). Every reader yields
``(frame, problems)`` pairs whose frame has the file's headers as columns (all ``pl.String``) and
``row``, the record's row number (header = 1); the problems are rows the reader had to skip.
Excel and Parquet frames also have, for each column with typed cells (numbers, dates), a
``typed_column`` of the cells' kinds (see :mod:`arrears.io.cells`).

Problems that stop a file from being read at all raise :class:`ProblemsFound` from
:func:`open_source`, before anything is yielded: the file cannot be decoded (each line that is not
in its encoding named), it holds a control byte, it is text named ``.xlsx``. Problems of the file
as a whole that show further on are raised when the reader reaches them (a line that does not
decode) or after its last batch (a quote never closed; a NUL, or in Parquet bytes that are not
UTF-8, in a cell, whose rows are left out of the batches).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from openpyxl import load_workbook

from arrears.domain.problems import Problem, ProblemsFound
from arrears.io.batches import ReadOptions
from arrears.io.cells import (
    DATE,
    NUMBER,
    TEXT,
    TYPED_PREFIX,
    cell_kind,
    excel_text,
    float_texts,
    typed_column,
)
from arrears.io.encoding import (
    control_byte_after,
    decode_head,
    detect_encoding,
    undecodable_lines,
)
from arrears.io.headers import frame_names

DELIMITERS = (",", ";", "|", "\t")
HEAD_BYTES = 1 << 20  # the first chunk: encoding and delimiter are detected on it
Batch = tuple[pl.DataFrame, list[Problem]]


class Source(Protocol):
    headers: list[str]

    def batches(self, rows: int) -> Iterator[Batch]: ...


def open_source(path: Path, options: ReadOptions, source: str) -> Source:
    """The reader for ``path`` by its extension; raises :class:`ProblemsFound` if unreadable."""
    if not path.is_file():
        raise ProblemsFound([Problem(source, None, None, "no such file")])
    suffix = path.suffix.lower()
    if suffix in {".csv", ".txt", ".tsv"}:
        return CsvSource.open(path, options, source)
    if suffix == ".xlsx":
        return ExcelSource.open(path, source)
    if suffix == ".parquet":
        return ParquetSource.open(path, source)
    raise ProblemsFound(
        [Problem(source, None, None, f"unknown file type {suffix!r}: use .csv, .xlsx or .parquet")]
    )


def sniff_delimiter(header_line: str) -> str:
    """The candidate delimiter that occurs most often in the header line (``,`` if none)."""
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _empty(source: str) -> ProblemsFound:
    return ProblemsFound([Problem(source, None, None, "the file is empty: expected a header row")])


@dataclass(slots=True)
class CsvSource:
    path: Path
    source: str
    headers: list[str]
    encoding: str
    delimiter: str
    skipped: list[Problem] = field(default_factory=list)
    _skipped_rows: list[int] = field(default_factory=list)
    #: problems with the file as a whole found on the way (a quote never closed)
    broken: list[Problem] = field(default_factory=list)

    @classmethod
    def open(cls, path: Path, options: ReadOptions, source: str) -> CsvSource:
        with path.open("rb") as handle:
            head = handle.read(HEAD_BYTES)
        if not head.strip():
            raise _empty(source)
        longer = len(head) == HEAD_BYTES
        encoding = detect_encoding(head, options.encoding, source, path if longer else None)
        if longer:
            control = control_byte_after(path, head, source)
            if control is not None:
                raise ProblemsFound([control])
        try:
            text = decode_head(head, encoding)
        except UnicodeDecodeError as exc:  # the rows that are not in the file's encoding
            raise ProblemsFound(undecodable_lines(path, encoding, source)) from exc
        first_line = text.splitlines()[0] if text.splitlines() else ""
        delimiter = options.delimiter.replace("tab", "\t")
        if delimiter == "auto":
            delimiter = sniff_delimiter(first_line)
        # newline=None: CR, LF and CRLF all end a line (old Mac files end them with CR only)
        header = next(csv.reader(io.StringIO(text, newline=None), delimiter=delimiter), [])
        if not any(h.strip() for h in header):
            raise _empty(source)
        return cls(path, source, [h.strip() for h in header], encoding, delimiter)

    def _on_invalid(self, row: pacsv.InvalidRow) -> str:
        line = row.number
        self._skipped_rows.append(line if line is not None else -1)
        lines = row.text.splitlines()
        if len(lines) > 1 and row.text.count('"') % 2:  # a quote that is never closed
            last = "" if line is None else f" to {line + len(lines) - 1}"
            self.broken.append(
                Problem(
                    self.source,
                    line,
                    None,
                    f"a quote opened in this row is never closed: lines {line}{last} (the end of "
                    "the file) were read as one cell; close the quote or remove it",
                )
            )
            return "skip"
        self.skipped.append(
            Problem(
                self.source,
                line,
                None,
                f"has {_fields(row.actual_columns)} but the header has {row.expected_columns}: "
                + self._delimiter_hint(row),
            )
        )
        return "skip"

    def _delimiter_hint(self, row: pacsv.InvalidRow) -> str:
        """What to do about a row with the wrong number of fields: another delimiter if the row
        has the header's number of fields with it, else the delimiter and the quotes."""
        for other in DELIMITERS:
            if other != self.delimiter and row.text.count(other) + 1 == row.expected_columns:
                return (
                    f"the row is delimited by {_show(other)} and the header by "
                    f"{_show(self.delimiter)}: use one delimiter in the whole file"
                )
        return f"check the delimiter ({_show(self.delimiter)}) and the quotes of this row"

    def batches(self, rows: int, only: Collection[str] | None = None) -> Iterator[Batch]:
        """``only``: the columns (frame names) to convert, for a pass that needs a few of them
        (``whole_records``); every row is still parsed, so rows and problems are the same."""
        seen = 0
        pending = pl.DataFrame()
        names = frame_names(self.headers)
        keep = None if only is None else [i for i, n in enumerate(names) if n in only]
        for record_batch in self._record_batches(rows, keep):
            frame = pl.from_arrow(pa.Table.from_batches([record_batch]))
            assert isinstance(frame, pl.DataFrame)
            pending = pl.concat([pending, frame]) if pending.width else frame
            while pending.height >= rows:
                chunk, pending = pending.head(rows), pending.slice(rows)
                yield self._numbered(chunk, seen, keep), self._take_skipped()
                seen += chunk.height
        if pending.height or self.skipped:
            yield self._numbered(pending, seen, keep), self._take_skipped()
        if self.broken:
            raise ProblemsFound(self.broken)

    def _record_batches(self, rows: int, keep: list[int] | None) -> Iterator[pa.RecordBatch]:
        """pyarrow's batches; a decoding error further on than the first chunk is a problem."""
        names = [f"c{i}" for i in range(len(self.headers))]
        include = names if keep is None else [names[i] for i in keep]
        try:
            reader = pacsv.open_csv(
                self.path,
                read_options=pacsv.ReadOptions(
                    encoding=self.encoding,
                    column_names=names,
                    skip_rows=1,
                    block_size=max(1 << 16, min(rows * 64, 1 << 26)),
                    use_threads=False,
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=self.delimiter,
                    newlines_in_values=True,
                    invalid_row_handler=self._on_invalid,
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(include, pa.string()),
                    include_columns=include,
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
            yield from reader
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            lines = undecodable_lines(self.path, self.encoding, self.source)
            if lines:  # a row that is not in the file's encoding, far into the file
                raise ProblemsFound(lines) from exc
            hint = (
                "set import.encoding = 'latin-1' if the file is Latin-1, or save it as UTF-8"
                if self.encoding == "utf8"
                else "check import.encoding and that the file is one CSV table"
            )
            message = f"cannot be read further on ({exc}): {hint}"
            raise ProblemsFound([Problem(self.source, None, None, message)]) from exc

    def _numbered(self, frame: pl.DataFrame, seen: int, keep: list[int] | None) -> pl.DataFrame:
        """Rename ``c0..cN`` to the headers; number rows around the skipped (invalid) ones."""
        kept = range(len(self.headers)) if keep is None else keep
        if not frame.width:  # every row of the batch was skipped
            frame = pl.DataFrame(schema=dict.fromkeys((f"c{i}" for i in kept), pl.String))
        row = pl.int_range(seen + 2, seen + 2 + frame.height, dtype=pl.Int64)
        frame = frame.with_columns(row.alias("row"))
        for line in sorted(n for n in self._skipped_rows if n > 0):
            frame = frame.with_columns(pl.col("row") + (pl.col("row") >= line).cast(pl.Int64))
        names = frame_names(self.headers)
        return frame.rename({f"c{i}": names[i] for i in kept})

    def _take_skipped(self) -> list[Problem]:
        taken, self.skipped = self.skipped, []
        return taken


def _fields(count: int) -> str:
    return "1 field" if count == 1 else f"{count} fields"


def _show(delimiter: str) -> str:
    return "tab" if delimiter == "\t" else repr(delimiter)


@dataclass(slots=True)
class ExcelSource:
    path: Path
    source: str
    headers: list[str]

    @classmethod
    def open(cls, path: Path, source: str) -> ExcelSource:
        rows = _excel_rows(path, source)
        values = next(rows, None)
        rows.close()  # closes the workbook
        first = None if values is None else [excel_text(v) for v in values]
        if first is None or not any(first):
            raise _empty(source)
        while first and first[-1] == "":
            first = first[:-1]
        return cls(path, source, [h.strip() for h in first])

    def batches(self, rows: int) -> Iterator[Batch]:
        return _without_nul(self._batches(rows), self.source)

    def _batches(self, rows: int) -> Iterator[Batch]:
        width = len(self.headers)
        names = [f"c{i}" for i in range(width)]
        buffer: list[list[str]] = []
        kinds: list[list[int]] = []
        numbers: list[int] = []
        for number, values in enumerate(_excel_rows(self.path, self.source), start=1):
            cells = [excel_text(v) for v in values]
            if number == 1 or not any(cells):
                continue
            buffer.append((cells + [""] * width)[:width])
            kinds.append(([cell_kind(v) for v in values] + [TEXT] * width)[:width])
            numbers.append(number)
            if len(buffer) >= rows:
                yield self._frame(buffer, kinds, numbers, names), []
                buffer, kinds, numbers = [], [], []
        if buffer:
            yield self._frame(buffer, kinds, numbers, names), []

    def _frame(
        self, buffer: list[list[str]], kinds: list[list[int]], numbers: list[int], names: list[str]
    ) -> pl.DataFrame:
        """The cells as text, ``row``, and the kinds of the columns that have typed cells."""
        frame = pl.DataFrame(buffer, schema=dict.fromkeys(names, pl.String), orient="row")
        typed = pl.DataFrame(kinds, schema=dict.fromkeys(names, pl.UInt8), orient="row")
        headers = frame_names(self.headers)
        frame = frame.with_columns(
            pl.Series("row", numbers, dtype=pl.Int64),
            *(
                typed[name].alias(typed_column(header))
                for name, header, kind in zip(names, headers, typed.max().row(0), strict=True)
                if kind
            ),
        )
        return frame.rename(dict(zip(names, headers, strict=True)))


def _excel_rows(path: Path, source: str) -> Generator[tuple[object, ...], None, None]:
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise ProblemsFound([Problem(source, None, None, _not_a_workbook(path, exc))]) from exc
    try:
        sheet = book.worksheets[0]
        # Read-only mode reads only the cells inside the sheet's declared <dimension>, which
        # some programs write wrong (A1:D3 for ten rows): read every row the sheet has instead.
        sheet.reset_dimensions()
        yield from sheet.iter_rows(values_only=True)
    finally:
        book.close()


def _not_a_workbook(path: Path, error: Exception) -> str:
    with path.open("rb") as handle:
        head = handle.read(4096)
    try:
        text = b"\x00" not in head and bool(decode_head(head, "utf8").strip())
    except UnicodeDecodeError:
        text = False
    if text:
        return "is not an Excel workbook but text (CSV?) named .xlsx: rename it to .csv"
    return f"is not a readable .xlsx workbook ({error})"


@dataclass(slots=True)
class ParquetSource:
    file: pq.ParquetFile
    source: str
    headers: list[str]
    #: cells of binary columns that are not UTF-8 text (their rows are not yielded)
    broken: list[Problem] = field(default_factory=list)

    @classmethod
    def open(cls, path: Path, source: str) -> ParquetSource:
        try:
            file = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise ProblemsFound(
                [Problem(source, None, None, f"is not a readable Parquet file ({exc})")]
            ) from exc
        return cls(file, source, list(file.schema_arrow.names))

    def batches(self, rows: int) -> Iterator[Batch]:
        return _without_nul(self._batches(rows), self.source, self.broken)

    def _batches(self, rows: int) -> Iterator[Batch]:
        seen = 0
        names = frame_names(self.headers)
        for record_batch in self.file.iter_batches(batch_size=rows):
            frame = pl.from_arrow(pa.Table.from_batches([record_batch]))
            assert isinstance(frame, pl.DataFrame)
            frame.columns = names
            row = pl.int_range(seen + 2, seen + 2 + frame.height, dtype=pl.Int64)
            frame = frame.with_columns(row.alias("row"))
            seen += frame.height
            for name in [n for n in names if frame[n].dtype == pl.Binary]:
                frame = self._utf8_cells(frame, name)
            kinds = {name: _kind(frame[name].dtype) for name in names}
            yield (
                frame.select(
                    *(_as_text(frame[name]) for name in names),
                    "row",
                    *(
                        pl.lit(kind, pl.UInt8).alias(typed_column(name))
                        for name, kind in kinds.items()
                        if kind
                    ),
                ),
                [],
            )

    def _utf8_cells(self, frame: pl.DataFrame, name: str) -> pl.DataFrame:
        """A binary column as text; the rows of cells that are not UTF-8 noted and left out."""
        try:
            return frame.with_columns(pl.col(name).cast(pl.String))
        except pl.exceptions.ComputeError:  # a cell is not UTF-8: find which, value by value
            pass
        cells = frame[name].to_list()
        bad = pl.Series(
            "row", [r for r, v in zip(frame["row"], cells, strict=True) if _not_utf8(v)]
        )
        self.broken.extend(
            Problem(
                self.source,
                row,
                name,
                "is not UTF-8 text: write the column's text as UTF-8 strings",
            )
            for row in bad
        )
        kept = frame.filter(~pl.col("row").is_in(bad.implode()))
        return kept.with_columns(pl.col(name).cast(pl.String))


def _not_utf8(value: bytes | None) -> bool:
    try:
        value is None or value.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _without_nul(
    batches: Iterator[Batch], source: str, broken: list[Problem] | None = None
) -> Iterator[Batch]:
    """``batches`` of typed cells (Excel, Parquet) without the rows of a cell that holds NUL,
    each such cell raised as a problem of the file after the last batch: a CSV file with one is
    refused the same way, and PostgreSQL refuses NUL in text (so the row is not loaded).
    ``broken``: other problems of the file the reader notes on the way, raised with them."""
    found: list[Problem] = []
    for frame, skipped in batches:
        columns = [c for c in frame.columns if c != "row" and not c.startswith(TYPED_PREFIX)]
        hits = frame.select(pl.col(columns).str.contains("\x00", literal=True).any()).row(0)
        bad = [column for column, hit in zip(columns, hits, strict=True) if hit]
        for column in bad:
            rows = frame.filter(pl.col(column).str.contains("\x00", literal=True))["row"]
            found.extend(
                Problem(
                    source,
                    row,
                    column,
                    "holds the character NUL (U+0000), which text cannot hold: remove it",
                )
                for row in rows
            )
        nul = pl.any_horizontal(pl.col(bad).str.contains("\x00", literal=True))
        yield (frame.filter(~nul) if bad else frame), skipped
    found += broken or []
    if found:
        raise ProblemsFound(sorted(found, key=lambda p: (p.row or 0, p.column or "")))


def _kind(dtype: pl.DataType) -> int:
    """How a Parquet column's cells are typed (``arrears.io.cells``)."""
    if dtype.is_numeric():  # integers, floats, decimals
        return NUMBER
    if dtype == pl.Date or isinstance(dtype, pl.Datetime):
        return DATE
    return TEXT


def _as_text(series: pl.Series) -> pl.Series:
    """A Parquet column as text: dates ISO, floats as ``float_texts``, nulls empty."""
    dtype = series.dtype
    if dtype.is_float():
        text = float_texts(series)
    elif isinstance(dtype, pl.Datetime):
        text = series.dt.date().cast(pl.String)
    elif dtype == pl.Boolean:
        text = series.cast(pl.String)
    elif isinstance(dtype, pl.List):
        text = series.cast(pl.List(pl.String)).list.join(";")
    else:
        text = series.cast(pl.String)
    return text.fill_null("").alias(series.name)
