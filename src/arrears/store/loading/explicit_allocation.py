"""Explicit allocations from an import file, checked and applied columnar.

A payment row may name an invoice, optionally an instalment of it, and optionally the amount to
allocate there. Rows naming an instalment are served first (from that instalment's open
balance), then rows naming only an invoice (from its instalments, oldest due first). A row
without ``allocated_amount`` takes as much as is open, up to what the payment has left after its
rows with amounts. Rows are served in payment date order, so two payments of one file that name
the same instalment share its open balance the way they would one after the other.

Problems (the payment is then not applied at all): an amount above what is open on the named
instalment or invoice, and allocations that together exceed the payment.
"""

from __future__ import annotations

import polars as pl

from arrears.domain.money import from_minor
from arrears.domain.problems import Problem
from arrears.store.ledger.payment_allocation import fill, remaining_open

ROWS_SCHEMA = {
    "source_id": pl.Int64,
    "received_on": pl.Date,
    "external_id": pl.String,
    "source": pl.String,
    "row": pl.Int64,
    "invoice_id": pl.String,  # external id, for messages
    "invoice_pk": pl.Int64,
    "seq": pl.Int64,  # null: the invoice's instalments, oldest due first
    "requested": pl.Int64,  # null: as much as is open, up to the payment
    "amount_minor": pl.Int64,  # the payment's amount
    "currency": pl.String,
}


def explicit(
    rows: pl.DataFrame, instalments: pl.DataFrame
) -> tuple[pl.DataFrame, list[Problem], list[int]]:
    """Serve ``rows`` (``ROWS_SCHEMA``) from ``instalments`` (``instalment_id``, ``invoice_pk``,
    ``seq``, ``due_date``, ``open_minor``).

    Returns the pieces (``source_id``, ``instalment_id``, ``amount``) of the payments without
    problems, the problems, and the ids of the payments with problems. A payment with a problem
    takes nothing, so the others are served again without it until no new problem appears.
    """
    fast = _all_fit(rows, instalments)
    if fast is not None:
        return fast, [], []
    problems, bad = _on_their_own(rows, instalments)
    while True:
        pieces, found = _serve(rows.filter(~pl.col("source_id").is_in(bad)), instalments)
        if not found:
            return pieces, [p for _, p in problems], bad
        # the first failing payment fails whatever comes after it; the later ones may not
        first = found[0][0]
        problems += [(s, p) for s, p in found if s == first]
        bad.append(first)


def _all_fit(rows: pl.DataFrame, instalments: pl.DataFrame) -> pl.DataFrame | None:
    """The pieces when every row names an instalment and an amount, every instalment has room
    for all the rows naming it and no payment's rows add up to more than the payment (each row
    then takes exactly its amount, whatever the order: the general path would give the same
    pieces); ``None`` otherwise, for the general path.

    This is how a bank or an ERP usually sends payments (one line per allocation, with its
    amount), and a large first load is mostly that: a handful of joins instead of the general
    path's passes."""
    if rows.height == 0 or rows["seq"].null_count() or rows["requested"].null_count():
        return None
    named = rows.join(
        instalments.select("invoice_pk", "seq", "instalment_id", "open_minor"),
        on=["invoice_pk", "seq"],
        how="left",
    )
    if named["instalment_id"].null_count():
        return None
    room = named.group_by("instalment_id").agg(
        pl.col("requested").sum() <= pl.col("open_minor").first()
    )
    within = named.group_by("source_id").agg(
        pl.col("requested").sum() <= pl.col("amount_minor").first()
    )
    if not (room["requested"].all() and within["requested"].all()):
        return None
    return named.select("source_id", "instalment_id", pl.col("requested").alias("amount"))


def _on_their_own(
    rows: pl.DataFrame, instalments: pl.DataFrame
) -> tuple[list[tuple[int, Problem]], list[int]]:
    """Problems a payment has whatever the other payments do (checked against the open
    balances before any of them)."""
    per_instalment = instalments.select("invoice_pk", "seq", pl.col("open_minor").alias("_o1"))
    per_invoice = instalments.group_by("invoice_pk").agg(pl.col("open_minor").sum().alias("_o2"))
    checked = (
        rows.join(per_instalment, on=["invoice_pk", "seq"], how="left")
        .join(per_invoice, on="invoice_pk", how="left")
        .with_columns(
            pl.when(pl.col("seq").is_null())
            .then(pl.col("_o2"))
            .otherwise(pl.col("_o1"))
            .fill_null(0)
            .alias("_open")
        )
        .with_columns(
            # a row without an amount takes what its payment has left: never a problem here
            pl.when(pl.col("requested").is_null())
            .then(0)
            .otherwise(pl.min_horizontal("requested", "_open"))
            .alias("filled"),
            pl.lit(0, pl.Int64).alias("_k"),
        )
    )
    problems = _problems(checked)
    return problems, sorted({s for s, _ in problems})


def _serve(
    rows: pl.DataFrame, instalments: pl.DataFrame
) -> tuple[pl.DataFrame, list[tuple[int, Problem]]]:
    """One pass of ``explicit``."""
    rows = (
        rows.sort("received_on", "external_id", "row")
        .with_row_index("_k")
        .with_columns(pl.col("_k").cast(pl.Int64))
    )
    given = pl.col("requested").fill_null(0).sum().over("source_id")
    rows = rows.with_columns(
        pl.coalesce("requested", pl.max_horizontal(pl.col("amount_minor") - given, 0)).alias(
            "amount"
        )
    )
    named = rows.filter(pl.col("seq").is_not_null()).join(
        instalments.select("invoice_pk", "seq", "instalment_id"),
        on=["invoice_pk", "seq"],
        how="left",
    )
    pieces_a = fill(
        named.select(pl.col("instalment_id").alias("g"), pl.col("_k"), "amount"),
        instalments.select(
            pl.col("instalment_id").alias("g"),
            "instalment_id",
            pl.col("open_minor").alias("amount"),
        ),
        ["g"],
        demand="_k",
        capacity="instalment_id",
    )
    left = remaining_open(instalments, pieces_a).sort("invoice_pk", "due_date", "seq")
    pieces_b = fill(
        rows.filter(pl.col("seq").is_null()).select(
            pl.col("invoice_pk").alias("g"), "_k", "amount"
        ),
        left.select(
            pl.col("invoice_pk").alias("g"), "instalment_id", pl.col("open_minor").alias("amount")
        ),
        ["g"],
        demand="_k",
        capacity="instalment_id",
    )
    pieces = _capped(rows, pl.concat([pieces_a, pieces_b]))
    filled = pieces.group_by("_k").agg(pl.col("amount").sum().alias("filled"))
    rows = rows.join(filled, on="_k", how="left").with_columns(pl.col("filled").fill_null(0))
    problems = _problems(rows)
    kept = pieces.join(rows.select("_k", "source_id"), on="_k")
    return kept.select("source_id", "instalment_id", "amount"), problems


def _capped(rows: pl.DataFrame, pieces: pl.DataFrame) -> pl.DataFrame:
    """Rows without an amount take no more than their payment has left, in row order."""
    filled = pieces.group_by("_k").agg(pl.col("amount").sum().alias("_f"))
    caps = (
        rows.join(filled, on="_k", how="left")
        .with_columns(pl.col("_f").fill_null(0))
        .sort("_k")
        .with_columns((pl.col("_f").cum_sum().over("source_id") - pl.col("_f")).alias("_before"))
        .select(
            "_k",
            pl.when(pl.col("requested").is_null())
            .then(pl.max_horizontal(pl.col("amount_minor") - pl.col("_before"), 0))
            .otherwise(pl.col("requested"))
            .alias("_cap"),
        )
    )
    cum = pl.col("amount").cum_sum().over("_k")
    return (
        pieces.join(caps, on="_k")
        .with_columns(
            pl.max_horizontal(
                pl.min_horizontal(cum, pl.col("_cap")) - (cum - pl.col("amount")), 0
            ).alias("amount")
        )
        .filter(pl.col("amount") > 0)
        .drop("_cap")
    )


def _money(minor: int, currency: str) -> str:
    return f"{from_minor(minor, currency)} {currency}"


def _problems(rows: pl.DataFrame) -> list[tuple[int, Problem]]:
    """(payment id, problem) pairs, in the order the payments are served."""
    problems = []
    short = rows.filter(
        pl.col("requested").is_not_null() & (pl.col("filled") < pl.col("requested"))
    )
    for r in short.iter_rows(named=True):
        where = f"invoice '{r['invoice_id']}'" + (
            "" if r["seq"] is None else f" instalment {r['seq']}"
        )
        problems.append(
            (
                r["_k"],
                r["source_id"],
                Problem(
                    r["source"],
                    r["row"],
                    "allocated_amount",
                    f"allocation of {_money(r['requested'], r['currency'])} to {where} exceeds its "
                    f"open balance ({_money(r['filled'], r['currency'])} open)",
                ),
            )
        )
    totals = _totals(rows).filter(pl.col("total") > pl.col("amount_minor"))
    for r in totals.iter_rows(named=True):
        problems.append(
            (
                r["_k"],
                r["source_id"],
                Problem(
                    r["source"],
                    r["row"],
                    "allocated_amount",
                    f"allocations of payment '{r['external_id']}' "
                    f"({_money(r['total'], r['currency'])}) "
                    f"exceed its amount ({_money(r['amount_minor'], r['currency'])})",
                ),
            )
        )
    return [(source, problem) for _, source, problem in sorted(problems, key=lambda t: t[0])]


def _totals(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.group_by("source_id").agg(
        pl.col("requested").fill_null(pl.col("filled")).sum().alias("total"),
        pl.col("amount_minor", "external_id", "currency", "source", "row").first(),
        pl.col("_k").min(),
    )
