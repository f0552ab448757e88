"""Writing the ledger back out: :func:`export_ledger`, CSV or Parquet by the file's extension.

The columns are the canonical ones the importer reads, so an export imports back unchanged
(extra columns such as ``open_amount`` or ``status`` are informative and ignored on import).
Amounts are exact decimal text with ``.`` in the row's currency; one row per invoice instalment,
one row per payment allocation line (a payment without allocations has one row); a debtor's
attributes come out as ``attr_<name>`` columns.

In CSV, a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is
prefixed with ``'`` so that a spreadsheet shows it instead of running it as a formula (OWASP CSV
injection); the importer removes that quote again. Amounts, dates and numbers are never escaped.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from sqlalchemy import Engine, select

from arrears.domain.columns import ATTRIBUTE_PREFIX, Kind
from arrears.domain.money import exponent, is_currency
from arrears.domain.problems import Problem, ProblemsFound
from arrears.io.cells import decimal_text, escape_formulas
from arrears.io.ledger_queries import QUERIES, for_portfolio
from arrears.store.schema import portfolio as portfolio_table

FORMATS = (".csv", ".parquet")


def export_ledger(engine: Engine, kind: Kind, out: Path, portfolio: str | None = None) -> int:
    """Write every ``kind`` record (of ``portfolio``, or of all portfolios) to ``out``; returns
    the number of rows written. Raises :class:`ProblemsFound` for an unknown portfolio or an
    extension other than ``.csv`` and ``.parquet``."""
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise ProblemsFound([Problem(str(out), None, None, "export to a .csv or .parquet file")])
    with engine.connect() as conn:
        if portfolio is not None:
            found = conn.execute(
                select(portfolio_table.c.id).where(portfolio_table.c.code == portfolio)
            ).first()
            if found is None:
                raise ProblemsFound(
                    [Problem(str(out), None, None, f"there is no portfolio {portfolio!r}")]
                )
        query = for_portfolio(QUERIES[kind](), portfolio)
        frame = pl.read_database(query, connection=conn, infer_schema_length=None)
        assert isinstance(frame, pl.DataFrame)
    frame = ledger_frame(kind, frame)
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        escaped(frame).write_csv(out)
    else:
        frame.write_parquet(out)
    return frame.height


def ledger_frame(kind: Kind, frame: pl.DataFrame) -> pl.DataFrame:
    """The query's rows as the file's columns: amounts as decimal text, lists and JSON spread."""
    frame = frame.with_columns(pl.col(pl.Null).cast(pl.String))
    frame = _amounts(frame)
    if kind is Kind.DEBTORS:
        frame = _debtor_columns(frame)
    return frame


def _amounts(frame: pl.DataFrame) -> pl.DataFrame:
    currencies = frame.get_column("currency").unique().drop_nulls().to_list()
    exponents = {c: exponent(c) for c in currencies if is_currency(c)}
    exp = pl.col("currency").replace_strict(exponents, default=None, return_dtype=pl.Int64)
    minors = [c for c in frame.columns if c.endswith("_minor")]
    return frame.with_columns(
        decimal_text(pl.col(c).cast(pl.Int64), exp).alias(c.removesuffix("_minor")) for c in minors
    ).select(c.removesuffix("_minor") for c in frame.columns)


def _debtor_columns(frame: pl.DataFrame) -> pl.DataFrame:
    tags = pl.col("tags").fill_null("[]").str.json_decode(pl.List(pl.String)).list.join(";")
    attributes = _attributes(frame.get_column("attributes"))
    segment = attributes.pop("segment", pl.Series("segment", [None] * frame.height, pl.String))
    frame = frame.with_columns(tags.alias("tags"))
    at = frame.columns.index("portfolio")
    frame = frame.drop("attributes").insert_column(at, segment.alias("segment"))
    return frame.with_columns(
        series.alias(f"{ATTRIBUTE_PREFIX}{name}") for name, series in sorted(attributes.items())
    )


def _attributes(texts: pl.Series) -> dict[str, pl.Series]:
    """The debtors' attributes, one text series per attribute name (decoded once per distinct
    JSON text)."""
    distinct = texts.drop_nulls().unique().to_list()
    decoded = [json.loads(text) for text in distinct]
    names = sorted({name for values in decoded for name in values})
    if not names:
        return {}
    table = pl.DataFrame(
        {"__text": distinct, **{n: [_text(values.get(n)) for values in decoded] for n in names}},
        schema={"__text": pl.String, **dict.fromkeys(names, pl.String)},
    )
    joined = (
        texts.alias("__text").to_frame().join(table, on="__text", how="left", maintain_order="left")
    )
    return {name: joined.get_column(name) for name in names}


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def escaped(frame: pl.DataFrame) -> pl.DataFrame:
    """Text cells made safe to open in a spreadsheet; amounts (decimal text) stay as they are."""
    amounts = {"amount", "credit_limit", "allocated_amount", "open_amount", "unallocated_amount"}
    text = [c for c, dtype in frame.schema.items() if dtype == pl.String and c not in amounts]
    return frame.with_columns(escape_formulas(pl.col(c)).alias(c) for c in text)
