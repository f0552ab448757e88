"""Reading a user's file into validated batches: :func:`read_file`.

The data flow (see ``docs/io.md``):

1. :mod:`~arrears.io.sources` opens the file by extension and detects its encoding and delimiter;
2. :mod:`~arrears.io.headers` matches its headers to the kind's canonical columns; anything wrong
   with the file as a whole is raised at once as :class:`ProblemsFound`, before any batch;
3. each batch of raw text rows is cleaned (trimmed, empty -> null, defaults filled in), then every
   column is checked and typed by :mod:`~arrears.io.checks` in one Polars pass;
4. rules across rows and batches (duplicate ids, lines of one document, issue before due) come
   from :mod:`~arrears.io.documents`;
5. the batch goes out as a :class:`ValidatedBatch`: the raw rows, the typed rows without
   problems, and every problem found, each as ``file:row:column: message``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from arrears.domain.columns import COLUMNS, ID_COLUMN, Column, Kind, Type
from arrears.domain.money import exponent, is_currency
from arrears.domain.problems import Problem, ProblemsFound
from arrears.io.batches import ReadOptions, ValidatedBatch
from arrears.io.cells import DATE, NUMBER, TYPED_PREFIX, clean, typed_column, unclean
from arrears.io.checks import (
    amount_minor,
    amount_value,
    attribute,
    check,
    phone_numbers,
    too_long,
)
from arrears.io.documents import DocumentRules
from arrears.io.headers import Headers, match_headers, unknown_warnings
from arrears.io.identity import SEPARATOR
from arrears.io.sources import open_source

_PROBLEM = "__problem_"
_KIND_OF = {Type.DATE: DATE, Type.AMOUNT: NUMBER}  # the typed cells each type reads as typed
_GENERATED = re.compile(r"^column_\d+$")  # the frame's name of an empty header (frame_names)


def read_file(
    path: Path, kind: Kind, options: ReadOptions, warnings: list[Problem] | None = None
) -> Iterator[ValidatedBatch]:
    """Read, check and type ``path`` as a file of ``kind``, in batches of ``options.batch_rows``.

    Raises :class:`ProblemsFound` with every file-level problem (unreadable, no header, missing
    or duplicate columns) before yielding anything; row problems travel in each batch.
    ``warnings``: receives, once the header is read, one warning per column the file has that
    is ignored (:func:`~arrears.io.headers.unknown_warnings`): not a problem, nothing is refused.
    """
    source = str(path)
    reader = open_source(path, options, source)
    headers = match_headers(reader.headers, kind, options.mapping, source)
    if warnings is not None:
        warnings.extend(unknown_warnings(headers, kind, source))
    validator = BatchValidator(kind, headers, options, source)
    for raw, skipped in reader.batches(options.batch_rows):
        batch = validator.validate(raw)
        batch.problems[:0] = skipped
        yield batch
    if validator.broken:  # found on the way, such as the header row again (two files joined)
        raise ProblemsFound(validator.broken)


def defaults(kind: Kind, options: ReadOptions) -> dict[str, str]:
    """The value of each column when it is absent or its cell is empty."""
    values = {c.name: c.default for c in COLUMNS[kind] if c.default is not None}
    values |= {
        "country": options.default_country,
        "timezone": options.default_timezone,
        "currency": options.base_currency,
        "portfolio": options.default_portfolio,
    }
    return {name: value for name, value in values.items() if name in _names(kind)}


def _names(kind: Kind) -> set[str]:
    return {c.name for c in COLUMNS[kind]}


class BatchValidator:
    """Checks the batches of one file; remembers ids across them."""

    def __init__(self, kind: Kind, headers: Headers, options: ReadOptions, source: str) -> None:
        self.kind = kind
        self.columns: tuple[Column, ...] = COLUMNS[kind]
        self.headers = headers
        self.options = options
        self.source = source
        self.rules = DocumentRules(kind)
        self._defaults = defaults(kind, options)
        #: problems with the file as a whole, raised by ``read_file`` after its last batch
        self.broken: list[Problem] = []

    def validate(self, raw: pl.DataFrame) -> ValidatedBatch:
        raw = self._without_repeated_header(raw)
        frame = self._cleaned(raw)
        frame = self._checked(frame)
        rules = self.rules.problems(frame)
        frame = frame.hstack(rules.select(pl.all().name.prefix("__rule_"))).with_columns(
            pl.coalesce(pl.col(f"{_PROBLEM}{name}"), pl.col(f"__rule_{name}")).alias(
                f"{_PROBLEM}{name}"
            )
            for name in rules.columns
        )
        problems = self._problems(frame)
        bad_rows = {p.row for p in problems}
        valid = frame.filter(~pl.col("row").is_in(list(bad_rows))).select(self._output())
        raw = raw.drop(c for c in raw.columns if c.startswith(TYPED_PREFIX))
        return ValidatedBatch(self.kind, self.source, raw, valid, problems, self.record_keys(raw))

    def _without_repeated_header(self, raw: pl.DataFrame) -> pl.DataFrame:
        """``raw`` without rows that repeat the header row, each noted in ``broken``: a file
        made by joining two files, whose second header would otherwise be read as data."""
        names = [n for n in self.headers.names if not _GENERATED.match(n)]
        if not names or not raw.height:
            return raw
        # a cheap look at the first column (no copy of any cell), then the whole row
        if not raw.select(pl.col(names[0]).str.contains(names[0], literal=True).any()).item():
            return raw
        repeated = pl.all_horizontal(pl.col(n).str.strip_chars() == n for n in names)
        rows = raw.filter(repeated).get_column("row")
        if rows.is_empty():
            return raw
        self.broken.extend(
            Problem(
                self.source,
                row,
                None,
                "repeats the header row: were two files joined into one? Remove this row",
            )
            for row in rows
        )
        return raw.filter(~repeated)

    def record_keys(self, raw: pl.DataFrame) -> pl.Series:
        """The record key (portfolio and id, as the document rules key them) of every raw row,
        null where the id is empty: cheap enough for a first pass over a whole file."""
        present = self.headers.columns

        def cell(name: str) -> pl.Expr:
            return clean(pl.col(present[name])) if name in present else pl.lit(None, pl.String)

        portfolio = cell("portfolio").fill_null(pl.lit(self._defaults["portfolio"]))
        ident = cell(ID_COLUMN[self.kind])
        return raw.select(
            pl.concat_str([portfolio, ident], separator=SEPARATOR).alias("key")
        ).to_series()

    def _cleaned(self, raw: pl.DataFrame) -> pl.DataFrame:
        """One text column per canonical column (null when empty), long cells noted."""
        present = self.headers.columns
        headers = [present[c.name] for c in self.columns if c.name in present]
        headers += self.headers.attributes.values()
        needed = raw.select(unclean(headers)).row(0, named=True) if headers else {}

        def cleaned(header: str) -> pl.Expr:
            return clean(pl.col(header)) if needed[header] else pl.col(header)

        text = [
            cleaned(present[c.name]).alias(c.name)
            if c.name in present
            else pl.lit(None, pl.String).alias(c.name)
            for c in self.columns
        ]
        attrs = [cleaned(h).alias(f"__attr_{h}") for h in self.headers.attributes.values()]
        typed = [
            pl.col(typed_column(present[c.name])).alias(f"__typed_{c.name}")
            for c in self.columns
            if c.type in _KIND_OF and c.name in present and typed_column(present[c.name]) in raw
        ]
        frame = raw.select(*text, *attrs, *typed, "row")
        long_cells = [
            too_long(c.name, pl.col(c.name)).alias(f"__long_{c.name}")
            for c in self.columns
            if c.name in present
        ]
        long_attrs = [
            too_long(h, pl.col(f"__attr_{h}")).alias(f"__long_attr_{h}")
            for h in self.headers.attributes.values()
        ]
        filled = [pl.col(n).fill_null(pl.lit(v)) for n, v in self._defaults.items()]
        frame = frame.with_columns(*long_cells, *long_attrs, *filled)
        declared = {  # attributes of a declared type: checked, and stored written one way
            header: attribute(pl.col(f"__attr_{header}"), kind, self.options)
            for name, kind in self.headers.types.items()
            for header in (self.headers.attributes[name],)
        }
        if declared:
            frame = frame.with_columns(
                expr
                for h, (value, problem) in declared.items()
                for expr in (
                    value.alias(f"__attr_{h}"),
                    pl.coalesce(pl.col(f"__long_attr_{h}"), problem).alias(f"__long_attr_{h}"),
                )
            )
        if self.kind is Kind.INVOICES:
            frame = frame.with_columns(pl.col("number").fill_null(pl.col("invoice_id")))
        return frame

    def _checked(self, frame: pl.DataFrame) -> pl.DataFrame:
        currencies = frame.get_column("currency").str.to_uppercase().unique().drop_nulls()
        exponents = {c: exponent(c) for c in currencies if is_currency(c)}
        frame = frame.with_columns(
            pl.col("currency")
            .str.to_uppercase()
            .replace_strict(exponents, default=None, return_dtype=pl.Int64)
            .alias("__exponent")
        )
        dates = [c.name for c in self.columns if c.type is Type.DATE]
        widest = frame.select(pl.col(dates).str.len_bytes().max()).row(0) if dates else ()
        short = {name for name, width in zip(dates, widest, strict=True) if (width or 0) <= 10}
        typed = self._typed(frame)
        amounts = [c for c in self.columns if c.type is Type.AMOUNT]
        # scientific notation (1e+05) costs a few more steps: only in a column with an e
        names = [c.name for c in amounts]
        has_e = frame.select(pl.col(names).str.contains("[eE]").any()).row(0) if names else ()
        scientific = {name for name, e in zip(names, has_e, strict=True) if e}
        checks = [
            check(
                c,
                self.options,
                short_dates=c.name in short,
                typed=typed.get(c.name, False),
                scientific=c.name in scientific,
            )
            for c in self.columns
        ]
        frame = frame.with_columns(
            *(
                value
                for c, (value, _) in zip(self.columns, checks, strict=True)
                if c not in amounts
            ),
            *(
                amount_minor(
                    c, self.options, typed.get(c.name, False), scientific=c.name in scientific
                ).alias(f"__minor_{c.name}")
                for c in amounts
            ),
            *(
                pl.coalesce(pl.col(f"__long_{c.name}"), problem).alias(f"{_PROBLEM}{c.name}")
                if c.name in self.headers.columns
                else problem.alias(f"{_PROBLEM}{c.name}")
                for c, (_, problem) in zip(self.columns, checks, strict=True)
            ),
        )
        if amounts:  # each amount's value once its problems are known (computed once)
            frame = frame.with_columns(
                amount_value(pl.col(f"__minor_{c.name}"), pl.col(f"{_PROBLEM}{c.name}")).alias(
                    c.field
                )
                for c in amounts
            ).drop(f"__minor_{c.name}" for c in amounts)
        if "phone" in frame.columns:
            frame = self._phones(frame)
        return frame

    def _typed(self, frame: pl.DataFrame) -> dict[str, bool | pl.Expr]:
        """Per date or amount column with typed cells of its type (an Excel date in a date
        column, a number in an amount column): ``True`` when all its cells are (or are empty),
        else the expression that says which are. A column without any is read as text."""
        names = [c.name for c in self.columns if f"__typed_{c.name}" in frame.columns]
        if not names:
            return {}
        kinds = {c.name: _KIND_OF[c.type] for c in self.columns if c.name in names}
        found = frame.select(
            pl.struct(
                ((pl.col(f"__typed_{n}") == kinds[n]) | pl.col(n).is_null()).all().alias("all"),
                (pl.col(f"__typed_{n}") == kinds[n]).any().alias("any"),
            ).alias(n)
            for n in names
        ).row(0, named=True)
        typed: dict[str, bool | pl.Expr] = {}
        for name in names:
            if found[name]["all"]:
                typed[name] = True
            elif found[name]["any"]:
                typed[name] = pl.col(f"__typed_{name}") == kinds[name]
        return typed

    def _phones(self, frame: pl.DataFrame) -> pl.DataFrame:
        lookup = phone_numbers(frame)
        frame = frame.join(lookup, on=["phone", "country"], how="left", maintain_order="left")
        return frame.with_columns(
            pl.col("__phone").alias("phone"),
            pl.coalesce(pl.col(f"{_PROBLEM}phone"), pl.col("__phone_problem")).alias(
                f"{_PROBLEM}phone"
            ),
        )

    def _problems(self, frame: pl.DataFrame) -> list[Problem]:
        """Every problem of the batch, by row and then in the file's column order."""
        parts: list[pl.DataFrame] = []
        order = {h: i for i, h in enumerate(self.headers.names)}
        id_header = self.headers.columns.get(ID_COLUMN[self.kind])
        for column in self.columns:
            # rules may speak of an absent column (an invoice's default instalment): show the id
            header = self.headers.columns.get(column.name, id_header)
            parts.append(self._problem_rows(frame, f"{_PROBLEM}{column.name}", header, order))
        for header in self.headers.attributes.values():
            parts.append(self._problem_rows(frame, f"__long_attr_{header}", header, order))
        found = pl.concat(parts).sort("row", "position", "message")
        return [
            Problem(self.source, row, header, message)
            for row, header, message in found.select("row", "header", "message").iter_rows()
        ]

    @staticmethod
    def _problem_rows(
        frame: pl.DataFrame, name: str, header: str | None, order: dict[str, int]
    ) -> pl.DataFrame:
        return frame.filter(pl.col(name).is_not_null()).select(
            "row",
            pl.lit(header, pl.String).alias("header"),
            pl.lit(order.get(header or "", len(order)), pl.Int64).alias("position"),
            pl.col(name).alias("message"),
        )

    def _output(self) -> list[pl.Expr]:
        fields = [pl.col(c.field) for c in self.columns]
        if self.kind is Kind.DEBTORS:
            fields.append(_attributes_json(self.headers.attributes).alias("attributes"))
        return [*fields, pl.lit(self.source).alias("source"), pl.col("row")]


def _attributes_json(attributes: dict[str, str]) -> pl.Expr:
    """``attr_<name>`` cells as one JSON object text, without the empty ones."""
    pairs = []
    for name, header in attributes.items():
        column = pl.col(f"__attr_{header}")
        encoded = pl.struct(column.alias(name)).struct.json_encode()
        inner = encoded.str.slice(1, encoded.str.len_chars() - 2)
        pairs.append(pl.when(column.is_not_null()).then(inner))
    if not pairs:
        return pl.lit("{}")
    body = pl.concat_str(pairs, separator=",", ignore_nulls=True)
    return pl.concat_str([pl.lit("{"), body, pl.lit("}")])
