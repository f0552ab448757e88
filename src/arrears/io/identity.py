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
portfolio is part of every key. How keys are remembered across batches is
:mod:`arrears.io.seen`'s business.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from arrears.domain.columns import Kind

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


def key(columns: list[str]) -> pl.Expr:
    """One text key out of several columns; null if any part is null."""
    return pl.concat_str([pl.col(c).cast(pl.String) for c in columns], separator=SEPARATOR)
