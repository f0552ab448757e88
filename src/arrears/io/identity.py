"""Ids that must be unique within a file, across all of its batches.

A file is a set of *documents*, each on one row or on several *lines*:

- debtors and credit notes: one row per id; a second row with the same id is a duplicate;
- invoices: one row per instalment; the rows of one invoice id must have different instalment
  numbers and agree on the invoice's own fields (debtor, issue date, currency, number...);
- payments: one row, or one row per allocation line; every line of a payment names an
  ``invoice_id``, lines allocate to different (invoice, instalment) pairs, and all of them agree on
  the payment's own fields (debtor, date, amount, currency, method, reference).

The *first* row of a document is the reference; later rows that break a rule get the problem
(rows already handed to the loader are never taken back). Ids are per portfolio, so the
portfolio is part of every key.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from arrears.io.columns import Kind

SEPARATOR = "\x1f"


@dataclass(frozen=True, slots=True)
class Document:
    id_column: str
    noun: str
    #: Columns that tell lines of one document apart (none: one row per document).
    line_columns: tuple[str, ...] = ()
    #: The document's own fields, which all its lines must repeat identically.
    shared: tuple[str, ...] = ()
    #: Each line must name an invoice (payments' allocation lines).
    lines_need: str | None = None


DOCUMENTS = {
    Kind.DEBTORS: Document("debtor_id", "debtor"),
    Kind.CREDIT_NOTES: Document("credit_note_id", "credit note"),
    Kind.INVOICES: Document(
        "invoice_id",
        "invoice",
        ("instalment",),
        ("debtor_id", "issue_date", "currency", "number", "disputed", "reference"),
    ),
    Kind.PAYMENTS: Document(
        "payment_id",
        "payment",
        ("invoice_id", "instalment"),
        ("debtor_id", "date", "amount_minor", "currency", "method", "reference"),
        lines_need="invoice_id",
    ),
}


class FirstRows:
    """The first row of each key seen so far in a file, with some text values of that row."""

    def __init__(self, extras: tuple[str, ...] = ()) -> None:
        schema = {"key": pl.String, "first_row": pl.Int64}
        schema |= {f"first_{e}": pl.String for e in extras}
        self._seen = pl.DataFrame(schema=schema)
        self._extras = extras

    def first(self, keys: pl.DataFrame) -> pl.DataFrame:
        """``keys`` (``key``, ``row``, extras) with ``first_row`` and ``first_<extra>`` added."""
        firsts = (
            keys.filter(pl.col("key").is_not_null())
            .group_by("key", maintain_order=True)
            .first()
            .select("key", pl.col("row").alias("first_row"), *_firsts(self._extras))
        )
        new = firsts.join(self._seen.select("key"), on="key", how="anti")
        self._seen = pl.concat([self._seen, new], rechunk=False)
        if self._seen.n_chunks() > 64:
            self._seen = self._seen.rechunk()
        return keys.join(self._seen, on="key", how="left", maintain_order="left")


def _firsts(extras: tuple[str, ...]) -> list[pl.Expr]:
    return [pl.col(e).alias(f"first_{e}") for e in extras]


class RunningTotals:
    """Running sum of an amount per key across the batches of a file."""

    def __init__(self) -> None:
        self._totals = pl.DataFrame(schema={"key": pl.String, "before": pl.Int64})

    def cumulative(self, frame: pl.DataFrame) -> pl.Series:
        """Per row of ``frame`` (``key``, ``amount``): the key's total up to and including it."""
        joined = frame.join(self._totals, on="key", how="left", maintain_order="left")
        running = pl.col("before").fill_null(0) + pl.col("amount").fill_null(0).cum_sum().over(
            "key"
        )
        result = joined.select(running.alias("total"))["total"]
        batch = frame.group_by("key").agg(pl.col("amount").fill_null(0).sum().alias("before"))
        self._totals = (
            pl.concat([self._totals, batch.filter(pl.col("key").is_not_null())])
            .group_by("key")
            .agg(pl.col("before").sum())
        )
        return result


def key(columns: list[str]) -> pl.Expr:
    """One text key out of several columns; null if any part is null."""
    return pl.concat_str([pl.col(c).cast(pl.String) for c in columns], separator=SEPARATOR)
