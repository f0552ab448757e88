"""What differs between loading payments and loading credit notes: their table and columns.

Both are money that reduces open instalments (``allocation.source_kind`` 'payment' or
'credit_note'); the loader (``load_payments``) is shared and reads this spec.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
from sqlalchemy import Table

from arrears.domain.activity import Activity, CreditNoteUpdated, PaymentUpdated
from arrears.domain.columns import Kind
from arrears.domain.ledger import SourceKind
from arrears.store.schema import credit_note, payment


@dataclass(frozen=True, slots=True)
class DocumentSpec:
    kind: Kind
    table: Table
    id_field: str  # the typed frame's id column
    date_column: str  # the table's date column (the typed field is ``date``)
    source_kind: SourceKind
    updated: type[Activity]
    subject: str
    #: the table's own columns besides the common ones, as expressions over a document head
    extra: tuple[tuple[str, pl.Expr], ...]
    #: whether what explicit allocations leave is applied by the rule (else kept as credit)
    rule_after_explicit: bool


SPECS: dict[Kind, DocumentSpec] = {
    Kind.PAYMENTS: DocumentSpec(
        Kind.PAYMENTS,
        payment,
        "payment_id",
        "received_on",
        SourceKind.PAYMENT,
        PaymentUpdated,
        "payment",
        (("method", pl.col("method")), ("reference", pl.col("reference"))),
        rule_after_explicit=True,
    ),
    Kind.CREDIT_NOTES: DocumentSpec(
        Kind.CREDIT_NOTES,
        credit_note,
        "credit_note_id",
        "issued_on",
        SourceKind.CREDIT_NOTE,
        CreditNoteUpdated,
        "credit_note",
        (("invoice_id", pl.col("invoice_pk")), ("reason", pl.col("reason"))),
        rule_after_explicit=False,
    ),
}
