"""Rules across the rows of a file: duplicate ids, the lines of one document, dates in order.

The rules themselves are described in :mod:`arrears.io.identity`. :class:`DocumentRules` applies
them to typed batches, one after the other, remembering the first row of every id it has seen, and
returns its problems as a frame of messages (one column per canonical column they concern).
"""

from __future__ import annotations

import polars as pl

from arrears.domain.columns import Kind
from arrears.io.cells import decimal_text
from arrears.io.identity import DOCUMENTS, key
from arrears.io.seen import FirstRows, RunningTotals

_NULL = "\x00"
_FIELD_SEED = 0xF1E1D


class DocumentRules:
    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self.document = DOCUMENTS[kind]
        lines = ("__has_line",) if self.document.lines_need else ()
        self._shared = (*self.document.shared, *lines)
        self._documents = FirstRows(self._shared)
        self._lines = FirstRows()
        self._allocated = RunningTotals()

    def problems(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Messages per row, in columns named after the canonical column they concern."""
        doc = self.document
        frame = frame.with_columns(
            key(["portfolio", doc.id_column]).alias("__key"),
            _has_line(doc.lines_need).alias("__has_line"),
        )
        keys = frame.select(
            pl.col("__key").alias("key"),
            "row",
            *(_fingerprint(c) for c in self.document.shared),
            *(c for c in self._shared if c == "__has_line"),
        )
        firsts = self._documents.first(keys).with_columns(
            frame.get_column(doc.id_column).alias("id")
        )
        repeated = pl.col("first_row").is_not_null() & (pl.col("row") != pl.col("first_row"))
        id_problem = self._repeat_problem(repeated)
        columns = {doc.id_column: firsts.select(id_problem.alias("p"))["p"]}
        if doc.line_columns:
            columns |= self._line_problems(frame)
        if self.kind is Kind.INVOICES:
            columns["due_date"] = frame.select(_due_before_issue())["p"]
        if self.kind is Kind.PAYMENTS:
            positions = firsts.get_column("position")
            columns |= self._allocation_problems(frame.with_columns(__position=positions))
        return pl.DataFrame(columns)

    def _repeat_problem(self, repeated: pl.Expr) -> pl.Expr:
        doc = self.document
        if not doc.line_columns:
            return pl.when(repeated).then(
                pl.format(
                    f"duplicate {doc.id_column} '{{}}': already on row {{}}; "
                    "ids must be unique in a file",
                    pl.col("id"),
                    pl.col("first_row"),
                )
            )
        differs = [
            pl.when(pl.col(c) != pl.col(f"first_{c}")).then(pl.lit(c.removesuffix("_minor")))
            for c in doc.shared
        ]
        different = pl.concat_str(differs, separator=", ", ignore_nulls=True)
        cases: list[pl.Expr] = []
        if doc.lines_need:
            unlined = ~pl.col("__has_line") | ~pl.col("first___has_line")
            cases.append(
                pl.when(unlined).then(
                    pl.format(
                        f"{doc.noun} '{{}}' is also on row {{}}: a {doc.noun} on several rows "
                        f"needs {doc.lines_need} on each row (one row per allocation)",
                        pl.col("id"),
                        pl.col("first_row"),
                    )
                )
            )
        cases.append(
            pl.when(different != "").then(
                pl.format(
                    f"{doc.noun} '{{}}' is also on row {{}} with a different {{}}: "
                    f"the rows of one {doc.noun} must agree",
                    pl.col("id"),
                    pl.col("first_row"),
                    different,
                )
            )
        )
        return pl.when(repeated).then(pl.coalesce(cases))

    def _line_problems(self, frame: pl.DataFrame) -> dict[str, pl.Series]:
        doc = self.document
        parts = ["portfolio", doc.id_column, *doc.line_columns]
        line_key = pl.concat_str(
            [pl.col(c).cast(pl.String).fill_null("") for c in parts], separator="\x1f"
        )
        has_line = pl.col("__has_line")
        keys = frame.select(
            pl.when(pl.col(doc.id_column).is_not_null() & has_line).then(line_key).alias("key"),
            "row",
        )
        firsts = self._lines.first(keys).hstack(frame.select(doc.id_column, *doc.line_columns))
        repeated = pl.col("first_row").is_not_null() & (pl.col("row") != pl.col("first_row"))
        if self.kind is Kind.INVOICES:
            message = pl.format(
                "duplicate invoice '{}' instalment {}: already on row {} (one row per instalment)",
                pl.col("invoice_id"),
                pl.col("instalment"),
                pl.col("first_row"),
            )
            target = "instalment"
        else:
            message = pl.format(
                "payment '{}' already allocates to invoice '{}' on row {}",
                pl.col("payment_id"),
                pl.col("invoice_id"),
                pl.col("first_row"),
            )
            target = "invoice_id"
        return {target: firsts.select(pl.when(repeated).then(message).alias("p"))["p"]}

    def _allocation_problems(self, frame: pl.DataFrame) -> dict[str, pl.Series]:
        totals = self._allocated.cumulative(
            frame.select(
                pl.col("__position").alias("position"),
                pl.col("allocated_amount_minor").alias("amount"),
            )
        )
        frame = frame.with_columns(totals.alias("__allocated_total"))
        no_invoice = pl.col("invoice_id").is_null()
        allocated = (
            pl.when(pl.col("allocated_amount_minor").is_not_null() & no_invoice)
            .then(pl.lit("an allocated amount needs an invoice_id to allocate to"))
            .when(pl.col("allocated_amount_minor") > pl.col("amount_minor"))
            .then(
                pl.format(
                    "{} is more than the payment's amount {}",
                    _money("allocated_amount_minor"),
                    _money("amount_minor"),
                )
            )
            .when(pl.col("__allocated_total") > pl.col("amount_minor"))
            .then(
                pl.format(
                    "the allocations of payment '{}' up to this row add up to {}, "
                    "more than its amount {}",
                    pl.col("payment_id"),
                    _money("__allocated_total"),
                    _money("amount_minor"),
                )
            )
        )
        instalment = pl.when(pl.col("instalment").is_not_null() & no_invoice).then(
            pl.lit("an instalment needs an invoice_id")
        )
        result = frame.select(allocated.alias("allocated_amount"), instalment.alias("instalment"))
        return {name: result[name] for name in result.columns}


def _money(column: str) -> pl.Expr:
    return decimal_text(pl.col(column), pl.col("__exponent"))


def _has_line(column: str | None) -> pl.Expr:
    return pl.lit(True) if column is None else pl.col(column).is_not_null()


def _fingerprint(column: str) -> pl.Expr:
    """A 32-bit hash of a field: enough to tell that two rows differ, small to remember."""
    text = pl.col(column).cast(pl.String).fill_null(_NULL)
    return (text.hash(seed=_FIELD_SEED) % (1 << 32)).cast(pl.UInt32).alias(column)


def _due_before_issue() -> pl.Expr:
    late = pl.col("issue_date") > pl.col("due_date")
    message = pl.format(
        "due date {} is before the issue date {}: check both",
        pl.col("due_date"),
        pl.col("issue_date"),
    )
    return pl.when(late).then(message).alias("p")
