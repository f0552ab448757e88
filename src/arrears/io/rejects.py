"""The rejects file: the rows of an import that had problems, as they were, with the reasons.

A rejects CSV has the columns ``row`` (the row number in the original file), then the original
file's columns with the cells exactly as read, then ``reason``: every problem of that row as
``column: message``, joined by ``"; "`` (``reject_reason`` in a credit notes file, whose own
``reason`` column is kept). A user can fix the rows in it and import it again (the
extra ``row`` and ``reason`` columns are ignored by the importer).

:func:`write_rejects` is called once per batch and appends to the same file; the columns of the
first batch written decide the file's header.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from arrears.domain.problems import Problem

REASON_SEPARATOR = "; "


def reasons(problems: Sequence[Problem]) -> pl.DataFrame:
    """One row per row number with problems: ``row`` and ``reason``."""
    by_row: dict[int, list[str]] = {}
    for problem in problems:
        if problem.row is not None:
            text = f"{problem.column}: {problem.message}" if problem.column else problem.message
            by_row.setdefault(problem.row, []).append(text)
    return pl.DataFrame(
        {
            "row": list(by_row),
            "reason": [REASON_SEPARATOR.join(texts) for texts in by_row.values()],
        },
        schema={"row": pl.Int64, "reason": pl.String},
    )


def write_rejects(path: Path, raw: pl.DataFrame, problems: Sequence[Problem]) -> int:
    """Append the rows of ``raw`` that have ``problems`` to the CSV at ``path`` (created with a
    header if absent or empty); returns the number of rows written.

    A problem on a row that is not in ``raw`` (a row the reader could not split into fields) is
    written with empty cells and its reason, so that no rejected row goes unmentioned.
    """
    why = reasons(problems).rename({"reason": "__reason"})
    if why.is_empty():
        return 0
    cells = raw.select(pl.col("row"), pl.all().exclude("row").cast(pl.String))
    rejected = why.join(cells, on="row", how="left").sort("row")
    label = "reject_reason" if "reason" in cells.columns else "reason"
    rejected = rejected.rename({"__reason": label})
    rejected = rejected.select("row", *(c for c in cells.columns if c != "row"), label)
    header = _existing_header(path)
    if header is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        rejected.write_csv(path)
    else:
        aligned = rejected.select(
            pl.col(name) if name in rejected.columns else pl.lit(None, pl.String).alias(name)
            for name in header
        )
        with path.open("a", encoding="utf-8", newline="") as handle:
            handle.write(aligned.write_csv(include_header=False))
    return rejected.height


def _existing_header(path: Path) -> list[str] | None:
    if not path.is_file() or path.stat().st_size == 0:
        return None
    with path.open(encoding="utf-8", newline="") as handle:
        return next(csv.reader(handle), None)
